package io.github.cogvideox4j.core.text;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.cogvideox4j.core.io.SafetensorsFiles;
import io.github.cogvideox4j.core.io.TensorSource;
import io.github.cogvideox4j.core.testing.Golden;
import io.github.cogvideox4j.core.testing.TestDevice;
import io.github.cogvideox4j.core.testing.Tolerance;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Prompt ids and embeddings of the tiny CogVideoX pipeline run (shared/golden/pipeline/t2v_5b). */
class PromptEncoderPipelineGoldenTest {

    private static JsonNode run() throws Exception {
        return new ObjectMapper().readTree(Golden.path("pipeline", "t2v_5b", "run.json").toFile());
    }

    @Test
    void promptAndNegativeIdsAndEmbedsMatchThePipelineRun() throws Exception {
        JsonNode run = run();
        Path dir = Golden.path("pipeline", "t2v_5b");
        String prompt = run.get("call").get("prompt").asText();
        String negative = run.get("call").get("negative_prompt").asText();
        try (NDManager m = NDManager.newBaseManager(TestDevice.get());
                T5PromptEncoder enc = T5PromptEncoder.load(dir.resolve("model"), m, DataType.FLOAT32);
                TensorSource ref = SafetensorsFiles.open(dir.resolve("run.safetensors"))) {
            check(enc, m, ref, run, prompt, "prompt_input_ids", "prompt_embeds");
            check(enc, m, ref, run, negative, "negative_input_ids", "negative_prompt_embeds");
        }
    }

    private static void check(T5PromptEncoder enc, NDManager m, TensorSource ref, JsonNode run, String text,
            String idsKey, String embedsKey) {
        NDArray ids = enc.inputIds(List.of(text), m);
        assertThat(ids.toLongArray()).as(idsKey).containsExactly(ref.read(idsKey, m).toLongArray());
        NDArray embeds = enc.encode(List.of(text), 1, m);
        assertThat(embeds.getShape().getShape()).containsExactly(1, 226, 32);
        JsonNode tol = run.get("tolerances").get(embedsKey);
        double err = Tolerance.assertClose(embedsKey, embeds.toFloatArray(), ref.readFloats(embedsKey),
                tol.get("atol").asDouble(), tol.get("rtol").asDouble());
        System.out.printf("%s: max|err| %.3g (atol %s)%n", embedsKey, err, tol.get("atol"));
    }

    @Test
    void numVideosPerPromptRepeatsEachPromptConsecutively() throws Exception {
        Path dir = Golden.path("pipeline", "t2v_5b", "model");
        try (NDManager m = NDManager.newBaseManager(TestDevice.get());
                T5PromptEncoder enc = T5PromptEncoder.load(dir, m, DataType.FLOAT32)) {
            NDArray single = enc.encode(List.of("a cat", "a dog"), 1, m);
            NDArray twice = enc.encode(List.of("a cat", "a dog"), 2, m);
            assertThat(twice.getShape().getShape()).containsExactly(4, 226, 32);
            for (int i = 0; i < 4; i++) {
                assertThat(twice.get(new NDIndex("{}", i)).toFloatArray()).as("row %s", i)
                        .containsExactly(single.get(new NDIndex("{}", i / 2)).toFloatArray());
            }
        }
    }
}
