package io.github.cogvideox4j.core.pipeline;

/**
 * Called once per denoising step by {@link CogVideoXSampler} (progress bars, logging, recording intermediates;
 * Diffusers' {@code callback_on_step_end} without the ability to replace tensors). Runs on the sampling thread;
 * exceptions abort the run.
 */
@FunctionalInterface
public interface StepListener {

    /** A listener that does nothing. */
    StepListener NONE = step -> { };

    /** @param step what the step computed; its arrays are valid only during the call */
    void onStep(DenoisingStep step);
}
