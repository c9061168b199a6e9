package io.github.cogvideox4j.core.kernel;

import io.github.cogvideox4j.core.EngineArrays;
import static com.google.common.base.Preconditions.checkArgument;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * Plain DJL implementations of the kernels in {@link KernelPack}, composed from ordinary NDArray ops. They are
 * what the tests and benchmarks compare the fused kernels with; they are differentiable, but
 * {@link #naiveAttention} materialises the full {@code [B, H, S, S]} score tensor, so it is O(S²) in memory
 * (and autograd keeps that tensor for the backward).
 *
 * <p>Ownership: every returned array belongs to the manager of the first input (DJL attaches an op result to
 * its first operand's manager); intermediates are closed before returning (under a
 * {@link ai.djl.training.GradientCollector} the autograd graph keeps what the backward needs).
 *
 * <p>Thread safety: stateless; safe from any thread (for arrays the caller does not share unsafely).
 */
public final class ReferenceKernels {
    /** √(2/π), as torch computes it for the tanh GELU: √2 · (2/√π) · ½. */
    private static final double SQRT_2_OVER_PI = Math.sqrt(2.0) * (2.0 / Math.sqrt(Math.PI)) * 0.5;

    private static final double GELU_KAPPA = 0.044715;

    private ReferenceKernels() {}

    /**
     * Naive scaled dot-product attention, {@code softmax(q kᵀ · 1/√d) v}, without mask or dropout.
     *
     * @param q queries {@code [..., S_q, d]} (typically {@code [B, H, S, d]}), FLOAT32/FLOAT16/FLOAT64
     * @param k keys {@code [..., S_k, d]}, same leading dims and dtype as {@code q}
     * @param v values {@code [..., S_k, d_v]}, same leading dims and dtype as {@code q}
     * @return the attention output {@code [..., S_q, d_v]}, owned by {@code q}'s manager
     * @throws IllegalArgumentException if the ranks or the dims that must agree differ
     * @throws UnsupportedDTypeException if an input is BFLOAT16 or UNKNOWN
     */
    public static NDArray naiveAttention(NDArray q, NDArray k, NDArray v) {
        DTypeGuard.requireSupported(q, "attention query");
        DTypeGuard.requireSupported(k, "attention key");
        DTypeGuard.requireSupported(v, "attention value");
        Shape qs = q.getShape();
        Shape ks = k.getShape();
        Shape vs = v.getShape();
        int rank = qs.dimension();
        checkArgument(rank >= 2 && ks.dimension() == rank && vs.dimension() == rank,
                "attention q, k, v must have the same rank >= 2, got q%s k%s v%s", qs, ks, vs);
        checkArgument(qs.get(rank - 1) == ks.get(rank - 1),
                "attention q and k head dims differ: q%s k%s", qs, ks);
        checkArgument(ks.get(rank - 2) == vs.get(rank - 2),
                "attention k and v sequence lengths differ: k%s v%s", ks, vs);
        double scale = 1.0 / Math.sqrt(qs.get(rank - 1));

        NDArray kT = k.swapAxes(rank - 1, rank - 2); // [..., d, S_k]
        NDArray scores = q.matMul(kT); // [..., S_q, S_k]
        kT.close();
        NDArray scaled = EngineArrays.mul(scores, scale);
        scores.close();
        NDArray probs = scaled.softmax(rank - 1);
        scaled.close();
        NDArray out = probs.matMul(v); // [..., S_q, d_v]
        probs.close();
        if (out.getManager() != q.getManager()) {
            out.attach(q.getManager());
        }
        return out;
    }

    /**
     * The tanh approximation of GELU, {@code 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))}, composed from DJL
     * ops in the same order as torch's {@code gelu(x, approximate="tanh")} kernel.
     *
     * @param x any shape, FLOAT32/FLOAT16/FLOAT64
     * @return an array of {@code x}'s shape and dtype, owned by {@code x}'s manager
     * @throws UnsupportedDTypeException if {@code x} is BFLOAT16 or UNKNOWN
     */
    public static NDArray geluTanh(NDArray x) {
        DTypeGuard.requireSupported(x, "gelu input");
        NDArray x2 = x.mul(x);
        NDArray x3 = x2.mul(x);
        x2.close();
        NDArray kx3 = EngineArrays.mul(x3, GELU_KAPPA);
        x3.close();
        NDArray sum = x.add(kx3);
        kx3.close();
        NDArray inner = EngineArrays.mul(sum, SQRT_2_OVER_PI);
        sum.close();
        NDArray t = inner.tanh();
        inner.close();
        NDArray onePlus = t.add(1.0);
        t.close();
        NDArray half = EngineArrays.mul(x, 0.5);
        NDArray out = half.mul(onePlus);
        half.close();
        onePlus.close();
        return out;
    }
}
