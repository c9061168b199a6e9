package io.github.cogvideox4j.core.io;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * A tensor given as raw little-endian bytes, for {@link SafetensorsWriter#write(java.nio.file.Path,
 * java.util.List, java.util.Map)}: the way to write dtypes DJL cannot hold (BF16) or to craft files in tests.
 *
 * <p>The bytes are the {@code remaining()} bytes of the buffer passed in (position to limit); the record
 * keeps a read-only view of them, so later changes to the caller's buffer <em>contents</em> are visible,
 * changes to its position or limit are not.
 *
 * <p>Thread safety: immutable as long as the caller does not modify the buffer contents.
 *
 * @param name the tensor name (not {@code "__metadata__"})
 * @param dtype the element type
 * @param shape the dimensions, each {@code >= 0}
 * @param littleEndianBytes exactly {@code numel * dtype.byteSize()} bytes, little-endian, row-major
 */
public record TensorData(String name, SafetensorsDType dtype, long[] shape, ByteBuffer littleEndianBytes) {

    /**
     * Validates the record.
     *
     * @param name the tensor name (not {@code "__metadata__"})
     * @param dtype the element type
     * @param shape the dimensions, each {@code >= 0} (copied)
     * @param littleEndianBytes exactly {@code numel * dtype.byteSize()} remaining bytes
     * @throws IllegalArgumentException if a dimension is negative, the name is {@code "__metadata__"}, or the
     *     byte count does not equal {@code numel * dtype.byteSize()}
     */
    public TensorData {
        checkNotNull(name, "name");
        checkNotNull(dtype, "dtype");
        checkArgument(!SafetensorsHeader.METADATA_KEY.equals(name), "'__metadata__' cannot be a tensor name");
        shape = checkNotNull(shape, "shape").clone();
        long numel = 1;
        for (long d : shape) {
            checkArgument(d >= 0, "tensor '%s': negative dimension in shape %s", name, Arrays.toString(shape));
            numel = Math.multiplyExact(numel, d);
        }
        long expected = Math.multiplyExact(numel, (long) dtype.byteSize());
        checkNotNull(littleEndianBytes, "littleEndianBytes");
        checkArgument(littleEndianBytes.remaining() == expected,
                "tensor '%s': %s x shape %s needs %s bytes, buffer has %s", name, dtype, Arrays.toString(shape),
                expected, littleEndianBytes.remaining());
        littleEndianBytes = littleEndianBytes.slice().asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** @return a copy of the dimensions */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** @return a read-only little-endian view of the bytes, position 0 */
    @Override
    public ByteBuffer littleEndianBytes() {
        return littleEndianBytes.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * @param name the tensor name
     * @param shape the dimensions
     * @param values row-major values
     * @return an F32 tensor
     */
    public static TensorData f32(String name, long[] shape, float... values) {
        return new TensorData(name, SafetensorsDType.F32, shape, TensorCodec.f32Bytes(values));
    }

    /**
     * @param name the tensor name
     * @param shape the dimensions
     * @param values row-major values
     * @return an F64 tensor
     */
    public static TensorData f64(String name, long[] shape, double... values) {
        ByteBuffer b = ByteBuffer.allocate(Math.multiplyExact(values.length, 8)).order(ByteOrder.LITTLE_ENDIAN);
        b.asDoubleBuffer().put(values);
        return new TensorData(name, SafetensorsDType.F64, shape, b);
    }

    /**
     * @param name the tensor name
     * @param shape the dimensions
     * @param values row-major values
     * @return an I64 tensor
     */
    public static TensorData i64(String name, long[] shape, long... values) {
        ByteBuffer b = ByteBuffer.allocate(Math.multiplyExact(values.length, 8)).order(ByteOrder.LITTLE_ENDIAN);
        b.asLongBuffer().put(values);
        return new TensorData(name, SafetensorsDType.I64, shape, b);
    }

    /**
     * A 16-bit tensor from raw bits: F16, BF16 or I16.
     *
     * @param name the tensor name
     * @param dtype F16, BF16 or I16
     * @param shape the dimensions
     * @param bits row-major 16-bit patterns (e.g. from {@link HalfPrecision#floatToBf16})
     * @return the tensor
     */
    public static TensorData bits16(String name, SafetensorsDType dtype, long[] shape, short... bits) {
        checkArgument(dtype.byteSize() == 2, "dtype %s is not a 16-bit type", dtype);
        ByteBuffer b = ByteBuffer.allocate(Math.multiplyExact(bits.length, 2)).order(ByteOrder.LITTLE_ENDIAN);
        b.asShortBuffer().put(bits);
        return new TensorData(name, dtype, shape, b);
    }

    /**
     * Rounds floats to bfloat16 (nearest, ties to even) and wraps them as a BF16 tensor.
     *
     * @param name the tensor name
     * @param shape the dimensions
     * @param values row-major values
     * @return a BF16 tensor
     */
    public static TensorData bf16(String name, long[] shape, float... values) {
        short[] bits = new short[values.length];
        for (int i = 0; i < values.length; i++) {
            bits[i] = HalfPrecision.floatToBf16(values[i]);
        }
        return bits16(name, SafetensorsDType.BF16, shape, bits);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorData t
                && name.equals(t.name)
                && dtype == t.dtype
                && Arrays.equals(shape, t.shape)
                && littleEndianBytes.equals(t.littleEndianBytes);
    }

    @Override
    public int hashCode() {
        return (name.hashCode() * 31 + dtype.hashCode()) * 31 + Arrays.hashCode(shape);
    }

    @Override
    public String toString() {
        return "TensorData[" + name + " " + dtype + Arrays.toString(shape) + ", " + littleEndianBytes.remaining()
                + " bytes]";
    }
}
