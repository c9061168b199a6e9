package io.github.cogvideox4j.core.io;

import ai.djl.ndarray.types.Shape;

/** TEMPORARY stub (replaced by the io branch). */
public record TensorInfo(String name, String dtype, long[] shape, long begin, long end) {
    public Shape djlShape() {
        return new Shape(shape);
    }
}
