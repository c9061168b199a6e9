package io.github.cogvideox4j.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;

/**
 * Diffusers {@code AdaLayerNorm} with {@code chunk_dim = 1} ({@code norm_out}): {@code Linear(T → 2D)} of
 * {@code SiLU(emb)} split into shift then scale (this order), {@code y = LN(x)·(1 + scale) + shift}.
 *
 * <p>Shapes: x {@code [B, N, D]}, emb {@code [B, T]} → {@code [B, N, D]} in x's manager. Thread safety: immutable.
 */
public final class AdaLayerNorm {
    private final Linear linear;
    private final LayerNorm norm;

    AdaLayerNorm(Linear linear, LayerNorm norm) {
        this.linear = linear;
        this.norm = norm;
    }

    /**
     * @param x {@code [B, N, D]}
     * @param emb {@code [B, T]}
     * @return {@code [B, N, D]}
     */
    public NDArray forward(NDArray x, NDArray emb) {
        NDList m = linear.forward(Silu.apply(emb)).expandDims(1).split(2, 2); // 2 x [B, 1, D]
        NDArray shift = m.get(0), scale = m.get(1);
        return norm.forward(x).mul(scale.add(1)).add(shift);
    }
}
