package io.github.cogvideox4j.data;

/**
 * Python's arithmetic where it differs from Java's, so that the reference rules are reproduced to the bit.
 * Internal helper; stateless and thread-safe.
 */
final class PythonMath {
    private PythonMath() {
    }

    /**
     * Python {@code a // b} on floats (CPython {@code float_floor_div}: fmod, subtract, divide, floor, round-half
     * correction).
     */
    static double floorDiv(double a, double b) {
        double mod = a % b; // Java's double remainder is C fmod
        double div = (a - mod) / b;
        if (mod != 0.0) {
            if ((b < 0) != (mod < 0)) {
                div -= 1.0;
            }
        }
        double floordiv;
        if (div != 0.0) {
            floordiv = Math.floor(div);
            if (div - floordiv > 0.5) {
                floordiv += 1.0;
            }
        } else {
            floordiv = Math.copySign(0.0, a / b);
        }
        return floordiv;
    }

    /** Python {@code a // b} on ints (floor toward minus infinity). */
    static int floorDiv(int a, int b) {
        return Math.floorDiv(a, b);
    }

    /** Python {@code a % b} on ints (sign of the divisor). */
    static int floorMod(int a, int b) {
        return Math.floorMod(a, b);
    }
}
