package io.github.cogvideox4j.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;

/**
 * Diffusers {@code CogVideoXLayerNormZero} ({@code norm1}, {@code norm2} of every block): one
 * {@code Linear(time_embed_dim → 6D)} of {@code SiLU(emb)} split in this order into shift, scale, gate,
 * enc_shift, enc_scale, enc_gate, and one LayerNorm shared by the video and text streams.
 *
 * <p>Shapes: video {@code [B, N, D]}, text {@code [B, L, D]}, emb {@code [B, T]} → normalized video and text
 * plus the gates {@code [B, 1, D]}, all in the video input's manager. Thread safety: immutable.
 */
public final class CogVideoXLayerNormZero {
    private final Linear linear;
    private final LayerNorm norm;

    CogVideoXLayerNormZero(Linear linear, LayerNorm norm) {
        this.linear = linear;
        this.norm = norm;
    }

    /**
     * @param x video tokens {@code [B, N, D]}
     * @param c text tokens {@code [B, L, D]}
     * @param emb conditioning {@code [B, T]}
     * @return {@code [x̂, ĉ, gate, encGate]}: normalized video {@code [B, N, D]}, normalized text {@code [B, L, D]},
     *     gate and text gate {@code [B, 1, D]}
     */
    public NDList forward(NDArray x, NDArray c, NDArray emb) {
        // 1. Six modulations from the conditioning, each [B, 1, D]
        NDList m = linear.forward(Silu.apply(emb)).expandDims(1).split(6, 2);
        NDArray shift = m.get(0), scale = m.get(1), gate = m.get(2);
        NDArray encShift = m.get(3), encScale = m.get(4), encGate = m.get(5);
        // 2. One shared LayerNorm, modulated per stream
        NDArray xHat = norm.forward(x).mul(scale.add(1)).add(shift);            // [B, N, D]
        NDArray cHat = norm.forward(c).mul(encScale.add(1)).add(encShift);      // [B, L, D]
        return new NDList(xHat, cHat, gate, encGate);
    }
}
