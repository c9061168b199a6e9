package io.github.cogvideox4j.core.embed;

import io.github.cogvideox4j.core.EngineArrays;
import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;

/**
 * The 3-D rotary position tables of CogVideoX (Diffusers {@code get_3d_rotary_pos_embed} with
 * {@code use_real=True}, {@code theta=10000}; diffusers {@code models/embeddings.py}),
 * computed on the host in pure Java.
 *
 * <p>The head dimension {@code hd} is split into {@code [t: hd/4 | h: 3hd/8 | w: 3hd/8]}. For an axis of sub-width
 * {@code d} at position {@code pos} the angle of pair {@code j} is {@code pos * freq_j} with
 * {@code freq_j = 1 / 10000^(2j/d)}; each column's cos and sin appear twice in a row
 * ({@code repeat_interleave(2)}), matching the interleaved (even, odd) pair rotation. Every step is float32 like
 * PyTorch: {@code 2j/d} as a float32 division, the power rounded to float32, its float32 reciprocal, the float32
 * product with the position; cos and sin are evaluated in double and rounded, so they can differ from PyTorch's
 * vectorised float32 kernels by one float32 ulp (measured against the golden tables: at most 6e-8).
 *
 * <p>Thread safety: stateless; safe from any thread.
 */
public final class RotaryPositionalEmbedding3d {

    private static final double THETA = 10000.0;

    private RotaryPositionalEmbedding3d() {
    }

    /**
     * Computes the cos and sin tables for a grid.
     *
     * @param grid the token grid (see {@link RopeGrid#forPipeline})
     * @param headDim the attention head dimension, a positive multiple of 16
     * @return tables of shape {@code [grid.tokens(), headDim]}, rows ordered t-major, then h, then w (row
     *     {@code (t*Hg + h)*Wg + w}, the video-token order), columns {@code [t: hd/4 | h: 3hd/8 | w: 3hd/8]}
     * @throws IllegalArgumentException if {@code headDim} is not a positive multiple of 16
     * @throws ArithmeticException if {@code tokens * headDim} overflows an int
     */
    public static RopeTables compute(RopeGrid grid, int headDim) {
        checkNotNull(grid, "grid must not be null");
        checkArgument(headDim > 0 && headDim % 16 == 0,
                "headDim must be a positive multiple of 16 (split [hd/4 | 3hd/8 | 3hd/8] into whole pairs), got %s",
                headDim);
        int dimT = headDim / 4;
        int dimH = headDim / 8 * 3;
        int dimW = headDim / 8 * 3;
        AxisTable t = AxisTable.of(dimT, grid.framePositions());
        AxisTable h = AxisTable.of(dimH, grid.heightPositions());
        AxisTable w = AxisTable.of(dimW, grid.widthPositions());

        int tokens = grid.tokens();
        int size = Math.multiplyExact(tokens, headDim);
        float[] cos = new float[size];
        float[] sin = new float[size];
        int row = 0;
        for (int ti = 0; ti < grid.frames(); ti++) {
            for (int hi = 0; hi < grid.gridHeight(); hi++) {
                for (int wi = 0; wi < grid.gridWidth(); wi++) {
                    int base = row * headDim;
                    t.copyRow(ti, cos, sin, base);
                    h.copyRow(hi, cos, sin, base + dimT);
                    w.copyRow(wi, cos, sin, base + dimT + dimH);
                    row++;
                }
            }
        }
        return new RopeTables(tokens, headDim, cos, sin);
    }

    /**
     * The float32 frequencies {@code 1 / 10000^(2j/d)}, {@code j < d/2}, as PyTorch computes them in
     * {@code get_1d_rotary_pos_embed} (float32 arange / d, float32 power, float32 reciprocal).
     */
    static float[] frequencies(int dim) {
        float[] freqs = new float[dim / 2];
        for (int j = 0; j < freqs.length; j++) {
            float exponent = (float) (2 * j) / (float) dim;
            float power = (float) Math.pow(THETA, exponent);
            freqs[j] = 1.0f / power;
        }
        return freqs;
    }

    /** One axis' cos/sin table [positions, dim], already repeat-interleaved. */
    private record AxisTable(int dim, float[] cos, float[] sin) {
        static AxisTable of(int dim, float[] positions) {
            float[] freqs = frequencies(dim);
            float[] cos = new float[positions.length * dim];
            float[] sin = new float[positions.length * dim];
            for (int p = 0; p < positions.length; p++) {
                for (int j = 0; j < freqs.length; j++) {
                    float angle = positions[p] * freqs[j];
                    float c = (float) Math.cos(angle);
                    float s = (float) Math.sin(angle);
                    int at = p * dim + 2 * j;
                    cos[at] = c;
                    cos[at + 1] = c;
                    sin[at] = s;
                    sin[at + 1] = s;
                }
            }
            return new AxisTable(dim, cos, sin);
        }

        void copyRow(int index, float[] cosOut, float[] sinOut, int offset) {
            System.arraycopy(cos, index * dim, cosOut, offset, dim);
            System.arraycopy(sin, index * dim, sinOut, offset, dim);
        }
    }

    /**
     * A pair of RoPE tables, each {@code [tokens, headDim]} float32 flattened row-major.
     *
     * <p>The record owns its two arrays (the constructor does not copy them; do not modify them afterwards); the
     * accessors {@link #cos()} and {@link #sin()} return copies, so a table can be cached and shared between threads.
     * Equality compares contents.
     *
     * @param tokens number of rows (video tokens)
     * @param headDim number of columns (attention head dimension)
     * @param cos the cos table, length {@code tokens * headDim}
     * @param sin the sin table, length {@code tokens * headDim}
     */
    public record RopeTables(int tokens, int headDim, float[] cos, float[] sin) {

        /**
         * Validates the lengths.
         *
         * @throws IllegalArgumentException if a size is not positive or an array length is not
         *     {@code tokens * headDim}
         */
        public RopeTables {
            checkNotNull(cos, "cos must not be null");
            checkNotNull(sin, "sin must not be null");
            checkArgument(tokens > 0 && headDim > 0, "tokens and headDim must be positive, got %s and %s",
                    tokens, headDim);
            long expected = (long) tokens * headDim;
            checkArgument(cos.length == expected && sin.length == expected,
                    "RoPE tables must hold tokens * headDim = %s values, got cos %s and sin %s", expected,
                    cos.length, sin.length);
        }

        /** @return a copy of the cos table, {@code [tokens, headDim]} row-major */
        @Override
        public float[] cos() {
            return cos.clone();
        }

        /** @return a copy of the sin table, {@code [tokens, headDim]} row-major */
        @Override
        public float[] sin() {
            return sin.clone();
        }

        /**
         * @param row token index
         * @param column channel index
         * @return {@code cos[row, column]}
         * @throws IndexOutOfBoundsException if an index is out of range
         */
        public float cosAt(int row, int column) {
            return cos[index(row, column)];
        }

        /**
         * @param row token index
         * @param column channel index
         * @return {@code sin[row, column]}
         * @throws IndexOutOfBoundsException if an index is out of range
         */
        public float sinAt(int row, int column) {
            return sin[index(row, column)];
        }

        private int index(int row, int column) {
            java.util.Objects.checkIndex(row, tokens);
            java.util.Objects.checkIndex(column, headDim);
            return row * headDim + column;
        }

        /**
         * Copies both tables into NDArrays, in the form the transformer's attention takes
         * ({@code image_rotary_emb = (cos, sin)}).
         *
         * @param manager the manager that will own the two arrays (and decides their device)
         * @return {@code [cos, sin]}, each FLOAT32 {@code [tokens, headDim]}, named "cos" and "sin", owned by
         *     {@code manager}
         */
        public NDList toNDList(NDManager manager) {
            checkNotNull(manager, "manager must not be null");
            Shape shape = new Shape(tokens, headDim);
            NDArray c = EngineArrays.create(manager, cos, shape);
            c.setName("cos");
            NDArray s = EngineArrays.create(manager, sin, shape);
            s.setName("sin");
            return new NDList(c, s);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof RopeTables other && tokens == other.tokens && headDim == other.headDim
                    && Arrays.equals(cos, other.cos) && Arrays.equals(sin, other.sin);
        }

        @Override
        public int hashCode() {
            return 31 * (31 * (31 * tokens + headDim) + Arrays.hashCode(cos)) + Arrays.hashCode(sin);
        }

        @Override
        public String toString() {
            return "RopeTables[tokens=" + tokens + ", headDim=" + headDim + "]";
        }
    }
}
