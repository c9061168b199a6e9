package io.github.cogvideox4j.core.pipeline;

import ai.djl.ndarray.NDArray;

/**
 * What one denoising step of {@link CogVideoXSampler} computed, shown to a {@link StepListener}. The arrays are
 * valid only during the callback (they are closed or replaced afterwards): copy what you keep.
 *
 * <p>Thread safety: an immutable record of references to (mutable) arrays.
 *
 * @param index the 0-based step
 * @param numSteps the number of steps
 * @param timestep the timestep of this step
 * @param guidanceScale the guidance scale used (the dynamic-CFG value when enabled; 1.0 without guidance)
 * @param modelInput the transformer's hidden states {@code [2B or B, F, C_in, h, w]} ({@code [negative, positive]}
 *     with guidance)
 * @param noisePred the transformer output {@code [2B or B, F, C, h, w]}
 * @param guidedNoisePred {@code uncond + g (text - uncond)} {@code [B, F, C, h, w]} (the output itself without
 *     guidance)
 * @param predOriginalSample the scheduler's {@code x0_hat} {@code [B, F, C, h, w]}
 * @param latents the latents after the step {@code [B, F, C, h, w]}
 */
public record DenoisingStep(
        int index,
        int numSteps,
        int timestep,
        double guidanceScale,
        NDArray modelInput,
        NDArray noisePred,
        NDArray guidedNoisePred,
        NDArray predOriginalSample,
        NDArray latents) {}
