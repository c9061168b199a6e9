package io.github.cogvideox4j.core.dist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** The torchrun-style variables: read as torchrun sets them, refused with the variable's name when wrong. */
class DistributedEnvironmentTest {
    @Test
    void withoutVariablesTheProcessRunsAlone() {
        DistributedEnvironment e = DistributedEnvironment.from(Map.of());
        assertThat(e.isDistributed()).isFalse();
        assertThat(e.rank()).isZero();
        assertThat(e.worldSize()).isOne();
    }

    @Test
    void torchrunVariablesAreRead() {
        DistributedEnvironment e = DistributedEnvironment.from(Map.of("RANK", "3", "WORLD_SIZE", "4",
                "LOCAL_RANK", "1", "LOCAL_WORLD_SIZE", "2", "MASTER_ADDR", "node-a", "MASTER_PORT", "29555"));
        assertThat(e).isEqualTo(new DistributedEnvironment(3, 4, 1, 2, "node-a", 29555));
        assertThat(e.isDistributed()).isTrue();
    }

    @Test
    void addressAndPortDefaultToLoopbackAndTorchrunsPort() {
        DistributedEnvironment e = DistributedEnvironment.from(Map.of("RANK", "0", "WORLD_SIZE", "2"));
        assertThat(e.masterAddr()).isEqualTo("127.0.0.1");
        assertThat(e.masterPort()).isEqualTo(DistributedEnvironment.DEFAULT_PORT);
    }

    @Test
    void aRankOutsideTheWorldIsRefusedNamingBoth() {
        assertThatThrownBy(() -> DistributedEnvironment.from(Map.of("RANK", "2", "WORLD_SIZE", "2")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("RANK 2")
                .hasMessageContaining("WORLD_SIZE=2");
    }

    @Test
    void aWorldSizeWithoutARankIsRefused() {
        assertThatThrownBy(() -> DistributedEnvironment.from(Map.of("WORLD_SIZE", "2")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("RANK is not");
    }

    @Test
    void aVariableThatIsNotANumberIsNamed() {
        assertThatThrownBy(() -> DistributedEnvironment.from(Map.of("RANK", "0", "WORLD_SIZE", "two")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("WORLD_SIZE")
                .hasMessageContaining("'two'");
    }

    @Test
    void aPortOutOfRangeIsRefused() {
        assertThatThrownBy(() -> DistributedEnvironment.from(Map.of("RANK", "0", "WORLD_SIZE", "2",
                "MASTER_PORT", "70000"))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("MASTER_PORT 70000");
    }
}
