package io.github.cogvideox4j.core.pipeline;

import ai.djl.ndarray.NDArray;
import com.google.common.base.Preconditions;

/**
 * What to sample, with the Diffusers pipeline's arguments: prompt embeddings (the T5 output; the text encoder is
 * not part of this package), pixel {@code numFrames x height x width}, steps, guidance. Defaults as
 * {@code CogVideoXPipeline.__call__}: 50 steps, guidance 6.0, no dynamic CFG.
 *
 * <ul>
 *   <li>{@code promptEmbeds} {@code [B, L, D_text]}; {@code negativePromptEmbeds} the same shape (the pipelines
 *       use the T5 embedding of the empty prompt ""), required when {@code guidanceScale > 1}.</li>
 *   <li>Image-to-video: either {@code imageLatents} {@code [B, 1, C, h, w]}, already sampled from the VAE posterior
 *       and scaled, or {@code imageMoments} {@code [B, 2C, 1, h, w]} (the VAE encoder's posterior parameters, mean
 *       then log-variance, VAE layout) with {@code imageLatentFactor} (the pipeline's: {@code scaling_factor} for
 *       1.0, {@code 1 / scaling_factor} for 1.5, see {@link io.github.cogvideox4j.core.schedule.ImageLatentScale});
 *       then the sampler draws the posterior sample from its {@link NoiseSource} as the pipeline does.</li>
 *   <li>{@code ofs}: the OFS value for CogVideoX1.5-5B-I2V; {@code null} means the pipeline's 2.0.</li>
 * </ul>
 *
 * <p>The arrays stay owned by the caller. Thread safety: an immutable record of references to arrays.
 *
 * @param promptEmbeds {@code [B, L, D_text]}
 * @param negativePromptEmbeds {@code [B, L, D_text]} or {@code null} without guidance
 * @param numFrames pixel frames (e.g. 49, 81), before the 1.5 padding
 * @param height pixel height, a multiple of 8
 * @param width pixel width, a multiple of 8
 * @param numInferenceSteps denoising steps (50)
 * @param guidanceScale classifier-free guidance scale (6.0); guidance is on when it exceeds 1
 * @param useDynamicCfg the Diffusers pipelines' dynamic guidance ({@code use_dynamic_cfg})
 * @param imageLatents {@code [B, 1, C, h, w]} scaled image latents, or {@code null}
 * @param imageMoments {@code [B, 2C, 1, h, w]} posterior parameters, or {@code null}
 * @param imageLatentFactor the factor applied to posterior samples (used with {@code imageMoments})
 * @param ofs the OFS value, or {@code null} for 2.0
 */
public record SamplingRequest(
        NDArray promptEmbeds,
        NDArray negativePromptEmbeds,
        int numFrames,
        int height,
        int width,
        int numInferenceSteps,
        double guidanceScale,
        boolean useDynamicCfg,
        NDArray imageLatents,
        NDArray imageMoments,
        double imageLatentFactor,
        Double ofs) {

    /** Checks the values that need no model. */
    public SamplingRequest {
        Preconditions.checkNotNull(promptEmbeds, "promptEmbeds");
        Preconditions.checkArgument(numFrames >= 1, "numFrames must be positive, got %s", numFrames);
        Preconditions.checkArgument(height > 0 && width > 0 && height % 8 == 0 && width % 8 == 0,
                "height and width must be positive multiples of 8 (the VAE's spatial factor), got %sx%s", height,
                width);
        Preconditions.checkArgument(numInferenceSteps >= 1, "numInferenceSteps must be positive, got %s",
                numInferenceSteps);
        Preconditions.checkArgument(Double.isFinite(guidanceScale), "guidanceScale must be finite");
        Preconditions.checkArgument(imageLatents == null || imageMoments == null,
                "give image latents or image moments, not both");
        Preconditions.checkArgument(guidanceScale <= 1 || negativePromptEmbeds != null,
                "guidance scale %s > 1 needs negativePromptEmbeds (the pipelines use the empty prompt's embedding)",
                guidanceScale);
    }

    /**
     * @param promptEmbeds {@code [B, L, D_text]}
     * @param negativePromptEmbeds {@code [B, L, D_text]} (or {@code null} together with guidance scale 1)
     * @param numFrames pixel frames
     * @param height pixel height
     * @param width pixel width
     * @return a text-to-video request with the pipeline defaults
     */
    public static SamplingRequest textToVideo(NDArray promptEmbeds, NDArray negativePromptEmbeds, int numFrames,
            int height, int width) {
        return new SamplingRequest(promptEmbeds, negativePromptEmbeds, numFrames, height, width, 50,
                negativePromptEmbeds == null ? 1.0 : 6.0, false, null, null, 1.0, null);
    }

    /**
     * @param promptEmbeds {@code [B, L, D_text]}
     * @param negativePromptEmbeds {@code [B, L, D_text]} (or {@code null} together with guidance scale 1)
     * @param imageLatents {@code [B, 1, C, h, w]} scaled image latents
     * @param numFrames pixel frames
     * @param height pixel height
     * @param width pixel width
     * @return an image-to-video request with the pipeline defaults
     */
    public static SamplingRequest imageToVideo(NDArray promptEmbeds, NDArray negativePromptEmbeds,
            NDArray imageLatents, int numFrames, int height, int width) {
        Preconditions.checkNotNull(imageLatents, "imageLatents");
        return new SamplingRequest(promptEmbeds, negativePromptEmbeds, numFrames, height, width, 50,
                negativePromptEmbeds == null ? 1.0 : 6.0, false, imageLatents, null, 1.0, null);
    }

    /**
     * @param promptEmbeds {@code [B, L, D_text]}
     * @param negativePromptEmbeds {@code [B, L, D_text]} (or {@code null} together with guidance scale 1)
     * @param imageMoments {@code [B, 2C, 1, h, w]} VAE posterior parameters (mean, log-variance)
     * @param imageLatentFactor the factor applied to the posterior sample
     * @param numFrames pixel frames
     * @param height pixel height
     * @param width pixel width
     * @return an image-to-video request whose image latent is sampled by the sampler
     */
    public static SamplingRequest imageToVideoFromMoments(NDArray promptEmbeds, NDArray negativePromptEmbeds,
            NDArray imageMoments, double imageLatentFactor, int numFrames, int height, int width) {
        Preconditions.checkNotNull(imageMoments, "imageMoments");
        return new SamplingRequest(promptEmbeds, negativePromptEmbeds, numFrames, height, width, 50,
                negativePromptEmbeds == null ? 1.0 : 6.0, false, null, imageMoments, imageLatentFactor, null);
    }

    /** @return whether this is an image-to-video request */
    public boolean isImageToVideo() {
        return imageLatents != null || imageMoments != null;
    }

    /**
     * @param steps denoising steps
     * @return a copy with them
     */
    public SamplingRequest withSteps(int steps) {
        return new SamplingRequest(promptEmbeds, negativePromptEmbeds, numFrames, height, width, steps,
                guidanceScale, useDynamicCfg, imageLatents, imageMoments, imageLatentFactor, ofs);
    }

    /**
     * @param scale the guidance scale (guidance is on above 1)
     * @return a copy with it
     */
    public SamplingRequest withGuidanceScale(double scale) {
        return new SamplingRequest(promptEmbeds, negativePromptEmbeds, numFrames, height, width, numInferenceSteps,
                scale, useDynamicCfg, imageLatents, imageMoments, imageLatentFactor, ofs);
    }

    /**
     * @param dynamic whether to use the Diffusers pipelines' dynamic CFG ({@code use_dynamic_cfg})
     * @return a copy with it
     */
    public SamplingRequest withDynamicCfg(boolean dynamic) {
        return new SamplingRequest(promptEmbeds, negativePromptEmbeds, numFrames, height, width, numInferenceSteps,
                guidanceScale, dynamic, imageLatents, imageMoments, imageLatentFactor, ofs);
    }

    /**
     * @param value the OFS value (CogVideoX1.5-5B-I2V; the pipeline passes 2.0)
     * @return a copy with it
     */
    public SamplingRequest withOfs(double value) {
        return new SamplingRequest(promptEmbeds, negativePromptEmbeds, numFrames, height, width, numInferenceSteps,
                guidanceScale, useDynamicCfg, imageLatents, imageMoments, imageLatentFactor, value);
    }
}
