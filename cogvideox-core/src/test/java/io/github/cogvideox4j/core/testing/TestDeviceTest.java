package io.github.cogvideox4j.core.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import ai.djl.engine.Engine;
import org.junit.jupiter.api.Test;

class TestDeviceTest {
    @Test
    void cpuNamesTheCpu() {
        assertThat(TestDevice.parse("cpu")).isEqualTo(Device.cpu());
    }

    @Test
    void anUnknownDeviceNameFailsNamingThePropertyAndTheAcceptedNames() {
        assertThatThrownBy(() -> TestDevice.parse("tpu0"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("-Dcogvideox.test.device=tpu0 is not a device: expected cpu or gpuN (e.g. gpu0)");
    }

    @Test
    void aGpuTheEngineDoesNotSeeFailsWithTheCountItSees() {
        int gpus = Engine.getEngine("PyTorch").getGpuCount();
        String name = "gpu" + gpus;
        assertThatThrownBy(() -> TestDevice.parse(name))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("-Dcogvideox.test.device=" + name + " asks for GPU " + gpus)
                .hasMessageContaining("the PyTorch engine sees " + gpus + " GPU(s)")
                .hasMessageContaining("-Pcuda");
    }

    @Test
    void theBuildPassesTheTestDeviceToTheTestJvm() {
        assertThat(System.getProperty(TestDevice.PROPERTY)).isNotNull();
        assertThat(TestDevice.get()).isEqualTo(TestDevice.parse(System.getProperty(TestDevice.PROPERTY)));
    }
}
