package io.github.cogvideox4j.core.embed;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/** TEMPORARY stub (replaced by the rope branch). */
public final class RotaryPositionalEmbedding3d {
    private RotaryPositionalEmbedding3d() {}

    public record RopeTables(int tokens, int headDim, float[] cos, float[] sin) {
        public NDList toNDList(NDManager m) {
            return new NDList(m.create(cos, new Shape(tokens, headDim)), m.create(sin, new Shape(tokens, headDim)));
        }
    }

    public static RopeTables compute(RopeGrid grid, int headDim) {
        throw new UnsupportedOperationException("stub");
    }
}
