package io.github.cogvideox4j.core.dist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.core.dist.ProcessGroup.ReduceOp;
import io.github.cogvideox4j.core.kernel.KernelPack;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Java-side guards of {@link GlooProcessGroup}: bad arrays are refused before any native call, and the group
 * stays usable after a refusal. A one-rank Gloo group in this JVM (the guards do not depend on the world size).
 */
class GlooProcessGroupGuardTest {
    @TempDir
    Path dir;

    private NDManager manager;
    private FileRendezvousStore store;
    private GlooProcessGroup group;

    @BeforeEach
    void connect() {
        manager = NDManager.newBaseManager(Device.cpu());
        Duration timeout = Duration.ofSeconds(10);
        store = new FileRendezvousStore(dir, 0, 1, timeout);
        group = GlooProcessGroup.connect(new DistributedEnvironment(0, 1, 0, 1, "127.0.0.1", 29500), store, timeout);
    }

    @AfterEach
    void close() {
        group.close();
        store.close();
        manager.close();
    }

    @Test
    void refusesBf16ArraysThatDjlReportsAsUnknownInsteadOfAbortingTheJvm() {
        try (KernelPack pack = KernelPack.load()) {
            NDArray bf16 = pack.toBf16(floats(4));
            assertThatThrownBy(() -> group.allReduce(ReduceOp.SUM, bf16))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("allReduce: array 0 has dtype " + bf16.getDataType().name())
                    .hasMessageContaining("FLOAT32 or FLOAT64");
            assertStillUsable();
        }
    }

    @Test
    void refusesFloat16AndIntegerArrays() {
        NDArray half = floats(4).toType(DataType.FLOAT16, false);
        NDArray ints = EngineArrays.create(manager, new int[] {1, 2}, new Shape(2));
        assertThatThrownBy(() -> group.allReduce(ReduceOp.SUM, floats(4), half))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("array 1 has dtype FLOAT16");
        assertThatThrownBy(() -> group.broadcast(0, ints))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("broadcast: array 0 has dtype INT32");
        assertStillUsable();
    }

    @Test
    void refusesFloat64WhereOnlyFloat32IsTaken() {
        NDArray d = EngineArrays.create(manager, new double[] {1, 2}, new Shape(2));
        assertThatThrownBy(() -> group.allGather(d, floats(2)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("allGather: input has dtype FLOAT64; Gloo collectives take FLOAT32 arrays");
        assertThatThrownBy(() -> group.reduceScatter(ReduceOp.SUM, floats(2), d))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("reduceScatter: output has dtype FLOAT64");
    }

    @Test
    void refusesANonContiguousView() {
        NDArray transposed = EngineArrays.create(manager, new float[6], new Shape(2, 3)).transpose();
        assertThatThrownBy(() -> group.allReduce(ReduceOp.SUM, transposed))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("allReduce: array 0 is not contiguous");
        assertStillUsable();
    }

    @Test
    void refusesAClosedArray() {
        NDArray x = floats(3);
        x.close();
        assertThatThrownBy(() -> group.allReduce(ReduceOp.AVERAGE, x))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("allReduce: array 0 is closed");
    }

    @Test
    void refusesReduceScatterAndAllGatherSizesThatDoNotFitTheWorldSize() {
        assertThatThrownBy(() -> group.reduceScatter(ReduceOp.SUM, floats(6), floats(3)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("reduceScatter over 1 ranks: the input has 6 elements, expected worldSize * "
                        + "output = 1 * 3 = 3");
        assertThatThrownBy(() -> group.allGather(floats(3), floats(4)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("allGather over 1 ranks: the output has 4 elements, expected worldSize * "
                        + "input = 1 * 3 = 3");
        assertStillUsable();
    }

    @Test
    void refusesABroadcastRootOutsideTheGroup() {
        assertThatThrownBy(() -> group.broadcast(1, floats(2)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("broadcast root 1 out of [0, 1)");
    }

    @Test
    void aClosedGroupRefusesCallsAndClosesOnlyOnce() {
        group.close();
        group.close();
        assertThatThrownBy(() -> group.barrier())
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("barrier on a closed process group");
    }

    @Test
    void runsTheCollectivesInPlaceOverOneRank() {
        NDArray x = EngineArrays.create(manager, new float[] {1, -2, 3.5f}, new Shape(3));
        group.allReduce(ReduceOp.AVERAGE, x);
        assertThat(x.toFloatArray()).containsExactly(1, -2, 3.5f);
        NDArray gathered = manager.zeros(new Shape(3));
        group.allGather(x, gathered);
        assertThat(gathered.toFloatArray()).containsExactly(1, -2, 3.5f);
        NDArray part = manager.zeros(new Shape(3));
        group.reduceScatter(ReduceOp.SUM, x, part);
        assertThat(part.toFloatArray()).containsExactly(1, -2, 3.5f);
        group.barrier();
    }

    @Test
    void reduceScatterAndAllGatherMayWriteOverTheirOwnInput() {
        NDArray x = EngineArrays.create(manager, new float[] {4, 5, 6}, new Shape(3));
        group.reduceScatter(ReduceOp.SUM, x, x);
        group.allGather(x, x);
        assertThat(x.toFloatArray()).containsExactly(4, 5, 6);
    }

    private void assertStillUsable() {
        NDArray x = EngineArrays.create(manager, new float[] {2, 3}, new Shape(2));
        group.allReduce(ReduceOp.SUM, x);
        assertThat(x.toFloatArray()).containsExactly(2, 3);
    }

    private NDArray floats(int n) {
        return EngineArrays.create(manager, new float[n], new Shape(n));
    }
}
