package io.github.cogvideox4j.core.schedule;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;

/**
 * Everything one {@link CogVideoXObjective#evaluate} computes, for inspection and tests. All arrays belong to the
 * manager of the input latents (the caller's scope); closing the record closes them all.
 *
 * <p>Thread safety: an immutable record of references to (mutable) arrays.
 *
 * @param loss the scalar loss (FLOAT64, 0-dim), differentiable with respect to the model parameters
 * @param lossPerSample {@code [B]} FLOAT64, {@code mean(w_t (x0_hat - x0)^2)} per sample
 * @param modelInput {@code [B, F_padded, C_in, h, w]}: the noisy latents, with the image latents concatenated on
 *     the channel axis for I2V
 * @param modelOutput {@code [B, F_padded, C, h, w]} the transformer's v-prediction
 * @param predictedOriginal {@code [B, F_padded, C, h, w]} {@code x0_hat = getVelocity(modelOutput, noisy, t)}
 * @param target {@code [B, F_padded, C, h, w]} the (padded) clean latents, a copy owned by this record
 */
public record ObjectiveResult(
        NDArray loss,
        NDArray lossPerSample,
        NDArray modelInput,
        NDArray modelOutput,
        NDArray predictedOriginal,
        NDArray target) implements AutoCloseable {

    /** Closes every array of the record. */
    @Override
    public void close() {
        new NDList(loss, lossPerSample, modelInput, modelOutput, predictedOriginal, target).close();
    }
}
