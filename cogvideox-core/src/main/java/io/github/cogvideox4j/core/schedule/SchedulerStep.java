package io.github.cogvideox4j.core.schedule;

import ai.djl.ndarray.NDArray;

/**
 * The result of one sampling step: the sample at the previous (less noisy) timestep and the model's estimate of
 * the clean sample, which the DPM-Solver++(2M) scheduler needs again at the next step
 * ({@code old_pred_original_sample} in Diffusers).
 *
 * <p>Both arrays have the shape of the step's {@code sample} and belong to its manager; the caller closes them (or
 * that manager). Thread safety: an immutable record of references to (mutable) arrays.
 *
 * @param prevSample {@code x_{t-1}}, shape of the sample
 * @param predOriginalSample the clean-sample estimate {@code x0_hat}, shape of the sample
 */
public record SchedulerStep(NDArray prevSample, NDArray predOriginalSample) {}
