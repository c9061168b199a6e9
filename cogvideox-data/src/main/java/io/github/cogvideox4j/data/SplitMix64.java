package io.github.cogvideox4j.data;

/**
 * A SplitMix64 generator (Steele, Lea and Flood 2014), written out here so that a seeded sampler gives the same
 * sequence on every JDK (the JDK's generators are free to change their algorithm between releases).
 *
 * <p>Thread safety: not thread-safe; one instance per computation.
 */
final class SplitMix64 {
    private static final long GAMMA = 0x9E3779B97F4A7C15L;
    private long state;

    SplitMix64(long seed) {
        this.state = seed;
    }

    /** A well-mixed 64-bit function of two keys (used to derive per-epoch streams). */
    static long mix(long a, long b) {
        return mix64(mix64(a + GAMMA) ^ (b * GAMMA + 0x632BE59BD9B4E019L));
    }

    static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    long nextLong() {
        state += GAMMA;
        return mix64(state);
    }

    /** Uniform int in {@code [0, bound)} without modulo bias (Lemire's multiply-shift with rejection). */
    int nextInt(int bound) {
        long m = (nextLong() >>> 32) * bound;
        long low = m & 0xFFFFFFFFL;
        if (low < bound) {
            long threshold = (0x100000000L - bound) % bound;
            while (low < threshold) {
                m = (nextLong() >>> 32) * bound;
                low = m & 0xFFFFFFFFL;
            }
        }
        return (int) (m >>> 32);
    }

    /** Fisher-Yates shuffle of {@code a[from, to)}. */
    void shuffle(int[] a, int from, int to) {
        for (int i = to - from; i > 1; i--) {
            int j = nextInt(i);
            int x = a[from + i - 1];
            a[from + i - 1] = a[from + j];
            a[from + j] = x;
        }
    }
}
