package io.github.cogvideox4j.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

class BenchEnvironmentTest {
    @Test
    void mklSwitchIsOnWithTheEnvironmentVariable() {
        assertThat(BenchEnvironment.mklIntelSwitchOn(Map.of("COGVIDEOX_MKL_INTEL", "1"))).isTrue();
        assertThat(BenchEnvironment.mklIntelSwitchOn(Map.of("COGVIDEOX_MKL_INTEL", "0"))).isFalse();
    }

    @Test
    void mklSwitchIsOnWhenLdPreloadNamesTheShim() {
        assertThat(BenchEnvironment.mklIntelSwitchOn(Map.of("LD_PRELOAD", "/opt/x/libfoo.so:/tmp/libmkl_intel_shim.so")))
                .isTrue();
        assertThat(BenchEnvironment.mklIntelSwitchOn(Map.of("LD_PRELOAD", "/usr/lib/libjemalloc.so"))).isFalse();
    }

    @Test
    void mklSwitchIsOffWhenNothingIsSet() {
        assertThat(BenchEnvironment.mklIntelSwitchOn(Map.of())).isFalse();
    }

    @Test
    void thpIsReportedOnlyForTheValueOne() {
        assertThat(BenchEnvironment.thpEnabled(Map.of("THP_MEM_ALLOC_ENABLE", "1"))).isTrue();
        assertThat(BenchEnvironment.thpEnabled(Map.of("THP_MEM_ALLOC_ENABLE", "0"))).isFalse();
        assertThat(BenchEnvironment.thpEnabled(Map.of())).isFalse();
    }

    @Test
    void descriptionStatesBothSwitches() {
        assertThat(BenchEnvironment.describe(Map.of("THP_MEM_ALLOC_ENABLE", "1")))
                .contains("MKL Intel-vendor switch: off")
                .contains("THP_MEM_ALLOC_ENABLE=1: yes");
    }
}
