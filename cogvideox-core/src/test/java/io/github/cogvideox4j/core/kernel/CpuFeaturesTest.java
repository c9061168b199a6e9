package io.github.cogvideox4j.core.kernel;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CpuFeaturesTest {
    @TempDir
    Path dir;

    @Test
    void theFlagsAreTheFirstProcessorsFlagsLine() throws Exception {
        Path info = dir.resolve("cpuinfo");
        Files.writeString(info, "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16\n"
                + "\nprocessor\t: 1\nflags\t\t: fpu\n");
        assertThat(CpuFeatures.read(info)).hasValueSatisfying(f -> assertThat(f)
                .containsExactlyInAnyOrder("fpu", "sse2", "avx2", "avx512f", "avx512_bf16"));
    }

    @Test
    void noCpuinfoMeansTheFlagsAreUnknown() {
        assertThat(CpuFeatures.read(dir.resolve("absent"))).isEmpty();
    }

    @Test
    void aCpuinfoWithoutAFlagsLineMeansTheFlagsAreUnknown() throws Exception {
        Path info = dir.resolve("cpuinfo");
        Files.writeString(info, "processor\t: 0\nFeatures\t: fp asimd\n");
        assertThat(CpuFeatures.read(info)).isEmpty();
    }

    @Test
    void avx512Bf16OrAmxBf16IsANativeBf16Gemm() {
        assertThat(CpuFeatures.nativeBf16Gemm(Optional.of(Set.of("avx2", "avx512f", "avx512_bf16")))).contains(true);
        assertThat(CpuFeatures.nativeBf16Gemm(Optional.of(Set.of("avx2", "amx_bf16")))).contains(true);
    }

    @Test
    void avx2OrPlainAvx512IsNoNativeBf16Gemm() {
        assertThat(CpuFeatures.nativeBf16Gemm(Optional.of(Set.of("avx2", "fma")))).contains(false);
        assertThat(CpuFeatures.nativeBf16Gemm(Optional.of(Set.of("avx2", "avx512f", "avx512bw")))).contains(false);
    }

    @Test
    void unknownFlagsGiveNoAnswer() {
        assertThat(CpuFeatures.nativeBf16Gemm(Optional.empty())).isEmpty();
    }
}
