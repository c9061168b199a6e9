package io.github.cogvideox4j.core.io;

import ai.djl.ndarray.types.DataType;

/**
 * The element types this SDK reads and writes in safetensors files, spelled as in the header's
 * {@code "dtype"} field. The safetensors format knows more (unsigned 16–64-bit, 8-bit floats, ...); files
 * using them are rejected with a {@link SafetensorsFormatException} naming the dtype.
 *
 * <p>Thread safety: immutable.
 */
public enum SafetensorsDType {
    /** IEEE 754 binary64. */
    F64(8, 17),
    /** IEEE 754 binary32. */
    F32(4, 15),
    /** IEEE 754 binary16. */
    F16(2, 11),
    /** bfloat16: the upper 16 bits of a binary32. */
    BF16(2, 12),
    /** Signed 64-bit integer. */
    I64(8, 18),
    /** Signed 32-bit integer. */
    I32(4, 13),
    /** Signed 16-bit integer. */
    I16(2, 9),
    /** Signed 8-bit integer. */
    I8(1, 5),
    /** Unsigned 8-bit integer. */
    U8(1, 4),
    /** Boolean, one byte per element holding 0 or 1. */
    BOOL(1, 0);

    private final int byteSize;
    /** Position in the Rust library's {@code Dtype} enum; the writer lays tensors out by decreasing rank. */
    private final int rustRank;

    SafetensorsDType(int byteSize, int rustRank) {
        this.byteSize = byteSize;
        this.rustRank = rustRank;
    }

    /** @return the size of one element in bytes */
    public int byteSize() {
        return byteSize;
    }

    /** @return whether this is a floating-point type (F64, F32, F16, BF16) */
    public boolean isFloatingPoint() {
        return this == F64 || this == F32 || this == F16 || this == BF16;
    }

    /**
     * Parses a header {@code "dtype"} string (case-sensitive, as the format specifies).
     *
     * @param dtype the string from the header
     * @return the dtype
     * @throws SafetensorsFormatException if the string is not one of this enum's names; its file is
     *     {@code Path.of("(unknown file)")} because no file is known here (readers report the real file)
     */
    public static SafetensorsDType parse(String dtype) {
        if (dtype != null) {
            for (SafetensorsDType t : values()) {
                if (t.name().equals(dtype)) {
                    return t;
                }
            }
        }
        throw new SafetensorsFormatException(
                java.nio.file.Path.of("(unknown file)"), null, unknownMessage(dtype));
    }

    static String unknownMessage(String dtype) {
        return "unsupported dtype \"" + dtype + "\" (expected one of F64, F32, F16, BF16, I64, I32, I16, I8, U8,"
                + " BOOL)";
    }

    /**
     * The safetensors dtype that holds a DJL array of the given type as it is, or {@code null} when there
     * is none this SDK writes ({@code BFLOAT16}, {@code UNKNOWN}, {@code STRING}, {@code COMPLEX64},
     * unsigned 16–64-bit).
     *
     * @param type a DJL data type
     * @return the matching dtype or {@code null}
     */
    public static SafetensorsDType fromDjl(DataType type) {
        switch (type) {
            case FLOAT64:
                return F64;
            case FLOAT32:
                return F32;
            case FLOAT16:
                return F16;
            case INT64:
                return I64;
            case INT32:
                return I32;
            case INT16:
                return I16;
            case INT8:
                return I8;
            case UINT8:
                return U8;
            case BOOLEAN:
                return BOOL;
            default:
                return null;
        }
    }

    int rustRank() {
        return rustRank;
    }
}
