package io.github.cogvideox4j.core.text;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.cogvideox4j.core.io.SafetensorsFiles;
import io.github.cogvideox4j.core.io.TensorSource;
import io.github.cogvideox4j.core.testing.Golden;
import io.github.cogvideox4j.core.testing.TestDevice;
import io.github.cogvideox4j.core.testing.Tolerance;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The T5 encoder against transformers 4.57.6 (shared/golden/t5/encoder_pad226_*). */
class T5EncoderModelGoldenTest {
    private static final double RTOL = 1e-4;

    private static double atol(Path dir) throws Exception {
        JsonNode c = new ObjectMapper().readTree(dir.resolve("case.json").toFile());
        return c.get("tolerance_suggestion").get("atol").asDouble();
    }

    @Test
    void relativeBucketsMatchTransformersForEveryOffsetOf226Tokens() throws Exception {
        Path dir = Golden.path("t5", "encoder_pad226_nomask");
        try (NDManager m = NDManager.newBaseManager(TestDevice.get());
                TensorSource out = SafetensorsFiles.open(dir.resolve("outputs.safetensors"))) {
            long[] expected = out.read("relative_position_bucket", m).toLongArray();
            assertThat(expected).hasSize(451);
            for (int r = -225; r <= 225; r++) {
                assertThat(T5RelativePosition.bucket(r, 32, 128)).as("bucket of rel %s", r)
                        .isEqualTo(expected[r + 225]);
            }
        }
    }

    @Test
    void positionBiasMatchesTheTableIndexedByBuckets() throws Exception {
        Path dir = Golden.path("t5", "encoder_pad226_nomask");
        try (TensorSource w = SafetensorsFiles.open(dir.resolve("model.safetensors"));
                TensorSource out = SafetensorsFiles.open(dir.resolve("outputs.safetensors"))) {
            float[] table = w.readFloats("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight");
            float[] expected = out.readFloats("position_bias_by_relpos"); // [4, 451], rel = k - q
            float[] bias = T5RelativePosition.bias(table, 4, 226, 32, 128); // [4, 226, 226]
            float[] actual = new float[expected.length];
            for (int h = 0; h < 4; h++) {
                for (int r = -225; r <= 225; r++) {
                    int q = r >= 0 ? 0 : -r; // any (q, k) with k - q = r
                    int k = q + r;
                    actual[h * 451 + r + 225] = bias[(h * 226 + q) * 226 + k];
                }
            }
            Tolerance.assertClose("position_bias_by_relpos", actual, expected, 0, 0);
        }
    }

    @Test
    void unmaskedEncoderMatchesLastHiddenStateAndBlock0Output() throws Exception {
        checkCase("encoder_pad226_nomask", false);
    }

    @Test
    void maskedEncoderMatchesLastHiddenStateAndBlock0Output() throws Exception {
        checkCase("encoder_pad226_mask", true);
    }

    private static void checkCase(String name, boolean masked) throws Exception {
        Path dir = Golden.path("t5", name);
        double atol = atol(dir);
        try (NDManager m = NDManager.newBaseManager(TestDevice.get());
                T5EncoderModel model = T5EncoderModel.load(dir, m, DataType.FLOAT32);
                TensorSource in = SafetensorsFiles.open(dir.resolve("inputs.safetensors"));
                TensorSource out = SafetensorsFiles.open(dir.resolve("outputs.safetensors"))) {
            NDArray ids = in.read("input_ids", m);
            NDArray mask = masked ? in.read("attention_mask", m) : null;
            NDList hs = model.forwardWithHiddenStates(ids, mask);
            assertThat(hs).hasSize(3);
            double e1 = Tolerance.assertClose(name + " hidden_states.1", hs.get(1).toFloatArray(),
                    out.readFloats("hidden_states.1"), atol, RTOL);
            double eL = Tolerance.assertClose(name + " last_hidden_state", hs.get(2).toFloatArray(),
                    out.readFloats("last_hidden_state"), atol, RTOL);
            NDArray last = model.forward(ids, mask);
            assertThat(last.getShape().getShape()).containsExactly(ids.getShape().get(0), 226, 64);
            assertThat(last.toFloatArray()).containsExactly(hs.get(2).toFloatArray());
            System.out.printf("%s: max|err| hidden_states.1 %.3g, last_hidden_state %.3g (atol %.1g)%n", name, e1, eL,
                    atol);
        }
    }
}
