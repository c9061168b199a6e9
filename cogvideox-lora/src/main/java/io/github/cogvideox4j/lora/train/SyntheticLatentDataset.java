package io.github.cogvideox4j.lora.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import com.google.common.base.Preconditions;
import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.data.Bucket;
import io.github.cogvideox4j.data.BucketedSample;
import io.github.cogvideox4j.data.loader.SampleSource;
import io.github.cogvideox4j.data.loader.TrainingSample;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;

/**
 * A learnable synthetic latent dataset for demos and tests: no VAE, no T5, no files. Each sample belongs to one of a
 * few classes; its "prompt embedding" is the class's fixed random vector and its latents are a class-specific moving
 * wave pattern (per-channel phase, spatial and temporal frequency) plus a little per-sample noise, so a model that
 * reads the prompt can learn to denoise them and the loss falls. Buckets are given in latent units (frames, height,
 * width); samples are spread evenly over them.
 *
 * <p>Thread safety: immutable; {@link #load} may be called from the loader's thread.
 */
public final class SyntheticLatentDataset implements SampleSource {
    private final CogVideoXConfig config;
    private final List<Bucket> buckets;
    private final int samples;
    private final int classes;
    private final long seed;
    private final float[][] prompts;

    /**
     * @param config the model config (channels, text length and width, I2V or not)
     * @param latentBuckets buckets in latent units: frames, height, width (height and width multiples of the patch)
     * @param samples the number of samples
     * @param classes the number of prompt classes
     * @param seed the seed of the class prompts and patterns
     */
    public SyntheticLatentDataset(CogVideoXConfig config, List<Bucket> latentBuckets, int samples, int classes,
            long seed) {
        Preconditions.checkArgument(!latentBuckets.isEmpty() && samples >= latentBuckets.size() && classes > 0,
                "need buckets, at least one sample per bucket and a class");
        for (Bucket b : latentBuckets) {
            Preconditions.checkArgument(b.height() % config.patchSize() == 0 && b.width() % config.patchSize() == 0,
                    "bucket %s: latent height and width must be multiples of patch_size %s", b, config.patchSize());
        }
        this.config = config;
        this.buckets = List.copyOf(latentBuckets);
        this.samples = samples;
        this.classes = classes;
        this.seed = seed;
        this.prompts = new float[classes][];
        SplittableRandom r = new SplittableRandom(seed);
        for (int k = 0; k < classes; k++) {
            prompts[k] = new float[config.maxTextSeqLength() * config.textEmbedDim()];
            for (int i = 0; i < prompts[k].length; i++) {
                prompts[k][i] = (float) r.nextGaussian();
            }
        }
    }

    /** @return every sample with its bucket, for a {@link io.github.cogvideox4j.data.BucketSampler} */
    public List<BucketedSample> samples() {
        List<BucketedSample> out = new ArrayList<>(samples);
        for (int i = 0; i < samples; i++) {
            out.add(BucketedSample.video(i, buckets.get(i % buckets.size())));
        }
        return out;
    }

    @Override
    public TrainingSample load(int index, long stepSeed, NDManager manager) {
        Preconditions.checkElementIndex(index, samples, "sample index");
        Bucket b = buckets.get(index % buckets.size());
        int k = (index / buckets.size()) % classes;
        int f = b.frames(), c = config.outChannels(), h = b.height(), w = b.width();
        SplittableRandom classRandom = new SplittableRandom(seed * 31 + k);
        double fx = 1 + classRandom.nextInt(3);
        double fy = 1 + classRandom.nextInt(3);
        double ft = 0.25 + 0.5 * classRandom.nextDouble();
        double phase = 2 * Math.PI * classRandom.nextDouble();
        SplittableRandom sampleRandom = new SplittableRandom(seed ^ (0x9E3779B97F4A7C15L * (index + 1)));
        float[] x = new float[f * c * h * w];
        int i = 0;
        for (int t = 0; t < f; t++) {
            for (int ch = 0; ch < c; ch++) {
                double channelPhase = phase + ch * 2 * Math.PI / c;
                for (int y = 0; y < h; y++) {
                    for (int z = 0; z < w; z++) {
                        double a = 2 * Math.PI * (fx * z / w + fy * y / h) + ft * t + channelPhase;
                        x[i++] = (float) (Math.sin(a) + 0.05 * sampleRandom.nextGaussian());
                    }
                }
            }
        }
        NDArray latents = EngineArrays.create(manager, x, new Shape(f, c, h, w));         // [F, C, h, w]
        NDArray prompt = EngineArrays.create(manager, prompts[k],
                new Shape(config.maxTextSeqLength(), config.textEmbedDim()));                // [L, D]
        Optional<NDArray> image = config.isImageToVideo()
                ? Optional.of(latents.get(new NDIndex("0:1")))                               // [1, C, h, w]
                : Optional.empty();
        return new TrainingSample(index, describe(index), latents, prompt, image);
    }

    @Override
    public String describe(int index) {
        return "synthetic sample " + index + " (bucket " + buckets.get(index % buckets.size()) + ")";
    }
}
