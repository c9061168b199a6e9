package io.github.cogvideox4j.core.io;

/**
 * Bit-exact conversions between the 16-bit float formats of safetensors files and Java {@code float}
 * (Java 17 has no {@code Float.float16ToFloat}).
 *
 * <ul>
 *   <li>IEEE binary16 (F16) to binary32: exact for every one of the 65536 inputs, including subnormals,
 *       signed zeros and infinities; NaN payloads are kept (shifted into the top of the binary32
 *       significand), as {@code Float.float16ToFloat} of later JDKs does.</li>
 *   <li>bfloat16 (BF16) to binary32: exact, the 16 bits become the upper half of the float.</li>
 *   <li>binary32 to bfloat16: round to nearest, ties to even; every NaN becomes the quiet NaN
 *       {@code 0x7FC0}, as PyTorch does.</li>
 *   <li>binary32 to binary16: round to nearest, ties to even, subnormals included; values beyond the largest
 *       finite half become infinite; every NaN becomes the quiet NaN {@code 0x7E00} with its sign.</li>
 * </ul>
 *
 * <p>Methods return raw {@code int} bits as well as {@code float} values: storing bits avoids any
 * platform canonicalisation of signalling NaNs.
 *
 * <p>Thread safety: stateless, safe to share.
 */
public final class HalfPrecision {
    private HalfPrecision() {}

    /**
     * @param f16 the binary16 bits (only the low 16 bits are used)
     * @return the bits of the equal binary32 value
     */
    public static int f16ToF32Bits(int f16) {
        int h = f16 & 0xFFFF;
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1F;
        int mant = h & 0x3FF;
        if (exp == 0x1F) {
            // Infinity (mant == 0) or NaN (payload kept).
            return sign | 0x7F800000 | (mant << 13);
        }
        if (exp != 0) {
            // Normal: rebias the exponent from 15 to 127.
            return sign | ((exp + (127 - 15)) << 23) | (mant << 13);
        }
        if (mant == 0) {
            return sign; // signed zero
        }
        // Subnormal: value = mant * 2^-24; shift the leading one up to bit 10 and drop it.
        int shift = Integer.numberOfLeadingZeros(mant) - 21;
        return sign | ((127 - 14 - shift) << 23) | (((mant << shift) & 0x3FF) << 13);
    }

    /**
     * @param f16 the binary16 bits (only the low 16 bits are used)
     * @return the equal float value
     */
    public static float f16ToFloat(int f16) {
        return Float.intBitsToFloat(f16ToF32Bits(f16));
    }

    /**
     * @param bf16 the bfloat16 bits (only the low 16 bits are used)
     * @return the bits of the equal binary32 value
     */
    public static int bf16ToF32Bits(int bf16) {
        return (bf16 & 0xFFFF) << 16;
    }

    /**
     * @param bf16 the bfloat16 bits (only the low 16 bits are used)
     * @return the equal float value
     */
    public static float bf16ToFloat(int bf16) {
        return Float.intBitsToFloat(bf16ToF32Bits(bf16));
    }

    /**
     * Rounds a float to bfloat16, to nearest with ties to even; NaN becomes {@code 0x7FC0}.
     *
     * @param value any float
     * @return the bfloat16 bits in the low 16 bits of a short
     */
    public static short floatToBf16(float value) {
        int bits = Float.floatToRawIntBits(value);
        if ((bits & 0x7FFFFFFF) > 0x7F800000) {
            return (short) 0x7FC0;
        }
        int roundingBias = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + roundingBias) >>> 16);
    }

    /**
     * Rounds a float to IEEE binary16, to nearest with ties to even (Java 17 has no
     * {@code Float.floatToFloat16}).
     *
     * @param value any float
     * @return the binary16 bits in the low 16 bits of a short
     */
    public static short floatToF16(float value) {
        int bits = Float.floatToRawIntBits(value);
        int sign = (bits >>> 16) & 0x8000;
        if ((bits & 0x7FFFFFFF) > 0x7F800000) {
            return (short) (sign | 0x7E00);
        }
        int exp = ((bits >>> 23) & 0xFF) - 127 + 15;
        int mant = bits & 0x7FFFFF;
        if (exp >= 31) {
            return (short) (sign | 0x7C00); // overflow (or infinity) to infinity
        }
        if (exp <= 0) {
            if (exp < -10) {
                return (short) sign; // below half the smallest subnormal
            }
            mant |= 0x800000;
            int shift = 14 - exp;
            int half = mant >> shift;
            int rem = mant & ((1 << shift) - 1);
            int mid = 1 << (shift - 1);
            if (rem > mid || (rem == mid && (half & 1) == 1)) {
                half++;
            }
            return (short) (sign | half);
        }
        int half = (exp << 10) | (mant >> 13);
        int rem = mant & 0x1FFF;
        if (rem > 0x1000 || (rem == 0x1000 && (half & 1) == 1)) {
            half++; // may carry into the exponent, up to infinity: correct rounding
        }
        return (short) (sign | half);
    }
}
