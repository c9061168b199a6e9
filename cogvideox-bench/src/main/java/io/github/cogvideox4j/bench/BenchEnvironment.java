package io.github.cogvideox4j.bench;

import ai.djl.engine.Engine;
import ai.djl.pytorch.jni.JniUtils;
import java.util.Map;

/**
 * States, in every benchmark output, the environment switches that change the numbers by 2× or more
 * (docs/djl-engine.md §1 and §8):
 * <ul>
 *   <li>the MKL vendor switch — fp32 GEMM runs MKL's AVX-512 kernels on AMD only when MKL is told the CPU is
 *       "Intel"; it counts as on when {@code COGVIDEOX_MKL_INTEL=1} or {@code LD_PRELOAD} names a library
 *       containing {@code mkl_intel}. This class only reports; building the switch is done elsewhere;</li>
 *   <li>{@code THP_MEM_ALLOC_ENABLE=1} — libtorch's transparent-huge-page allocation, without which first
 *       touches of fresh memory cost about 2 ms/MB on this VM;</li>
 *   <li>libtorch's intra-/inter-op thread counts and whether DJL runs offline.</li>
 * </ul>
 *
 * <p>Thread safety: stateless; safe from any thread.
 */
public final class BenchEnvironment {
    private BenchEnvironment() {}

    /** @return whether the MKL Intel-vendor switch is set in this process's environment */
    public static boolean mklIntelSwitchOn() {
        return mklIntelSwitchOn(System.getenv());
    }

    /** @return whether {@code THP_MEM_ALLOC_ENABLE=1} is set in this process's environment */
    public static boolean thpEnabled() {
        return thpEnabled(System.getenv());
    }

    static boolean mklIntelSwitchOn(Map<String, String> env) {
        String preload = env.getOrDefault("LD_PRELOAD", "");
        return "1".equals(env.get("COGVIDEOX_MKL_INTEL")) || preload.contains("mkl_intel");
    }

    static boolean thpEnabled(Map<String, String> env) {
        return "1".equals(env.get("THP_MEM_ALLOC_ENABLE"));
    }

    static String describe(Map<String, String> env) {
        return "MKL Intel-vendor switch: " + (mklIntelSwitchOn(env) ? "ON" : "off")
                + " (COGVIDEOX_MKL_INTEL=" + env.getOrDefault("COGVIDEOX_MKL_INTEL", "<unset>")
                + ", LD_PRELOAD=" + env.getOrDefault("LD_PRELOAD", "<unset>") + ")"
                + "; THP_MEM_ALLOC_ENABLE=1: " + (thpEnabled(env) ? "yes" : "NO (allocation-heavy numbers are slow)");
    }

    /**
     * One line describing the switches above plus the engine's thread counts. Initialises the DJL engine.
     *
     * @return e.g. {@code "MKL Intel-vendor switch: off (...); THP_MEM_ALLOC_ENABLE=1: yes; torch threads
     *     intra=2 inter=1; ai.djl.offline=true; cpus=2"}
     */
    public static String describe() {
        Engine.getInstance(); // loads libtorch and applies DJL's thread settings
        return describe(System.getenv())
                + "; torch threads intra=" + JniUtils.getNumThreads() + " inter=" + JniUtils.getNumInteropThreads()
                + "; ai.djl.offline=" + System.getProperty("ai.djl.offline", "<unset>")
                + "; cpus=" + Runtime.getRuntime().availableProcessors();
    }
}
