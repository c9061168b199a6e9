package io.github.cogvideox4j.core.io;

import ai.djl.ndarray.types.DataType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.ShortBuffer;

/**
 * Decodes little-endian safetensors bytes into native-order buffers and Java arrays. Package-private;
 * stateless and thread-safe.
 */
final class TensorCodec {
    static final boolean NATIVE_LITTLE_ENDIAN = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;

    private TensorCodec() {}

    /**
     * The DJL type a stored dtype is materialised as.
     *
     * @param dtype the stored dtype
     * @param target FLOAT32 or FLOAT16 (validated by the caller)
     * @return the DJL type of the array built from the bytes (before any later {@code toType})
     */
    static DataType loadType(SafetensorsDType dtype, DataType target) {
        switch (dtype) {
            case F64:
                return DataType.FLOAT64;
            case F32:
            case BF16:
                return DataType.FLOAT32;
            case F16:
                return target == DataType.FLOAT16 ? DataType.FLOAT16 : DataType.FLOAT32;
            case I64:
                return DataType.INT64;
            case I32:
            case I16:
                return DataType.INT32;
            case I8:
                return DataType.INT8;
            case U8:
                return DataType.UINT8;
            case BOOL:
                return DataType.BOOLEAN;
            default:
                throw new AssertionError(dtype);
        }
    }

    /**
     * @return whether the stored bytes can be copied as they are into a buffer of {@code type} on this
     *     platform (same element layout and byte order)
     */
    static boolean copiesVerbatim(SafetensorsDType dtype, DataType type) {
        boolean sameLayout = type.getNumOfBytes() == dtype.byteSize()
                && !(dtype == SafetensorsDType.BF16)
                && !(dtype == SafetensorsDType.I16);
        return sameLayout && (NATIVE_LITTLE_ENDIAN || dtype.byteSize() == 1);
    }

    /**
     * Converts {@code src} (little-endian, position 0, {@code numel * dtype.byteSize()} bytes) into
     * {@code dst} (native order, position 0, {@code numel * type.getNumOfBytes()} bytes).
     */
    static void decode(SafetensorsDType dtype, ByteBuffer src, DataType type, ByteBuffer dst) {
        ByteBuffer s = src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer d = dst.duplicate().order(ByteOrder.nativeOrder());
        if (copiesVerbatim(dtype, type)) {
            d.put(s);
            return;
        }
        switch (dtype) {
            case F16:
                if (type == DataType.FLOAT16) {
                    d.asShortBuffer().put(s.asShortBuffer());
                } else {
                    f16ToF32(s.asShortBuffer(), d.asIntBuffer());
                }
                return;
            case BF16:
                bf16ToF32(s.asShortBuffer(), d.asIntBuffer());
                return;
            case I16:
                i16ToI32(s.asShortBuffer(), d.asIntBuffer());
                return;
            case F32:
            case I32:
                d.asIntBuffer().put(s.asIntBuffer());
                return;
            case F64:
            case I64:
                d.asLongBuffer().put(s.asLongBuffer());
                return;
            default:
                throw new AssertionError(dtype + " -> " + type);
        }
    }

    /** Widens or narrows a floating-point tensor's bytes (little-endian, position 0) into floats. */
    static float[] decodeFloats(SafetensorsDType dtype, ByteBuffer src, int numel) {
        ByteBuffer s = src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[numel];
        switch (dtype) {
            case F32:
                s.asFloatBuffer().get(out);
                return out;
            case F64: {
                DoubleBuffer db = s.asDoubleBuffer();
                for (int i = 0; i < numel; i++) {
                    out[i] = (float) db.get(i);
                }
                return out;
            }
            case F16: {
                ShortBuffer sb = s.asShortBuffer();
                for (int i = 0; i < numel; i++) {
                    out[i] = Float.intBitsToFloat(HalfPrecision.f16ToF32Bits(sb.get(i)));
                }
                return out;
            }
            case BF16: {
                ShortBuffer sb = s.asShortBuffer();
                for (int i = 0; i < numel; i++) {
                    out[i] = Float.intBitsToFloat(HalfPrecision.bf16ToF32Bits(sb.get(i)));
                }
                return out;
            }
            default:
                throw new AssertionError(dtype);
        }
    }

    /** @return the index of the first byte that is neither 0 nor 1, or -1 */
    static long firstNonBoolean(ByteBuffer bytes) {
        ByteBuffer b = bytes.duplicate();
        int base = b.position();
        for (int i = base, n = b.limit(); i < n; i++) {
            if ((b.get(i) & 0xFE) != 0) {
                return i - base;
            }
        }
        return -1;
    }

    private static void f16ToF32(ShortBuffer s, IntBuffer d) {
        for (int i = 0, n = s.remaining(); i < n; i++) {
            d.put(i, HalfPrecision.f16ToF32Bits(s.get(i)));
        }
    }

    private static void bf16ToF32(ShortBuffer s, IntBuffer d) {
        for (int i = 0, n = s.remaining(); i < n; i++) {
            d.put(i, (s.get(i) & 0xFFFF) << 16);
        }
    }

    private static void i16ToI32(ShortBuffer s, IntBuffer d) {
        for (int i = 0, n = s.remaining(); i < n; i++) {
            d.put(i, s.get(i));
        }
    }

    /** Writes {@code floats} as little-endian F32 bytes (used by {@link TensorData#f32}). */
    static ByteBuffer f32Bytes(float[] floats) {
        ByteBuffer b = ByteBuffer.allocate(Math.multiplyExact(floats.length, 4)).order(ByteOrder.LITTLE_ENDIAN);
        FloatBuffer fb = b.asFloatBuffer();
        fb.put(floats);
        return b;
    }
}
