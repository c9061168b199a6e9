package io.github.cogvideox4j.data;

import java.util.List;

/**
 * Chooses the {@link Bucket} of one clip and the source frames it keeps.
 *
 * <p>The factories reproduce, case for case, the rules of the reference Python trainers (so users can bring their
 * dataset configs along; see {@code docs/data-buckets.md}), and {@link #defaults(List)} is our own rule. Where a
 * reference raises, {@link #assign} throws {@link IllegalArgumentException} with a message saying why.
 * Bucket sizes are not checked against a model here (the reference configs include latent-scaled sizes); use
 * {@link FrameRule} where a bucket set meets a model.
 *
 * <p>Thread safety: every implementation in this package is immutable and thread-safe.
 */
public interface BucketRule {

    /**
     * Assigns one clip (an image is a clip of one frame).
     *
     * @param numFrames frames in the clip, positive
     * @param height frame height in pixels, positive
     * @param width frame width in pixels, positive
     * @return the bucket and frame indices
     * @throws IllegalArgumentException if a size is not positive, or where the reference rule rejects the clip
     */
    BucketAssignment assign(int numFrames, int height, int width);

    /**
     * The bucket alone ({@code assign(...).bucket()}); rules may answer without building the frame indices (our
     * default rule allocates nothing here).
     *
     * @param numFrames frames in the clip, positive
     * @param height frame height in pixels, positive
     * @param width frame width in pixels, positive
     * @return the bucket
     * @throws IllegalArgumentException as {@link #assign}
     */
    default Bucket bucketOf(int numFrames, int height, int width) {
        return assign(numFrames, height, width).bucket();
    }

    /**
     * finetrainers ({@code find_nearest_video_resolution}): the largest bucket frame count {@code <= numFrames} (else
     * the nearest, first in list order), then among the buckets of that frame count the nearest aspect ratio
     * {@code width/height}, ties to the larger height then width; frames {@code floor(i*(n-1)/(T-1))} when the clip is
     * longer, all frames otherwise (a shorter clip keeps its {@code n < T} frames). Images: buckets of one frame.
     *
     * @param buckets the {@code video_resolution_buckets}, in config order; not empty
     * @return the rule
     */
    static BucketRule finetrainers(List<Bucket> buckets) {
        return new FinetrainersRule(buckets);
    }

    /**
     * cogvideox-factory ({@code VideoDatasetWithResizing}): frame bucket {@code F} nearest to
     * {@code min(numFrames, maxNumFrames)} (first in list order on ties), frames {@code range(0, n, n // F)[:F]}
     * (rejected when {@code F > n}, where Python raises "range() arg 3 must not be zero"); size = L1-nearest
     * {@code (h, w)} over heights x widths, ties to the smaller height then width.
     *
     * @param frameBuckets {@code --frame_buckets}, not empty
     * @param heightBuckets {@code --height_buckets}, not empty
     * @param widthBuckets {@code --width_buckets}, not empty
     * @param maxNumFrames {@code --max_num_frames}, positive
     * @return the rule
     */
    static BucketRule cogvideoxFactory(List<Integer> frameBuckets, List<Integer> heightBuckets,
            List<Integer> widthBuckets, int maxNumFrames) {
        return new FactoryRule(frameBuckets, heightBuckets, widthBuckets, maxNumFrames);
    }

    /**
     * CogVideo {@code finetune/datasets/utils.py preprocess_video_with_buckets}: the buckets with
     * {@code frames <= numFrames} (none: rejected), the largest such frame count {@code F}, frames
     * {@code range(0, n, n // F)[:F]}, and the L1-nearest {@code (h, w)} over all those buckets (first in list order on
     * ties; it may come from a bucket with another frame count).
     *
     * @param buckets the resolution buckets, in config order; not empty
     * @return the rule
     */
    static BucketRule cogvideo(List<Bucket> buckets) {
        return new CogVideoRule(buckets);
    }

    /**
     * The community CogVideoX1.5 I2V LoRA trainer (Passenger12138): stride sampling of the dataset, the token-budget
     * frame rule, the 42-entry {@code ASPECT_RATIO_512} table rounded down to multiples of 16, and the odd-latent trim.
     *
     * @param config the trainer's arguments
     * @return the rule (its {@link Community15Rule#assign(int, int, int, int, int)} takes the reference's random
     *     choices as arguments)
     */
    static Community15Rule community15(Community15Config config) {
        return new Community15Rule(config);
    }

    /**
     * Our default rule (see {@link DefaultBucketRule}): never upscales, never takes more frames than the clip has,
     * nearest aspect among the buckets that fit, deterministic ties, uniform frame stride.
     *
     * @param buckets the buckets, in any order; not empty
     * @return the rule
     */
    static BucketRule defaults(List<Bucket> buckets) {
        return new DefaultBucketRule(buckets, null);
    }

    /**
     * Our default rule over buckets checked against a model's frame rules: every bucket must satisfy
     * {@code frameRule} (4k+1 frames, sides multiple of 16) and assignments are passed through
     * {@link FrameRule#apply(BucketAssignment)} (the 1.5 odd-latent trim when so configured).
     *
     * @param buckets the buckets, in any order; not empty
     * @param frameRule the model's frame rules
     * @return the rule
     * @throws IllegalArgumentException naming the first bucket that breaks the frame rules
     */
    static BucketRule defaults(List<Bucket> buckets, FrameRule frameRule) {
        frameRule.checkBuckets(buckets);
        return new DefaultBucketRule(buckets, frameRule);
    }
}
