package io.github.cogvideox4j.core;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.Test;

class EngineSmokeTest {
    @Test
    void pytorchEngineLoadsOffline() {
        assertThat(Engine.getInstance().getEngineName()).isEqualTo("PyTorch");
        try (NDManager m = NDManager.newBaseManager()) {
            assertThat(m.ones(new ai.djl.ndarray.types.Shape(2, 2)).sum().getFloat()).isEqualTo(4f);
        }
    }
}
