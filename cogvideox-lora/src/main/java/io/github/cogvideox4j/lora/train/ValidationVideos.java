package io.github.cogvideox4j.lora.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import com.google.common.base.Preconditions;
import io.github.cogvideox4j.core.pipeline.CogVideoXPipeline;
import io.github.cogvideox4j.core.pipeline.CogVideoXSampler;
import io.github.cogvideox4j.core.pipeline.GenerationRequest;
import io.github.cogvideox4j.core.pipeline.StepListener;
import io.github.cogvideox4j.data.media.ContactSheet;
import io.github.cogvideox4j.data.media.VideoWriter;
import io.github.cogvideox4j.lora.NoGrad;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Validation videos during training: samples the model in its current state through a {@link CogVideoXPipeline}
 * (typically a view, {@link CogVideoXPipeline#of}, over the transformer being fine-tuned) at fixed prompts, seeds,
 * size, frame count and step count, and writes for prompt {@code k} (0-based)
 * {@code <outputDir>/validation/step-<step>/prompt-<k>.mp4} ({@link VideoWriter}) and {@code prompt-<k>.png} (a
 * {@link ContactSheet} of all frames). Prompt {@code k} always uses seed {@code seed + k}, so videos of different
 * steps differ only by what training changed.
 *
 * <p>Sampling runs with PyTorch grad mode off ({@link NoGrad}), so it records no autograd graph even while the
 * trainable weights require gradients. Generated tensors live in a manager closed before {@link #run} returns.
 * Text-to-video pipelines only.
 *
 * <p>Use it from a run with {@link TrainingRun.Builder#validationVideos(ValidationVideos, long)}, or call
 * {@link #run} yourself. Thread safety: not thread-safe (the pipeline is not); call it from the training thread.
 */
public final class ValidationVideos {
    private static final Logger LOG = LoggerFactory.getLogger(ValidationVideos.class);

    private final CogVideoXPipeline pipeline;
    private final List<String> prompts;
    private final String negativePrompt;
    private final long seed;
    private final int height;
    private final int width;
    private final int numFrames;
    private final int inferenceSteps;
    private final double guidanceScale;
    private final int fps;
    private final int columns;

    private ValidationVideos(Builder b) {
        this.pipeline = b.pipeline;
        this.prompts = b.prompts;
        this.negativePrompt = b.negativePrompt;
        this.seed = b.seed;
        this.height = b.height;
        this.width = b.width;
        this.numFrames = b.numFrames;
        this.inferenceSteps = b.inferenceSteps;
        this.guidanceScale = b.guidanceScale;
        this.fps = b.fps;
        this.columns = b.columns;
    }

    /**
     * @param pipeline the pipeline to sample (not owned: the caller closes it after training); text-to-video, with
     *     a prompt encoder
     * @param prompts the validation prompts (at least one)
     * @return a builder with defaults: empty negative prompt, seed 42, the model's default size, 49 frames, 50 steps,
     *     guidance 6, 8 fps, 8 columns
     * @throws IllegalArgumentException if the pipeline is image-to-video or there are no prompts
     */
    public static Builder builder(CogVideoXPipeline pipeline, List<String> prompts) {
        return new Builder(pipeline, prompts);
    }

    /** @return the validation prompts, in file order */
    public List<String> prompts() {
        return prompts;
    }

    /**
     * Samples every prompt and writes its MP4 and PNG.
     *
     * @param step the training step (names the folder)
     * @param outputDir the run's output folder; {@code validation/step-<step>/} is created under it
     * @return the files written, {@code prompt-0.mp4, prompt-0.png, prompt-1.mp4, ...}
     * @throws IOException if a folder or file cannot be written
     * @throws io.github.cogvideox4j.core.CogVideoXException if sampling fails (see
     *     {@link CogVideoXPipeline#generate(GenerationRequest, NDManager, StepListener)})
     */
    public List<Path> run(long step, Path outputDir) throws IOException {
        Preconditions.checkArgument(step >= 0, "step must be >= 0, got %s", step);
        Preconditions.checkNotNull(outputDir, "outputDir");
        Path dir = Files.createDirectories(outputDir.resolve("validation").resolve("step-" + step));
        List<Path> files = new ArrayList<>(2 * prompts.size());
        long t0 = System.nanoTime();
        for (int k = 0; k < prompts.size(); k++) {
            GenerationRequest request = GenerationRequest.builder().prompt(prompts.get(k))
                    .negativePrompt(negativePrompt).height(height).width(width).numFrames(numFrames)
                    .inferenceSteps(inferenceSteps).guidanceScale(guidanceScale).seed(seed + k).build();
            try (NDManager scope = NDManager.newBaseManager(pipeline.device());
                    NoGrad ignored = NoGrad.enter()) {
                NDArray video = pipeline.generate(request, scope, StepListener.NONE).get(new NDIndex(0));
                files.add(VideoWriter.write(dir.resolve("prompt-" + k + ".mp4"), video, fps));
                files.add(ContactSheet.write(dir.resolve("prompt-" + k + ".png"), video, columns));
            }
        }
        LOG.info("validation videos of step {}: {} prompts in {} ms, written to {}", step, prompts.size(),
                (System.nanoTime() - t0) / 1_000_000, dir);
        return List.copyOf(files);
    }

    /** Builds {@link ValidationVideos}; every setter validates its argument. */
    public static final class Builder {
        private final CogVideoXPipeline pipeline;
        private final List<String> prompts;
        private String negativePrompt = "";
        private long seed = GenerationRequest.DEFAULT_SEED;
        private int height;
        private int width;
        private int numFrames = 49;
        private int inferenceSteps = 50;
        private double guidanceScale = 6.0;
        private int fps = 8;
        private int columns = 8;

        private Builder(CogVideoXPipeline pipeline, List<String> prompts) {
            this.pipeline = Preconditions.checkNotNull(pipeline, "pipeline");
            Preconditions.checkArgument(!pipeline.isImageToVideo(),
                    "validation videos need a text-to-video pipeline, got %s", pipeline.className());
            Preconditions.checkArgument(prompts != null && !prompts.isEmpty(), "no validation prompts");
            this.prompts = List.copyOf(prompts);
            this.height = pipeline.transformer().config().sampleHeight() * CogVideoXSampler.VAE_SCALE_FACTOR_SPATIAL;
            this.width = pipeline.transformer().config().sampleWidth() * CogVideoXSampler.VAE_SCALE_FACTOR_SPATIAL;
        }

        /**
         * @param value the negative prompt of every video (guidance &gt; 1 only)
         * @return this builder
         */
        public Builder negativePrompt(String value) {
            this.negativePrompt = Preconditions.checkNotNull(value, "negativePrompt");
            return this;
        }

        /**
         * @param value the seed of prompt 0; prompt {@code k} uses {@code value + k}
         * @return this builder
         */
        public Builder seed(long value) {
            this.seed = value;
            return this;
        }

        /**
         * @param h pixel height (even, a multiple of 8 for the VAE)
         * @param w pixel width (even, a multiple of 8 for the VAE)
         * @return this builder
         */
        public Builder size(int h, int w) {
            Preconditions.checkArgument(h > 0 && w > 0 && h % 8 == 0 && w % 8 == 0,
                    "size must be positive multiples of 8, got %sx%s", h, w);
            this.height = h;
            this.width = w;
            return this;
        }

        /**
         * @param value frames per video (4k + 1 for the VAE)
         * @return this builder
         */
        public Builder numFrames(int value) {
            Preconditions.checkArgument(value >= 1, "numFrames must be >= 1, got %s", value);
            this.numFrames = value;
            return this;
        }

        /**
         * @param value denoising steps
         * @return this builder
         */
        public Builder inferenceSteps(int value) {
            Preconditions.checkArgument(value >= 1, "inferenceSteps must be >= 1, got %s", value);
            this.inferenceSteps = value;
            return this;
        }

        /**
         * @param value classifier-free guidance scale ({@code <= 1}: no guidance)
         * @return this builder
         */
        public Builder guidanceScale(double value) {
            Preconditions.checkArgument(Double.isFinite(value), "guidanceScale must be finite");
            this.guidanceScale = value;
            return this;
        }

        /**
         * @param value MP4 frame rate
         * @return this builder
         */
        public Builder fps(int value) {
            Preconditions.checkArgument(value >= 1, "fps must be >= 1, got %s", value);
            this.fps = value;
            return this;
        }

        /**
         * @param value frames per row of the PNG contact sheet
         * @return this builder
         */
        public Builder columns(int value) {
            Preconditions.checkArgument(value >= 1, "columns must be >= 1, got %s", value);
            this.columns = value;
            return this;
        }

        /** @return the validation videos */
        public ValidationVideos build() {
            return new ValidationVideos(this);
        }
    }
}
