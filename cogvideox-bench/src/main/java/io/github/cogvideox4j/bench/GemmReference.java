package io.github.cogvideox4j.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;

/** The plain fp32 GEMM the benches report their FLOP rates against, measured in the same process. */
final class GemmReference {
    private GemmReference() {}

    /**
     * @param m rows of the left operand
     * @param k the shared dimension
     * @param n columns of the right operand
     * @param reps timed repetitions after one warm-up
     * @return the best FLOP rate (FLOP/s) of an fp32 {@code [m, k] x [k, n]} matMul
     */
    static double rate(long m, long k, long n, int reps) {
        try (NDManager g = NDManager.newBaseManager()) {
            NDArray a = g.randomNormal(new Shape(m, k));
            NDArray b = g.randomNormal(new Shape(k, n));
            double[] sec = new double[reps];
            for (int i = -1; i < reps; i++) {
                try (NDManager s = g.newSubManager()) {
                    long t0 = System.nanoTime();
                    NDArray c = a.matMul(b);
                    c.attach(s);
                    double e = (System.nanoTime() - t0) / 1e9;
                    if (i >= 0) {
                        sec[i] = e;
                    }
                }
            }
            Arrays.sort(sec);
            return 2.0 * m * k * n / sec[0];
        }
    }
}
