package io.github.cogvideox4j.core.embed;

import static com.google.common.base.Preconditions.checkArgument;

/**
 * The additive 3-D sincos positional table of CogVideoX-2b (Diffusers {@code get_3d_sincos_pos_embed} with
 * {@code output_type="pt"}, as {@code CogVideoXPatchEmbed._get_positional_embeddings} calls it; diffusers
 * {@code models/embeddings.py}), for the
 * video tokens only (the text rows of Diffusers' joint table are zero).
 *
 * <p>Layout of the row of token {@code (t, h, w)} (row {@code (t*Hg + h)*Wg + w}), {@code D = embedDim}:
 * {@code [temporal 1-D sincos of t (D/4) | 1-D sincos of w (3D/8) | 1-D sincos of h (3D/8)]} (the column coordinate
 * comes first in the spatial part although Diffusers calls that half {@code emb_h}). A 1-D sincos of width {@code d}
 * at position {@code x} is {@code [sin(x*omega_m) | cos(x*omega_m)]}, {@code omega_m = 1 / 10000^(m/(d/2))},
 * {@code m < d/2} (no flip). Positions: {@code w/s}, {@code h/s} with {@code s} the spatial interpolation scale and
 * {@code t/ts} with the temporal one, each a float32 division of a float32 integer by the scale cast to float32
 * (PyTorch {@code arange(n, dtype=float32) / scale}); {@code omega}, the products and sin/cos are float64 (the
 * product promotes the float32 positions), and the result is rounded to float32 at the end, as the model casts the
 * float64 buffer to its dtype.
 *
 * <p>Thread safety: stateless; safe from any thread.
 */
public final class SinCosPositionalEmbedding3d {

    private SinCosPositionalEmbedding3d() {
    }

    /**
     * Computes the table.
     *
     * @param embedDim the model width {@code D}, a positive multiple of 16
     * @param gridHeight token rows {@code Hg} (latent height / patch size)
     * @param gridWidth token columns {@code Wg} (latent width / patch size)
     * @param frames latent frames {@code T} ({@code (sample_frames - 1) / 4 + 1} at the trained size)
     * @param spatialInterpolationScale {@code spatial_interpolation_scale} (1.875 for CogVideoX), positive
     * @param temporalInterpolationScale {@code temporal_interpolation_scale} (1.0), positive
     * @return a new row-major {@code [T*Hg*Wg, D]} float array
     * @throws IllegalArgumentException if a size or scale is not positive or {@code embedDim % 16 != 0}
     * @throws ArithmeticException if the table size overflows an int
     */
    public static float[] compute(int embedDim, int gridHeight, int gridWidth, int frames,
            double spatialInterpolationScale, double temporalInterpolationScale) {
        checkArgument(embedDim > 0 && embedDim % 16 == 0,
                "embedDim must be a positive multiple of 16 ([D/4 | 3D/8 | 3D/8], each an even sin|cos width), got %s",
                embedDim);
        checkArgument(gridHeight > 0 && gridWidth > 0 && frames > 0,
                "grid sizes must be positive, got frames %s, grid %sx%s", frames, gridHeight, gridWidth);
        checkArgument(spatialInterpolationScale > 0 && Double.isFinite(spatialInterpolationScale),
                "spatialInterpolationScale must be positive, got %s", spatialInterpolationScale);
        checkArgument(temporalInterpolationScale > 0 && Double.isFinite(temporalInterpolationScale),
                "temporalInterpolationScale must be positive, got %s", temporalInterpolationScale);
        int dimT = embedDim / 4;
        int dimS = embedDim * 3 / 8;
        float[] temporal = sincos(dimT, positions(frames, temporalInterpolationScale));
        float[] wPart = sincos(dimS, positions(gridWidth, spatialInterpolationScale));
        float[] hPart = sincos(dimS, positions(gridHeight, spatialInterpolationScale));

        int tokens = Math.multiplyExact(Math.multiplyExact(frames, gridHeight), gridWidth);
        float[] out = new float[Math.multiplyExact(tokens, embedDim)];
        int row = 0;
        for (int t = 0; t < frames; t++) {
            for (int h = 0; h < gridHeight; h++) {
                for (int w = 0; w < gridWidth; w++) {
                    int base = row * embedDim;
                    System.arraycopy(temporal, t * dimT, out, base, dimT);
                    System.arraycopy(wPart, w * dimS, out, base + dimT, dimS);
                    System.arraycopy(hPart, h * dimS, out, base + dimT + dimS, dimS);
                    row++;
                }
            }
        }
        return out;
    }

    /** {@code torch.arange(n, dtype=float32) / scale}: float32 division by the scale rounded to float32. */
    private static float[] positions(int n, double scale) {
        float s = (float) scale;
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = (float) i / s;
        }
        return out;
    }

    /**
     * Diffusers {@code get_1d_sincos_pos_embed_from_grid(dim, pos, output_type="pt")}: float64 {@code omega}, outer
     * product with the promoted positions, {@code [sin | cos]}, each row of width {@code dim}; rounded to float32.
     */
    private static float[] sincos(int dim, float[] positions) {
        int half = dim / 2;
        double[] omega = new double[half];
        for (int m = 0; m < half; m++) {
            omega[m] = 1.0 / Math.pow(10000.0, m / (dim / 2.0));
        }
        float[] out = new float[positions.length * dim];
        for (int p = 0; p < positions.length; p++) {
            double x = positions[p];
            for (int m = 0; m < half; m++) {
                double angle = x * omega[m];
                out[p * dim + m] = (float) Math.sin(angle);
                out[p * dim + half + m] = (float) Math.cos(angle);
            }
        }
        return out;
    }
}
