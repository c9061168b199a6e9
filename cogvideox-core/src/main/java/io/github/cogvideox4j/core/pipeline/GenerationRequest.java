package io.github.cogvideox4j.core.pipeline;

import ai.djl.ndarray.NDArray;
import com.google.common.base.Preconditions;
import java.util.List;

/**
 * What {@link CogVideoXPipeline#generate} makes: the arguments of Diffusers' {@code CogVideoXPipeline.__call__} /
 * {@code CogVideoXImageToVideoPipeline.__call__} with {@code output_type="pt"}. Build with {@link #builder()}.
 *
 * <ul>
 *   <li>Text: {@code prompts} (one per batch row) encoded by the pipeline's {@link PromptEncoder}, or
 *       {@code promptEmbeds} {@code [B, L, D_text]} given directly (then the prompts are ignored). The negative side
 *       likewise: {@code negativePromptEmbeds}, else {@code negativePrompt} (default {@code ""}, as the pipelines)
 *       encoded once per row; only used when {@code guidanceScale > 1}.</li>
 *   <li>Size: {@code height}/{@code width} in pixels (multiples of 8; {@code null} means the transformer's
 *       {@code sample_height * 8} / {@code sample_width * 8}), {@code numFrames} pixel frames (default 49; 1.5 models
 *       pad internally and un-pad).</li>
 *   <li>{@code image}: {@code [B, 3, height, width]} FLOAT32 in [0, 1] for image-to-video models, else {@code null}.</li>
 *   <li>{@code noise}: the source of every random draw, or {@code null} for {@link NoiseSource#seeded(long)} with
 *       {@code seed} (a fresh source per call, so a request replays identically).</li>
 *   <li>{@code ofs}: OFS value for 1.5-I2V ({@code null}: the pipeline's 2.0).</li>
 * </ul>
 *
 * <p>Ownership: the arrays stay the caller's; the pipeline never closes them. Thread safety: immutable record of
 * references to arrays (and possibly a stateful noise source).
 *
 * @param prompts the prompts, or {@code null}/empty when {@code promptEmbeds} is given
 * @param negativePrompt the negative prompt for every row
 * @param promptEmbeds {@code [B, L, D_text]} or {@code null}
 * @param negativePromptEmbeds {@code [B, L, D_text]} or {@code null}
 * @param height pixel height or {@code null} for the model default
 * @param width pixel width or {@code null} for the model default
 * @param numFrames pixel frames
 * @param inferenceSteps denoising steps
 * @param guidanceScale classifier-free guidance scale (guidance is on above 1)
 * @param dynamicCfg the Diffusers pipelines' dynamic guidance ({@code use_dynamic_cfg})
 * @param image the conditioning image {@code [B, 3, H, W]} in [0, 1], or {@code null}
 * @param noise the noise source, or {@code null} for the seeded default
 * @param seed the seed of the default noise source
 * @param ofs the OFS value or {@code null}
 */
public record GenerationRequest(
        List<String> prompts,
        String negativePrompt,
        NDArray promptEmbeds,
        NDArray negativePromptEmbeds,
        Integer height,
        Integer width,
        int numFrames,
        int inferenceSteps,
        double guidanceScale,
        boolean dynamicCfg,
        NDArray image,
        NoiseSource noise,
        long seed,
        Double ofs) {

    /** The seed of the default noise source. */
    public static final long DEFAULT_SEED = 42L;

    /** Checks the values that need no model. */
    public GenerationRequest {
        prompts = prompts == null ? List.of() : List.copyOf(prompts);
        Preconditions.checkArgument(promptEmbeds != null || !prompts.isEmpty(),
                "a request needs a prompt or promptEmbeds");
        Preconditions.checkNotNull(negativePrompt, "negativePrompt");
        Preconditions.checkArgument(height == null || (height > 0 && height % 8 == 0),
                "height must be a positive multiple of 8, got %s", height);
        Preconditions.checkArgument(width == null || (width > 0 && width % 8 == 0),
                "width must be a positive multiple of 8, got %s", width);
        Preconditions.checkArgument(numFrames >= 1, "numFrames must be positive, got %s", numFrames);
        Preconditions.checkArgument(inferenceSteps >= 1, "inferenceSteps must be positive, got %s", inferenceSteps);
        Preconditions.checkArgument(Double.isFinite(guidanceScale), "guidanceScale must be finite, got %s",
                guidanceScale);
        Preconditions.checkArgument(ofs == null || Double.isFinite(ofs), "ofs must be finite, got %s", ofs);
    }

    /** @return a builder with the pipeline defaults (49 frames, 50 steps, guidance 6.0, no dynamic CFG, seed 42) */
    public static Builder builder() {
        return new Builder();
    }

    /** @return whether guidance is on ({@code guidanceScale > 1}, as the pipelines) */
    public boolean usesGuidance() {
        return guidanceScale > 1.0;
    }

    /** Mutable builder of a {@link GenerationRequest}; not thread-safe. */
    public static final class Builder {
        private List<String> prompts = List.of();
        private String negativePrompt = "";
        private NDArray promptEmbeds;
        private NDArray negativePromptEmbeds;
        private Integer height;
        private Integer width;
        private int numFrames = 49;
        private int inferenceSteps = 50;
        private double guidanceScale = 6.0;
        private boolean dynamicCfg;
        private NDArray image;
        private NoiseSource noise;
        private long seed = DEFAULT_SEED;
        private Double ofs;

        private Builder() { }

        /**
         * @param prompt the single prompt (batch 1)
         * @return this
         */
        public Builder prompt(String prompt) {
            this.prompts = List.of(Preconditions.checkNotNull(prompt, "prompt"));
            return this;
        }

        /**
         * @param value one prompt per batch row
         * @return this
         */
        public Builder prompts(List<String> value) {
            this.prompts = List.copyOf(value);
            return this;
        }

        /**
         * @param value the negative prompt for every row (default "")
         * @return this
         */
        public Builder negativePrompt(String value) {
            this.negativePrompt = Preconditions.checkNotNull(value, "negativePrompt");
            return this;
        }

        /**
         * @param value {@code [B, L, D_text]} prompt embeddings (bypass the encoder)
         * @return this
         */
        public Builder promptEmbeds(NDArray value) {
            this.promptEmbeds = value;
            return this;
        }

        /**
         * @param value {@code [B, L, D_text]} negative prompt embeddings
         * @return this
         */
        public Builder negativePromptEmbeds(NDArray value) {
            this.negativePromptEmbeds = value;
            return this;
        }

        /**
         * @param value pixel height, a multiple of 8
         * @return this
         */
        public Builder height(int value) {
            this.height = value;
            return this;
        }

        /**
         * @param value pixel width, a multiple of 8
         * @return this
         */
        public Builder width(int value) {
            this.width = value;
            return this;
        }

        /**
         * @param value pixel frames (49 for 1.0, 81 or 161 for 1.5)
         * @return this
         */
        public Builder numFrames(int value) {
            this.numFrames = value;
            return this;
        }

        /**
         * @param value denoising steps
         * @return this
         */
        public Builder inferenceSteps(int value) {
            this.inferenceSteps = value;
            return this;
        }

        /**
         * @param value guidance scale
         * @return this
         */
        public Builder guidanceScale(double value) {
            this.guidanceScale = value;
            return this;
        }

        /**
         * @param value whether to use dynamic CFG
         * @return this
         */
        public Builder dynamicCfg(boolean value) {
            this.dynamicCfg = value;
            return this;
        }

        /**
         * @param value {@code [B, 3, H, W]} in [0, 1] (image-to-video)
         * @return this
         */
        public Builder image(NDArray value) {
            this.image = value;
            return this;
        }

        /**
         * @param value the source of every random draw
         * @return this
         */
        public Builder noise(NoiseSource value) {
            this.noise = value;
            return this;
        }

        /**
         * @param value the seed of the default noise source
         * @return this
         */
        public Builder seed(long value) {
            this.seed = value;
            return this;
        }

        /**
         * @param value the OFS value (1.5-I2V)
         * @return this
         */
        public Builder ofs(double value) {
            this.ofs = value;
            return this;
        }

        /**
         * @return the request
         * @throws IllegalArgumentException if a value is invalid
         */
        public GenerationRequest build() {
            return new GenerationRequest(prompts, negativePrompt, promptEmbeds, negativePromptEmbeds, height, width,
                    numFrames, inferenceSteps, guidanceScale, dynamicCfg, image, noise, seed, ofs);
        }
    }
}
