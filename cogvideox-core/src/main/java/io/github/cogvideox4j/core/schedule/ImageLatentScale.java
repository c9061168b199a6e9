package io.github.cogvideox4j.core.schedule;

import io.github.cogvideox4j.core.EngineArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/**
 * How image-to-video conditioning latents are scaled. Every LoRA trainer multiplies the image
 * latents by the VAE {@code scaling_factor} (0.7); the Diffusers I2V pipeline does so for 1.0 but, when the VAE
 * config has {@code invert_scale_latents = true} (CogVideoX1.5), <em>divides</em> by it; SAT's 1.5 inference uses
 * the unscaled latent. Which scale the 1.5-I2V base model was pretrained with is unverified, so this is a switch.
 *
 * <p>Thread safety: immutable.
 */
public enum ImageLatentScale {
    /** {@code latents * scaling_factor}: all trainers; the 1.0 I2V pipeline. */
    MULTIPLY,
    /** {@code (1 / scaling_factor) * latents}: the Diffusers I2V pipeline for 1.5 ({@code invert_scale_latents}). */
    DIVIDE,
    /** The latents as encoded: SAT's 1.5 inference. */
    NONE;

    /**
     * @param invertScaleLatents the VAE config's {@code invert_scale_latents}
     * @return the scale the Diffusers I2V pipeline applies
     */
    public static ImageLatentScale forPipeline(boolean invertScaleLatents) {
        return invertScaleLatents ? DIVIDE : MULTIPLY;
    }

    /**
     * @param scalingFactor the VAE {@code scaling_factor}
     * @return the float64 factor (the pipeline's Python {@code 1 / scaling_factor} for {@link #DIVIDE})
     */
    public double factor(double scalingFactor) {
        return switch (this) {
            case MULTIPLY -> scalingFactor;
            case DIVIDE -> 1.0 / scalingFactor;
            case NONE -> 1.0;
        };
    }

    /**
     * @param latents raw image latents (any shape), FLOAT32
     * @param scalingFactor the VAE {@code scaling_factor}
     * @return the scaled latents, a new array in the manager of {@code latents}
     */
    public NDArray apply(NDArray latents, double scalingFactor) {
        try (NDArray f = EngineArrays.scalar(latents.getManager(), factor(scalingFactor), DataType.FLOAT32)) {
            return latents.mul(f);
        }
    }
}
