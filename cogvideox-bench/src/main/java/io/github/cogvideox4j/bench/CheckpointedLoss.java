package io.github.cogvideox4j.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.model.TransformerInput;
import io.github.cogvideox4j.core.schedule.CogVideoXObjective;
import io.github.cogvideox4j.core.schedule.CogVideoXScheduler;
import java.util.Arrays;

/**
 * The training objective of {@link CogVideoXObjective} (text-to-video, no frame padding) computed through
 * {@link CogVideoXTransformer#forwardBackwardWithRecompute}: {@code x_t = add_noise(x0, noise, t)}, the model runs with
 * block checkpointing, and its loss function is {@code mean_b(mean(w_t (get_velocity(v_hat, x_t, t) - x0)^2))} with
 * {@code w_t = 1 / (1 - alphas_cumprod[t])} in float64, as the objective computes it. The benches use it for the
 * checkpointed rows until the objective offers a checkpointed path itself. The noisy latents are marked as requiring a
 * gradient (see the workaround in the code) so that the recompute also works when every stem parameter is frozen.
 *
 * <p>Thread safety: stateless; the model is confined to its thread.
 */
final class CheckpointedLoss {
    private CheckpointedLoss() {}

    /**
     * Forward and backward with recompute; gradients accumulate into the parameters that require them.
     *
     * @param model a text-to-video model without {@code patch_size_t} (CogVideoX 1.0)
     * @param objective the objective whose scheduler is used
     * @param x0 clean latents {@code [B, F, C, h, w]} FLOAT32
     * @param noise same shape
     * @param text prompt embeddings {@code [B, L, D_text]}
     * @param timesteps {@code [B]} INT64
     * @return the detached 0-dim FLOAT64 loss, in the manager of {@code x0}
     */
    static NDArray lossAndBackward(CogVideoXTransformer model, CogVideoXObjective objective, NDArray x0,
            NDArray noise, NDArray text, NDArray timesteps) {
        CogVideoXScheduler scheduler = objective.scheduler();
        NDArray noisy = scheduler.addNoise(x0, noise, timesteps);                          // [B, F, C, h, w]
        // Workaround: forwardBackwardWithRecompute's last backward (through the stem) fails with "element 0 of
        // tensors does not require grad" when no stem parameter trains (LoRA) and no input requires a gradient.
        // An input gradient gives the stem a graph; it costs one small GEMM pass (patch projection input gradient).
        noisy.setRequiresGradient(true);
        double[] weights = Arrays.stream(scheduler.timestepValues(timesteps)).mapToDouble(scheduler::lossWeight)
                .toArray();
        long b = x0.getShape().get(0);
        return model.forwardBackwardWithRecompute(TransformerInput.of(noisy, text, timesteps), sample -> {
            NDArray pred = scheduler.getVelocity(sample, noisy, timesteps);                // x0_hat
            NDArray wt = EngineArrays.create(sample.getManager(), weights, new Shape(weights.length, 1, 1, 1, 1));
            return wt.mul(pred.sub(x0).square()).reshape(b, -1).mean(new int[] {1}).mean();
        });
    }
}
