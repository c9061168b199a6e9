package io.github.cogvideox4j.core.io;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class HalfPrecisionTest {

    /** Straightforward definition of binary16: sign, 5-bit exponent (bias 15), 10-bit fraction. */
    private static double referenceF16(int h) {
        int sign = (h >>> 15) & 1;
        int exp = (h >>> 10) & 0x1F;
        int frac = h & 0x3FF;
        double magnitude;
        if (exp == 0) {
            magnitude = frac * Math.pow(2, -24); // subnormal: 0.frac * 2^-14
        } else if (exp == 31) {
            magnitude = frac == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
        } else {
            magnitude = (1024 + frac) * Math.pow(2, exp - 25); // 1.frac * 2^(exp-15)
        }
        return sign == 1 ? -magnitude : magnitude;
    }

    @Test
    void f16WideningMatchesTheDefinitionForAll65536Values() {
        for (int h = 0; h < 65536; h++) {
            float actual = HalfPrecision.f16ToFloat(h);
            double expected = referenceF16(h);
            if (Double.isNaN(expected)) {
                assertThat(actual).as("0x%04x", h).isNaN();
                // Payload kept: the 10 fraction bits move to the top of the 23-bit significand.
                assertThat(Float.floatToRawIntBits(actual)).as("0x%04x", h)
                        .isEqualTo(((h & 0x8000) << 16) | 0x7F800000 | ((h & 0x3FF) << 13));
            } else {
                assertThat((double) actual).as("0x%04x", h).isEqualTo(expected);
                // Signed zeros keep their sign.
                assertThat(Math.copySign(1.0, actual)).as("sign of 0x%04x", h)
                        .isEqualTo((h & 0x8000) != 0 ? -1.0 : 1.0);
            }
        }
    }

    @Test
    void f16WideningHandlesTheKnownEdgeValues() {
        assertThat(HalfPrecision.f16ToFloat(0x0001)).isEqualTo((float) Math.pow(2, -24)); // smallest subnormal
        assertThat(HalfPrecision.f16ToFloat(0x03FF)).isEqualTo((float) (1023 * Math.pow(2, -24))); // largest subnormal
        assertThat(HalfPrecision.f16ToFloat(0x0400)).isEqualTo((float) Math.pow(2, -14)); // smallest normal
        assertThat(HalfPrecision.f16ToFloat(0x7BFF)).isEqualTo(65504f); // largest finite
        assertThat(HalfPrecision.f16ToFloat(0x7C00)).isEqualTo(Float.POSITIVE_INFINITY);
        assertThat(HalfPrecision.f16ToFloat(0xFC00)).isEqualTo(Float.NEGATIVE_INFINITY);
        assertThat(HalfPrecision.f16ToFloat(0x3C00)).isEqualTo(1f);
        assertThat(HalfPrecision.f16ToFloat(0xC000)).isEqualTo(-2f);
    }

    /** Straightforward definition of bfloat16: sign, 8-bit exponent (bias 127), 7-bit fraction. */
    private static double referenceBf16(int b) {
        int sign = (b >>> 15) & 1;
        int exp = (b >>> 7) & 0xFF;
        int frac = b & 0x7F;
        double magnitude;
        if (exp == 0) {
            magnitude = frac * Math.pow(2, -133); // 0.frac * 2^-126
        } else if (exp == 255) {
            magnitude = frac == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
        } else {
            magnitude = (128 + frac) * Math.pow(2, exp - 134);
        }
        return sign == 1 ? -magnitude : magnitude;
    }

    @Test
    void bf16WideningMatchesTheDefinitionForAll65536Values() {
        for (int b = 0; b < 65536; b++) {
            float actual = HalfPrecision.bf16ToFloat(b);
            double expected = referenceBf16(b);
            if (Double.isNaN(expected)) {
                assertThat(actual).as("0x%04x", b).isNaN();
            } else {
                assertThat((double) actual).as("0x%04x", b).isEqualTo(expected);
            }
            assertThat(HalfPrecision.bf16ToF32Bits(b)).isEqualTo(b << 16);
        }
    }

    @Test
    void bf16RoundingIsExactOnRepresentableValuesAndTiesToEven() {
        for (int b = 0; b < 65536; b++) {
            float f = HalfPrecision.bf16ToFloat(b);
            if (!Float.isNaN(f)) {
                assertThat(HalfPrecision.floatToBf16(f) & 0xFFFF).as("0x%04x", b).isEqualTo(b);
            }
        }
        // 1 + 2^-8 is halfway between 1 (even mantissa) and 1 + 2^-7: rounds down to 1.
        assertThat(HalfPrecision.floatToBf16(1f + 0x1p-8f)).isEqualTo((short) 0x3F80);
        // 1 + 3*2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even): rounds up.
        assertThat(HalfPrecision.floatToBf16(1f + 3 * 0x1p-8f)).isEqualTo((short) 0x3F82);
        // Just above halfway rounds up.
        assertThat(HalfPrecision.floatToBf16(Math.nextUp(1f + 0x1p-8f))).isEqualTo((short) 0x3F81);
        assertThat(HalfPrecision.floatToBf16(Float.MAX_VALUE)).isEqualTo((short) 0x7F80); // overflows to +inf
        assertThat(HalfPrecision.floatToBf16(Float.NaN)).isEqualTo((short) 0x7FC0);
    }

    @Test
    void f16RoundingIsTheIdentityOnEveryHalfValue() {
        for (int h = 0; h < 65536; h++) {
            float f = HalfPrecision.f16ToFloat(h);
            if (Float.isNaN(f)) {
                assertThat(HalfPrecision.floatToF16(f) & 0x7FFF).as("0x%04x", h).isEqualTo(0x7E00);
            } else {
                assertThat(HalfPrecision.floatToF16(f) & 0xFFFF).as("0x%04x", h).isEqualTo(h);
            }
        }
    }

    @Test
    void f16RoundingGoesToTheNearestHalfWithTiesToEven() {
        java.util.SplittableRandom random = new java.util.SplittableRandom(14);
        for (int i = 0; i < 200_000; i++) {
            float f = Float.intBitsToFloat(random.nextInt());
            if (Float.isNaN(f) || Math.abs(f) >= 65520f) {
                continue;
            }
            int h = HalfPrecision.floatToF16(f) & 0xFFFF;
            double err = Math.abs((double) HalfPrecision.f16ToFloat(h) - f);
            // neither neighbour is closer (the neighbours of h in the ordered half line)
            for (int n : new int[] {h - 1, h + 1}) {
                if (n >= 0 && n < 0x7C00 || n > 0x8000 && n < 0xFC00) {
                    double other = Math.abs((double) HalfPrecision.f16ToFloat(n) - f);
                    assertThat(err).as("%s -> 0x%04x vs 0x%04x", f, h, n).isLessThanOrEqualTo(other);
                    if (err == other) {
                        assertThat(h & 1).as("tie of %s goes to the even 0x%04x", f, h).isZero();
                    }
                }
            }
        }
        assertThat(HalfPrecision.floatToF16(65520f)).isEqualTo((short) 0x7C00);
        assertThat(HalfPrecision.floatToF16(Float.NaN) & 0xFFFF).isEqualTo(0x7E00);
    }
}
