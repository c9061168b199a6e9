package io.github.cogvideox4j.core.dist;

import java.util.SplittableRandom;

/**
 * The inputs of the multi-process collective scenarios, the same function in the worker ranks ({@link DistWorker})
 * and in the tests that compute the expected results ({@link GlooProcessGroupTest}).
 */
final class DistData {
    /** Elements of the all-reduce and broadcast arrays: more than one 1 MB Gloo segment, odd. */
    static final int N = 300_001;
    /** Elements each rank receives from reduce-scatter and sends to all-gather. */
    static final int PART = 100_003;
    /** Values of the host-side all-reduce. */
    static final int HOST = 7;
    /** Which rank broadcasts (a non-zero rank). */
    static int root(int worldSize) {
        return worldSize - 1;
    }

    private DistData() {}

    /** Quarter-integers below 2^10: any sum over up to 4 ranks, in any order, is exact in float. */
    static float[] exact(int rank, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = ((i * 7 + rank * 13) % 1001 - 500) * 0.25f + rank * 0.5f;
        }
        return x;
    }

    /** Gaussian floats: sums round, so the order of summation shows in the bits. */
    static float[] randomFloats(int rank, int n) {
        SplittableRandom rnd = new SplittableRandom(1000L + rank);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (rnd.nextDouble(-1, 1) * Math.exp(rnd.nextDouble(-8, 8)));
        }
        return x;
    }

    /** Gaussian doubles. */
    static double[] randomDoubles(int rank, int n) {
        SplittableRandom rnd = new SplittableRandom(2000L + rank);
        double[] x = new double[n];
        for (int i = 0; i < n; i++) {
            x[i] = rnd.nextDouble(-1, 1) * Math.exp(rnd.nextDouble(-20, 20));
        }
        return x;
    }

    /** Host values: eighths, exact in any order. */
    static double[] host(int rank) {
        double[] x = new double[HOST];
        for (int i = 0; i < HOST; i++) {
            x[i] = rank + 0.125 * i;
        }
        return x;
    }
}
