package io.github.cogvideox4j.core.kernel;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * The CPU's instruction-set flags, as Linux reports them in {@code /proc/cpuinfo}, for the choices whose speed
 * depends on them. bf16 GEMMs (oneDNN, used by {@link KernelPack}'s bf16 methods) are fast only with a native bf16
 * dot product ({@code avx512_bf16} or {@code amx_bf16}); without one, libtorch falls back to a plain loop. Measured on
 * a 2-core AMD EPYC (Zen 3, AVX2 only): about 10 GFLOP/s for a bf16 GEMM of {@code [406, 3072] x [3072, 12288]}
 * against about 80 GFLOP/s in fp32, and 0.34 GFLOP/s for its backward (docs/mixed-precision.md, "Speed").
 *
 * <p>Thread safety: immutable; the flags are read once per JVM.
 */
public final class CpuFeatures {
    private static final Optional<Set<String>> FLAGS = read(Path.of("/proc/cpuinfo"));

    private CpuFeatures() {}

    /**
     * @return the flags of the first processor, or empty where {@code /proc/cpuinfo} is absent or has no
     *     {@code flags} line (not Linux, or not x86)
     */
    public static Optional<Set<String>> flags() {
        return FLAGS;
    }

    /**
     * @return whether the CPU has a native bf16 dot product ({@code avx512_bf16} or {@code amx_bf16}); empty when the
     *     flags cannot be read
     */
    public static Optional<Boolean> hasNativeBf16Gemm() {
        return nativeBf16Gemm(FLAGS);
    }

    static Optional<Boolean> nativeBf16Gemm(Optional<Set<String>> flags) {
        return flags.map(f -> f.contains("avx512_bf16") || f.contains("amx_bf16"));
    }

    static Optional<Set<String>> read(Path cpuinfo) {
        try {
            return Files.readAllLines(cpuinfo, StandardCharsets.US_ASCII).stream()
                    .filter(l -> l.startsWith("flags")).findFirst()
                    .map(l -> Arrays.stream(l.substring(l.indexOf(':') + 1).trim().split("\\s+"))
                            .collect(Collectors.toUnmodifiableSet()));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }
}
