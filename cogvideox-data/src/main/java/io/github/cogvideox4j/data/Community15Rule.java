package io.github.cogvideox4j.data;

import com.google.common.base.Preconditions;
import java.util.Arrays;
import java.util.random.RandomGenerator;

/**
 * The community CogVideoX1.5 I2V LoRA trainer's bucketing (Passenger12138/CogVideoX-5B-I2V-v1.5-lora-train e1d2049:
 * {@code ImageVideoDataset.get_batch}, {@code get_length_to_frame_num}, {@code collate_fn}, {@code ASPECT_RATIO_512}),
 * for one video:
 * <ol>
 *   <li>dataset: {@code m = min(n_frames, int(n * (drop_end - drop_start) // stride))} frames (0: rejected, "No Frames
 *       in video"), a clip of {@code min(len, (m-1)*stride + 1)} source frames at a random start, {@code m} indices
 *       spread evenly over it (exact integer form of {@code np.linspace(..., dtype=int)}), frames pre-resized so the
 *       short side is at most {@code max(image, video)} sample size;</li>
 *   <li>collate (token mode): a size {@code s} chosen at random among the candidate sizes below 1.25x the mean side,
 *       the token-budget frame count {@code min(budget / s / s, n_frames) // 4 * 4 + 1}; otherwise {@code s = video}
 *       and {@code n_frames + 4} frames;</li>
 *   <li>bucket: the {@code ASPECT_RATIO_512} entry nearest to {@code h/w}, scaled by {@code s/512}, each side rounded
 *       DOWN to a multiple of 16 (truncation: the aspect drifts);</li>
 *   <li>frames: {@code L = min(budget frames, m)} cut to 4k+1, minus 4 when the latent count is not a multiple of
 *       {@code patch_size_t} (49 -> 45), at least 1; the first ones are kept.</li>
 * </ol>
 * The reference's two random choices (size and clip start) are arguments of
 * {@link #assign(int, int, int, int, int)}; {@link #assign(int, int, int)} takes the first candidate size and the
 * earliest start. The reference's collate only works for batches of one (it fails with an {@code AttributeError} for
 * more); here every clip is assigned on its own. Images are not handled by this rule.
 *
 * <p>Thread safety: immutable.
 */
public final class Community15Rule implements BucketRule {
    private final Community15Config config;
    private final int[] sampleSizes;

    Community15Rule(Community15Config config) {
        this.config = Preconditions.checkNotNull(config, "config");
        this.sampleSizes = computeSampleSizes(config);
    }

    private static int[] computeSampleSizes(Community15Config c) {
        if (!c.tokenMode()) {
            return new int[] {c.videoSampleSize()};
        }
        if (c.imageSampleSize() <= c.videoSampleSize()) {
            return new int[] {c.imageSampleSize()};
        }
        int[] sizes = java.util.stream.IntStream.iterate(c.videoSampleSize(), s -> s <= c.imageSampleSize(), s -> s + 128)
                .toArray();
        if (sizes[sizes.length - 1] != c.imageSampleSize()) {
            sizes = Arrays.copyOf(sizes, sizes.length + 1);
            sizes[sizes.length - 1] = c.imageSampleSize();
        }
        return sizes;
    }

    /** @return the trainer arguments */
    public Community15Config config() {
        return config;
    }

    /** @return the candidate sizes of token mode ({@code sample_sizes}; just the video size otherwise), a new array */
    public int[] sampleSizes() {
        return sampleSizes.clone();
    }

    /**
     * The token-budget frame rule ({@code get_length_to_frame_num}):
     * {@code min(n_frames * token^2 / s / s, n_frames) // 4 * 4 + 1}, e.g. 512 -> 49, 640 -> 29, ... 1280 -> 5 with
     * the finetune script's arguments.
     *
     * @param size a candidate size, positive
     * @return the pixel frame count for that size
     */
    public int tokenBudgetFrames(int size) {
        Preconditions.checkArgument(size > 0, "size must be positive, got %s", size);
        return (int) tokenBudgetFramesExact(size);
    }

    double tokenBudgetFramesExact(int size) {
        long budget = (long) config.videoSampleNFrames() * config.tokenSampleSize() * config.tokenSampleSize();
        double x = (double) budget / size / size;
        double m = config.videoSampleNFrames() < x ? config.videoSampleNFrames() : x;
        return PythonMath.floorDiv(m, 4.0) * 4 + 1;
    }

    @Override
    public BucketAssignment assign(int numFrames, int height, int width) {
        return assign(numFrames, height, width, 0, 0);
    }

    /**
     * Assigns with the reference's random choices drawn from {@code rng} (size: uniform over the candidates; clip
     * start: uniform over the valid starts).
     *
     * @param numFrames frames in the video, positive
     * @param height frame height, positive
     * @param width frame width, positive
     * @param rng the random source (advanced by two draws)
     * @return the bucket and frame indices
     * @throws IllegalArgumentException as {@link #assign(int, int, int, int, int)}
     */
    public BucketAssignment assign(int numFrames, int height, int width, RandomGenerator rng) {
        int sizeChoice = rng.nextInt(Integer.MAX_VALUE);
        Trace probe = trace(numFrames, height, width, 0, 0);
        int startOffset = rng.nextInt(probe.startHi() - probe.startLo() + 1);
        return assign(numFrames, height, width, sizeChoice, startOffset);
    }

    /**
     * Assigns with explicit choices for the reference's two random draws.
     *
     * @param numFrames frames in the video, positive
     * @param height frame height, positive
     * @param width frame width, positive
     * @param sizeChoice picks {@code choice_list[sizeChoice % len]} (stands for {@code rng.choice}); non-negative;
     *     ignored outside token mode
     * @param clipStartOffset clip start minus its smallest valid value ({@code random.randint}), in
     *     {@code [0, len - clip]}
     * @return the bucket ({@code frames x height x width} after the trim and the crop) and the source frames
     * @throws IllegalArgumentException if a size is not positive, the video yields no frames, the offset is out of
     *     range, or the bucket would be empty
     */
    public BucketAssignment assign(int numFrames, int height, int width, int sizeChoice, int clipStartOffset) {
        Trace t = trace(numFrames, height, width, sizeChoice, clipStartOffset);
        return t.assignment();
    }

    /** Every intermediate value of the reference, for tests and diagnostics. */
    record Trace(int numSampled, int startLo, int startHi, int clipLength, int resizedHeight, int resizedWidth,
            int[] choiceList, int chosenSize, double downsampleRatio, double batchVideoLength, String ratioKey,
            double[] closestSizeFloat, int[] closestSize, int[] resizeSize, int numFrames, int latentFrames,
            BucketAssignment assignment) {
    }

    Trace trace(int numFrames, int height, int width, int sizeChoice, int clipStartOffset) {
        // a 0-frame video is an input the reference sees (an empty file): it raises "No Frames in video." below
        RuleChecks.checkClip(Math.max(numFrames, 1), height, width);
        Preconditions.checkArgument(numFrames >= 0, "numFrames must be non-negative, got %s", numFrames);
        Preconditions.checkArgument(sizeChoice >= 0, "sizeChoice must be non-negative, got %s", sizeChoice);
        Community15Config c = config;
        // dataset: get_batch
        double span = numFrames * (c.videoLengthDropEnd() - c.videoLengthDropStart());
        int m = (int) Math.min(c.videoSampleNFrames(), PythonMath.floorDiv(span, c.videoSampleStride()));
        if (m <= 0) {
            throw new IllegalArgumentException(String.format(
                    "community 1.5 rule: a %d-frame video at stride %d yields no frames (the reference raises"
                            + " 'No Frames in video.')", numFrames, c.videoSampleStride()));
        }
        int videoLength = (int) (c.videoLengthDropEnd() * numFrames);
        int clip = (int) Math.min(videoLength, (long) (m - 1) * c.videoSampleStride() + 1);
        int lo = videoLength != clip ? (int) (c.videoLengthDropStart() * videoLength) : 0;
        int hi = videoLength - clip;
        Preconditions.checkArgument(lo <= hi, "community 1.5 rule: no valid clip start in [%s, %s]", lo, hi);
        Preconditions.checkArgument(clipStartOffset >= 0 && clipStartOffset <= hi - lo,
                "clipStartOffset %s out of [0, %s]", clipStartOffset, hi - lo);
        int start = lo + clipStartOffset;
        int big = Math.max(c.imageSampleSize(), c.videoSampleSize());
        int h = height;
        int w = width;
        if (h < w) {
            if (big <= h) {
                w = (int) ((double) ((long) big * w) / h);
                h = big;
            }
        } else if (big <= w) {
            h = (int) ((double) ((long) big * h) / w);
            w = big;
        }
        // collate
        int[] choiceList = null;
        int chosen = 0;
        double rdr;
        double bvl;
        if (c.tokenMode()) {
            double limit = (h + w) / 2.0 * 1.25;
            choiceList = Arrays.stream(sampleSizes).filter(s -> s < limit).toArray();
            if (choiceList.length == 0) {
                choiceList = sampleSizes.clone();
            }
            chosen = choiceList[sizeChoice % choiceList.length];
            rdr = (double) c.videoSampleSize() / chosen;
            bvl = tokenBudgetFramesExact(chosen);
        } else {
            rdr = 1;
            bvl = c.videoSampleNFrames() + 4;
        }
        AspectRatio512.Entry entry = AspectRatio512.closest(h, w);
        double[] sizeFloat = {
            entry.height() / 512.0 * c.videoSampleSize() / rdr, entry.width() / 512.0 * c.videoSampleSize() / rdr};
        int[] size = {(int) (sizeFloat[0] / 16) * 16, (int) (sizeFloat[1] / 16) * 16};
        if (size[0] <= 0 || size[1] <= 0) {
            throw new IllegalArgumentException(String.format(
                    "community 1.5 rule: bucket %sx%s rounds to an empty size", sizeFloat[0], sizeFloat[1]));
        }
        int[] resize = (double) size[0] / h > (double) size[1] / w
                ? new int[] {size[0], (int) ((double) ((long) w * size[0]) / h)}
                : new int[] {(int) ((double) ((long) h * size[1]) / w), size[1]};
        int length = (int) Math.min(bvl, m);
        int latent = Math.floorDiv(length - 1, 4) + 1;
        int kept = Math.floorDiv(length - 1, 4) * 4 + 1;
        if (c.patchSizeT() > 0 && latent % c.patchSizeT() != 0) {
            kept -= (latent % c.patchSizeT()) * 4;
        }
        if (kept <= 0) {
            kept = 1;
        }
        Bucket bucket = new Bucket(kept, size[0], size[1]);
        BucketAssignment sampled = BucketAssignment.evenlySpaced(bucket, start, start + clip - 1, m);
        BucketAssignment assignment = sampled.firstFrames(bucket, kept);
        return new Trace(m, lo, hi, clip, h, w, choiceList, chosen, rdr, bvl, entry.key(), sizeFloat, size, resize,
                kept, (kept - 1) / 4 + 1, assignment);
    }

    @Override
    public String toString() {
        return "BucketRule.community15[" + config + "]";
    }
}
