package io.github.cogvideox4j.core.io;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import ai.djl.ndarray.types.Shape;
import java.util.Arrays;

/**
 * One tensor entry of a safetensors header: its name, dtype, shape and byte range.
 *
 * <p>{@code begin} and {@code end} are byte offsets relative to the start of the file's data buffer (the
 * byte after the header), exactly as stored in {@code "data_offsets"}; {@code end - begin} equals
 * {@code dtype.byteSize() * numel()} for every entry a reader hands out. A shape of length 0 is a scalar
 * (one element); a shape with a 0 dimension has no elements.
 *
 * <p>Thread safety: immutable (the shape array is copied in and out), safe to share.
 *
 * @param name the tensor's name in the header
 * @param dtype the element type
 * @param shape the dimensions, row-major, each {@code >= 0}
 * @param begin first byte, relative to the data buffer, {@code >= 0}
 * @param end one past the last byte, {@code >= begin}
 */
public record TensorInfo(String name, SafetensorsDType dtype, long[] shape, long begin, long end) {

    /**
     * Validates the entry.
     *
     * @param name the tensor's name in the header
     * @param dtype the element type
     * @param shape the dimensions, each {@code >= 0} (copied)
     * @param begin first byte, relative to the data buffer
     * @param end one past the last byte
     * @throws IllegalArgumentException if a dimension or offset is negative or {@code end < begin}
     * @throws NullPointerException if {@code name}, {@code dtype} or {@code shape} is {@code null}
     */
    public TensorInfo {
        checkNotNull(name, "name");
        checkNotNull(dtype, "dtype");
        shape = checkNotNull(shape, "shape").clone();
        for (long d : shape) {
            checkArgument(d >= 0, "tensor '%s': negative dimension in shape %s", name, Arrays.toString(shape));
        }
        checkArgument(begin >= 0 && end >= begin, "tensor '%s': bad byte range [%s, %s)", name, begin, end);
    }

    /** @return a copy of the dimensions */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /**
     * @return the number of elements: the product of the dimensions (1 for a scalar)
     * @throws ArithmeticException if the product overflows a {@code long}
     */
    public long numel() {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** @return {@code end - begin}, the number of bytes the tensor occupies in the file */
    public long byteLength() {
        return end - begin;
    }

    /** @return the shape as a DJL {@link Shape} (a fresh object) */
    public Shape djlShape() {
        return new Shape(shape);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t
                && name.equals(t.name)
                && dtype == t.dtype
                && Arrays.equals(shape, t.shape)
                && begin == t.begin
                && end == t.end;
    }

    @Override
    public int hashCode() {
        return ((name.hashCode() * 31 + dtype.hashCode()) * 31 + Arrays.hashCode(shape)) * 31
                + Long.hashCode(begin) * 17 + Long.hashCode(end);
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape) + " bytes [" + begin + ", " + end + ")";
    }
}
