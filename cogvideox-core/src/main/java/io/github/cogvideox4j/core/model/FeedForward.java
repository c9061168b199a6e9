package io.github.cogvideox4j.core.model;

import ai.djl.ndarray.NDArray;

/**
 * Diffusers {@code FeedForward} with {@code gelu-approximate}: {@code net.0.proj} (D → 4D), GELU tanh,
 * {@code net.2} (4D → D); the dropouts ({@code net.1}, {@code net.3}) have p = 0.
 *
 * <p>Shapes: {@code [B, S, D]} → {@code [B, S, D]} in the input's manager. Thread safety: immutable.
 */
public final class FeedForward {
    private final Linear proj;
    private final Linear out;
    private final Kernels kernels;

    FeedForward(Linear proj, Linear out, Kernels kernels) {
        this.proj = proj;
        this.out = out;
        this.kernels = kernels;
    }

    /**
     * @param h {@code [B, S, D]}
     * @return {@code [B, S, D]}
     */
    public NDArray forward(NDArray h) {
        if (kernels.fusesFeedForward(proj, out)) {
            return kernels.feedForward(h, proj, out);                           // [..., D], [..., F] kept in bf16
        }
        return out.forward(kernels.geluTanh(proj.forward(h)));                  // [..., D]
    }
}
