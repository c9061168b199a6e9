package io.github.cogvideox4j.core.mkl;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Child-JVM main for {@link MklVendorSwitchTest}: one fp32 GEMM through DJL (MKL's SGEMM in libtorch) on
 * small-integer matrices, so that every kernel computes the exact same result, then prints
 * {@code RESULT <hash of the float bits> <sum>} and {@code PRELOADED <true|false>} (whether the switch's shared
 * object is mapped into this process, from {@code /proc/self/maps}). With {@code MKL_VERBOSE=1} MKL adds its
 * own lines, among them the instruction set it dispatched on.
 */
public final class MklProbe {
    static final int N = 128;

    private MklProbe() {}

    /**
     * @param args unused
     * @throws IOException if {@code /proc/self/maps} cannot be read
     */
    public static void main(String[] args) throws IOException {
        float[] a = new float[N * N];
        float[] b = new float[N * N];
        for (int i = 0; i < N; i++) {
            for (int k = 0; k < N; k++) {
                a[i * N + k] = (i * 7 + k * 3) % 17 - 8; // |products summed| <= 128 * 64: exact in fp32
                b[i * N + k] = (i * 5 + k * 11) % 15 - 7;
            }
        }
        float[] c;
        try (NDManager manager = NDManager.newBaseManager()) {
            NDArray x = manager.create(a, new Shape(N, N));
            NDArray y = manager.create(b, new Shape(N, N));
            c = x.matMul(y).toFloatArray();
        }
        int[] bits = new int[c.length];
        double sum = 0;
        for (int i = 0; i < c.length; i++) {
            bits[i] = Float.floatToRawIntBits(c[i]);
            sum += c[i];
        }
        boolean preloaded = Files.readString(Path.of("/proc/self/maps")).contains("libmkl_intel_cpu.so");
        System.out.println("RESULT " + Arrays.hashCode(bits) + " " + sum);
        System.out.println("PRELOADED " + preloaded);
        System.out.flush();
    }
}
