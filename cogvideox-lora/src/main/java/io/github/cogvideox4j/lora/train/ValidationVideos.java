package io.github.cogvideox4j.lora.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.common.base.Preconditions;
import io.github.cogvideox4j.core.pipeline.CogVideoXPipeline;
import io.github.cogvideox4j.core.pipeline.CogVideoXSampler;
import io.github.cogvideox4j.core.pipeline.GenerationRequest;
import io.github.cogvideox4j.core.pipeline.StepListener;
import io.github.cogvideox4j.data.cache.ValidationInputs;
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
 *
 * <p>Text: the prompts are encoded by the pipeline's prompt encoder, or, when built from {@link ValidationInputs}
 * (what {@code cogvideox prepare} stores in a latent cache), the stored embeddings are used and the pipeline needs
 * no text encoder at all ({@link io.github.cogvideox4j.core.pipeline.PromptEncoder#unavailable()}).
 * Image-to-video pipelines condition prompt {@code k} on image {@code k} ({@link Builder#images}, or the stored
 * images of the inputs).
 *
 * <p>Use it from a run with {@link TrainingRun.Builder#validationVideos(ValidationVideos, long)}, or call
 * {@link #run} yourself. Thread safety: not thread-safe (the pipeline is not); call it from the training thread.
 */
public final class ValidationVideos {
    private static final Logger LOG = LoggerFactory.getLogger(ValidationVideos.class);

    private final CogVideoXPipeline pipeline;
    private final List<String> prompts;
    private final NDArray promptEmbeds;
    private final NDArray negativePromptEmbeds;
    private final NDArray images;
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
        this.promptEmbeds = b.promptEmbeds;
        this.negativePromptEmbeds = b.negativePromptEmbeds;
        this.images = b.images;
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
     * @param pipeline the pipeline to sample (not owned: the caller closes it after training), with a prompt encoder
     * @param prompts the validation prompts (at least one)
     * @return a builder with defaults: empty negative prompt, seed 42, the model's default size, 49 frames, 50 steps,
     *     guidance 6, 8 fps, 8 columns; an image-to-video pipeline also needs {@link Builder#images}
     * @throws IllegalArgumentException if there are no prompts
     */
    public static Builder builder(CogVideoXPipeline pipeline, List<String> prompts) {
        return new Builder(pipeline, prompts);
    }

    /**
     * Validation from stored inputs: the prompts' and the negative prompt's embeddings (the pipeline's prompt encoder
     * is never called, so it may be {@link io.github.cogvideox4j.core.pipeline.PromptEncoder#unavailable()}) and, for
     * an image-to-video pipeline, the stored images (whose size becomes the default size).
     *
     * @param pipeline the pipeline to sample (not owned)
     * @param inputs the stored inputs (not owned: their arrays must outlive the validation videos)
     * @return a builder with the defaults of {@link #builder(CogVideoXPipeline, List)}
     * @throws IllegalArgumentException if the pipeline is image-to-video and the inputs have no images
     */
    public static Builder builder(CogVideoXPipeline pipeline, ValidationInputs inputs) {
        Preconditions.checkNotNull(inputs, "inputs");
        Builder b = new Builder(pipeline, inputs.prompts());
        b.promptEmbeds = inputs.promptEmbeds();
        b.negativePromptEmbeds = inputs.negativePromptEmbeds();
        if (pipeline.isImageToVideo()) {
            NDArray stored = inputs.images().orElseThrow(() -> new IllegalArgumentException(pipeline.className()
                    + " needs a validation image per prompt, but the stored validation inputs have none (prepare "
                    + "them with the image-to-video model)"));
            b.images(stored);
            b.size(Math.toIntExact(stored.getShape().get(2)), Math.toIntExact(stored.getShape().get(3)));
        }
        return b;
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
            try (NDManager scope = NDManager.newBaseManager(pipeline.device());
                    NoGrad ignored = NoGrad.enter()) {
                GenerationRequest.Builder request = GenerationRequest.builder().negativePrompt(negativePrompt)
                        .height(height).width(width).numFrames(numFrames).inferenceSteps(inferenceSteps)
                        .guidanceScale(guidanceScale).seed(seed + k);
                if (promptEmbeds != null) {
                    request.promptEmbeds(row(promptEmbeds, k, scope))
                            .negativePromptEmbeds(inScope(negativePromptEmbeds.expandDims(0), scope));
                } else {
                    request.prompt(prompts.get(k));
                }
                if (images != null) {
                    request.image(row(images, k, scope));
                }
                NDArray video = pipeline.generate(request.build(), scope, StepListener.NONE).get(new NDIndex(0));
                files.add(VideoWriter.write(dir.resolve("prompt-" + k + ".mp4"), video, fps));
                files.add(ContactSheet.write(dir.resolve("prompt-" + k + ".png"), video, columns));
            }
        }
        LOG.info("validation videos of step {}: {} prompts in {} ms, written to {}", step, prompts.size(),
                (System.nanoTime() - t0) / 1_000_000, dir);
        return List.copyOf(files);
    }

    /** Row {@code k} of {@code [N, ...]} as {@code [1, ...]}, owned by {@code scope}. */
    private static NDArray row(NDArray a, int k, NDManager scope) {
        return inScope(a.get(new NDIndex(k + ":" + (k + 1))), scope);
    }

    private static NDArray inScope(NDArray a, NDManager scope) {
        a.attach(scope);
        return a;
    }

    /** Builds {@link ValidationVideos}; every setter validates its argument. */
    public static final class Builder {
        private final CogVideoXPipeline pipeline;
        private final List<String> prompts;
        private NDArray promptEmbeds;
        private NDArray negativePromptEmbeds;
        private NDArray images;
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
            Preconditions.checkState(negativePromptEmbeds == null,
                    "the negative prompt of stored validation inputs is already encoded");
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

        /**
         * @param value the conditioning images of an image-to-video pipeline, {@code [N, 3, H, W]} FLOAT32 in
         *     [0, 1], row {@code k} for prompt {@code k}, at the validation size (not owned: it must outlive the
         *     validation videos)
         * @return this builder
         */
        public Builder images(NDArray value) {
            Preconditions.checkNotNull(value, "images");
            Shape s = value.getShape();
            Preconditions.checkArgument(s.dimension() == 4 && s.get(0) == prompts.size() && s.get(1) == 3
                    && value.getDataType() == DataType.FLOAT32,
                    "validation images must be FLOAT32 [%s, 3, H, W] (one per prompt), got %s %s", prompts.size(),
                    s, value.getDataType());
            this.images = value;
            return this;
        }

        /**
         * @return the validation videos
         * @throws IllegalArgumentException if an image-to-video pipeline has no images, a text-to-video one has
         *     images, or the images are not at the validation size
         */
        public ValidationVideos build() {
            if (pipeline.isImageToVideo()) {
                Preconditions.checkArgument(images != null,
                        "%s is image-to-video: validation needs an image per prompt (images)", pipeline.className());
                Preconditions.checkArgument(images.getShape().get(2) == height && images.getShape().get(3) == width,
                        "validation images are %sx%s but the videos are %sx%s (images are not resized here)",
                        images.getShape().get(2), images.getShape().get(3), height, width);
            } else {
                Preconditions.checkArgument(images == null, "%s is text-to-video, but validation images are given",
                        pipeline.className());
            }
            return new ValidationVideos(this);
        }
    }
}
