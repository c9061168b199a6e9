package io.github.cogvideox4j.core.testing;

import static org.assertj.core.api.Assertions.assertThat;

/** The golden README's comparison rules, with messages that say where the worst element is. */
public final class Tolerance {
    private Tolerance() {}

    /**
     * Elementwise {@code |actual - expected| <= atol + rtol * |expected|}.
     *
     * @param what the name shown on failure
     * @param actual the Java values
     * @param expected the reference values
     * @param atol absolute tolerance
     * @param rtol relative tolerance
     * @return the maximum absolute error
     */
    public static double assertClose(String what, float[] actual, float[] expected, double atol, double rtol) {
        assertThat(actual.length).as("%s: element count", what).isEqualTo(expected.length);
        double maxErr = 0;
        int worst = -1;
        double worstExcess = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < actual.length; i++) {
            double err = Math.abs((double) actual[i] - expected[i]);
            if (Double.isNaN(err)) {
                err = Double.POSITIVE_INFINITY;
            }
            maxErr = Math.max(maxErr, err);
            double excess = err - (atol + rtol * Math.abs(expected[i]));
            if (excess > worstExcess) {
                worstExcess = excess;
                worst = i;
            }
        }
        if (worstExcess > 0) {
            throw new AssertionError(String.format("%s: element %d is %s, expected %s (|diff| %.3g > %.1g + %.1g*|ref|);"
                    + " max |diff| %.3g", what, worst, actual[worst], expected[worst],
                    Math.abs(actual[worst] - expected[worst]), atol, rtol, maxErr));
        }
        return maxErr;
    }

    /**
     * Per tensor {@code max|actual - expected| <= rel * max|expected| + abs} (the gradient rule).
     *
     * @param what the name shown on failure
     * @param actual the Java values
     * @param expected the reference values
     * @param rel relative factor on the tensor's max
     * @param abs absolute floor
     * @return the maximum absolute error
     */
    public static double assertCloseToMax(String what, float[] actual, float[] expected, double rel, double abs) {
        assertThat(actual.length).as("%s: element count", what).isEqualTo(expected.length);
        double maxRef = 0;
        double maxErr = 0;
        for (int i = 0; i < actual.length; i++) {
            maxRef = Math.max(maxRef, Math.abs(expected[i]));
            double err = Math.abs((double) actual[i] - expected[i]);
            maxErr = Math.max(maxErr, Double.isNaN(err) ? Double.POSITIVE_INFINITY : err);
        }
        double bound = rel * maxRef + abs;
        if (!(maxErr <= bound)) {
            throw new AssertionError(String.format("%s: max |diff| %.3g > %.3g (= %.0e * max|ref| %.3g + %.0e)", what,
                    maxErr, bound, rel, maxRef, abs));
        }
        return maxErr;
    }
}
