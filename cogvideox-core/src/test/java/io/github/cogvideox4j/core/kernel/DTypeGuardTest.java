package io.github.cogvideox4j.core.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.CogVideoXException;
import org.junit.jupiter.api.Test;

class DTypeGuardTest {
    @Test
    void rejectsARequestedBfloat16NamingTheRequest() {
        assertThatThrownBy(() -> DTypeGuard.requireSupported(DataType.BFLOAT16, "load dtype of transformer"))
                .isInstanceOf(UnsupportedDTypeException.class)
                .isInstanceOf(CogVideoXException.class)
                .hasMessageContaining("load dtype of transformer")
                .hasMessageContaining("BFLOAT16");
    }

    @Test
    void rejectsARequestedUnknownType() {
        assertThatThrownBy(() -> DTypeGuard.requireSupported(DataType.UNKNOWN, "cast target"))
                .isInstanceOf(UnsupportedDTypeException.class)
                .hasMessageContaining("cast target")
                .hasMessageContaining("UNKNOWN");
    }

    @Test
    void passesSupportedRequestedTypesThrough() {
        for (DataType type : new DataType[] {DataType.FLOAT32, DataType.FLOAT16, DataType.FLOAT64, DataType.INT64}) {
            assertThat(DTypeGuard.requireSupported(type, "t")).isSameAs(type);
        }
    }

    @Test
    void passesAFloat32ArrayThroughUnchanged() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.zeros(new Shape(2, 2));
            assertThat(DTypeGuard.requireSupported(x, "x")).isSameAs(x);
        }
    }
}
