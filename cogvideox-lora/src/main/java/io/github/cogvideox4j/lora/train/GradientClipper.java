package io.github.cogvideox4j.lora.train;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import io.github.cogvideox4j.lora.NoGrad;
import java.util.Collection;

/**
 * Global-norm gradient clipping as {@code torch.nn.utils.clip_grad_norm_} (norm type 2), which the reference
 * trainers call through accelerate: {@code total = ||[||g_i||_2 for every parameter with a gradient]||_2} in FP32,
 * {@code coef = min(1, max_norm / (total + 1e-6))}, every {@code g_i *= coef} in place.
 *
 * <p>All temporaries live in a per-call manager; the parameters' manager does not grow. Runs under no-grad.
 *
 * <p>Thread safety: stateless; the parameters are confined to their thread.
 */
public final class GradientClipper {
    private GradientClipper() {}

    /**
     * The global L2 norm of the gradients, without changing them.
     *
     * @param parameters arrays that require gradients (others are skipped)
     * @return the norm (FP32 value as a double); 0 when no parameter has a gradient
     */
    public static double globalNorm(Collection<NDArray> parameters) {
        checkNotNull(parameters, "parameters");
        if (parameters.isEmpty()) {
            return 0;
        }
        try (NoGrad ignored = NoGrad.enter();
                NDManager scope = parameters.iterator().next().getManager().newSubManager()) {
            return norm(parameters, scope);
        }
    }

    /**
     * Clips the gradients in place to a global L2 norm of at most {@code maxNorm}; leaves them unchanged when the
     * norm is below the limit.
     *
     * @param parameters arrays that require gradients (others are skipped)
     * @param maxNorm the limit (&gt; 0)
     * @return the norm before clipping (what the trainers log as {@code grad_norm})
     */
    public static double clipGlobalNorm(Collection<NDArray> parameters, double maxNorm) {
        checkNotNull(parameters, "parameters");
        checkArgument(maxNorm > 0, "maxNorm must be positive, got %s", maxNorm);
        if (parameters.isEmpty()) {
            return 0;
        }
        try (NoGrad ignored = NoGrad.enter();
                NDManager scope = parameters.iterator().next().getManager().newSubManager()) {
            float total = norm(parameters, scope);
            float coef = coefficient(total, maxNorm);
            if (coef < 1f) {
                for (NDArray p : parameters) {
                    if (p.hasGradient()) {
                        Gradients.of(p, scope).muli(coef);
                    }
                }
            }
            return total;
        }
    }

    /**
     * The factor the gradients are multiplied by when it is below 1, as torch computes it: {@code clip_coef =
     * max_norm / (total + 1e-6)} on a float32 tensor, i.e. {@code reciprocal(total + 1e-6) * max_norm}. The one
     * formula of single-process and of data-parallel clipping (where {@code total} is the norm of the reduced
     * gradients).
     *
     * @param total the global norm (FP32)
     * @param maxNorm the limit (&gt; 0)
     * @return the coefficient (clip when below 1)
     */
    public static float coefficient(float total, double maxNorm) {
        checkArgument(maxNorm > 0, "maxNorm must be positive, got %s", maxNorm);
        float denominator = total + 1e-6f;
        return (1f / denominator) * (float) maxNorm;
    }

    private static float norm(Collection<NDArray> parameters, NDManager scope) {
        NDList norms = new NDList();
        for (NDArray p : parameters) {
            if (p.hasGradient()) {
                norms.add(Gradients.of(p, scope).reshape(-1).norm());
            }
        }
        if (norms.isEmpty()) {
            return 0f;
        }
        return NDArrays.stack(norms).norm().getFloat();
    }
}
