package io.github.cogvideox4j.core.text;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.CogVideoXException;
import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.core.io.SafetensorsFiles;
import io.github.cogvideox4j.core.io.TensorSource;
import io.github.cogvideox4j.core.model.WeightLoadException;
import io.github.cogvideox4j.core.testing.Golden;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Loading checks of the T5 encoder. */
class T5EncoderModelLoadTest {
    private static final Path CASE = Golden.path("t5", "encoder_pad226_nomask");

    @Test
    void wrongConfigNamesTheMisShapedTensors() throws Exception {
        T5Config wrong = new T5Config(256, 64, 16, 96, 2, 4, 32, 128, 1e-6);
        try (NDManager m = NDManager.newBaseManager();
                TensorSource w = SafetensorsFiles.open(CASE.resolve("model.safetensors"))) {
            assertThatThrownBy(() -> T5EncoderModel.load(wrong, w, m, DataType.FLOAT32, "golden"))
                    .isInstanceOf(WeightLoadException.class).hasMessageContaining("wi_0.weight")
                    .hasMessageContaining("(96, 64)");
        }
    }

    @Test
    void missingLayerIsReported() throws Exception {
        T5Config deeper = new T5Config(256, 64, 16, 128, 3, 4, 32, 128, 1e-6);
        try (NDManager m = NDManager.newBaseManager();
                TensorSource w = SafetensorsFiles.open(CASE.resolve("model.safetensors"))) {
            assertThatThrownBy(() -> T5EncoderModel.load(deeper, w, m, DataType.FLOAT32, "golden"))
                    .isInstanceOf(WeightLoadException.class).hasMessageContaining("encoder.block.2.");
        }
    }

    @Test
    void rejectsTokenIdsOutsideTheVocabulary() throws Exception {
        try (NDManager m = NDManager.newBaseManager();
                T5EncoderModel model = T5EncoderModel.load(CASE, m, DataType.FLOAT32)) {
            NDArray ids = EngineArrays.create(m, new long[] {5, 256}, new Shape(1, 2));
            assertThatThrownBy(() -> model.forward(ids)).isInstanceOf(CogVideoXException.class)
                    .hasMessageContaining("256");
        }
    }

    @Test
    void forwardLeavesNothingOutsideTheCallersManager() throws Exception {
        try (NDManager m = NDManager.newBaseManager();
                T5EncoderModel model = T5EncoderModel.load(CASE, m, DataType.BFLOAT16);
                NDManager caller = m.newSubManager()) {
            NDArray ids = EngineArrays.create(caller, new long[] {5, 6, 1, 0}, new Shape(1, 4));
            int outsideBefore = m.getManagedArrays().size() - caller.getManagedArrays().size();
            NDArray y = model.forward(ids);
            assertThat(y.getManager()).isSameAs(caller);
            assertThat(y.getShape().getShape()).containsExactly(1, 4, 64);
            assertThat(caller.getManagedArrays()).hasSize(2); // ids and the result
            assertThat(m.getManagedArrays().size() - caller.getManagedArrays().size()).isEqualTo(outsideBefore);
        }
    }
}
