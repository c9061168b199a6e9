package io.github.cogvideox4j.core.model;

import ai.djl.ndarray.NDArray;

/**
 * Diffusers {@code TimestepEmbedding}: {@code linear_2(SiLU(linear_1(x)))}, used for the time embedding
 * ({@code time_embedding}: inner dim → time_embed_dim → time_embed_dim) and the OFS embedding
 * ({@code ofs_embedding}: ofs_embed_dim → ofs_embed_dim → ofs_embed_dim).
 *
 * <p>Shapes: {@code [B, in]} → {@code [B, out]} in the input's manager. Thread safety: immutable.
 */
public final class TimestepEmbedding {
    private final Linear linear1;
    private final Linear linear2;

    TimestepEmbedding(Linear linear1, Linear linear2) {
        this.linear1 = linear1;
        this.linear2 = linear2;
    }

    /**
     * @param sinusoid {@code [B, in]} the timestep sinusoid
     * @return {@code [B, out]}
     */
    public NDArray forward(NDArray sinusoid) {
        return linear2.forward(Silu.apply(linear1.forward(sinusoid)));
    }
}
