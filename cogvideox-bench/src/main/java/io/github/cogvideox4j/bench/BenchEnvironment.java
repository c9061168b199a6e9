package io.github.cogvideox4j.bench;

/** TEMPORARY stub (replaced by the kernel branch). */
final class BenchEnvironment {
    private BenchEnvironment() {}

    static String describe() {
        String preload = System.getenv("LD_PRELOAD");
        return "MKL vendor switch " + (preload != null && preload.contains("mkl_intel") ? "ON" : "OFF")
                + ", THP_MEM_ALLOC_ENABLE=" + System.getenv("THP_MEM_ALLOC_ENABLE");
    }
}
