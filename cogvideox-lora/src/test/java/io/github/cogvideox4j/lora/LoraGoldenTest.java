package io.github.cogvideox4j.lora;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.io.SafetensorsWriter;
import io.github.cogvideox4j.core.io.TensorData;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.testing.Golden;
import io.github.cogvideox4j.core.testing.TestDevice;
import io.github.cogvideox4j.core.testing.Tolerance;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The LoRA files of golden/train: lora_init loads through {@code lora.load}; merge reproduces merged.safetensors. */
class LoraGoldenTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"lora_t2v_5b", "lora_i2v_15_ofs_public"})
    void loraInitLoadsWithItsKeysAndMetadata(String caseName) throws Exception {
        Path dir = Golden.path("train", caseName);
        JsonNode c = JSON.readTree(dir.resolve("case.json").toFile());
        List<String> names = new ArrayList<>();
        c.get("param_names").forEach(n -> names.add(n.asText()));
        try (NDManager manager = NDManager.newBaseManager(TestDevice.get());
                CogVideoXTransformer model = CogVideoXTransformer.load(dir, manager);
                LoraAdapter lora = LoraAdapter.inject(model, LoraConfig.of(4, 8))) {
            LoraFile f = LoraImporter.read(dir.resolve("lora_init.safetensors"), manager);
            assertThat(f.format()).isEqualTo(LoraFormat.DIFFUSERS_PEFT);
            assertThat(f.rank()).isEqualTo(4);
            assertThat(f.alpha()).isEqualTo(8.0);
            assertThat(f.declaredTargets()).containsExactly("to_k", "to_out.0", "to_q", "to_v");
            lora.load(dir.resolve("lora_init.safetensors"));
            assertThat(lora.namedParameters().keySet()).containsExactlyElementsOf(names);
            try (SafetensorsReader r = SafetensorsReader.open(dir.resolve("lora_init.safetensors"))) {
                for (Map.Entry<String, NDArray> e : lora.namedParameters().entrySet()) {
                    assertThat(e.getValue().toFloatArray()).as(e.getKey()).containsExactly(r.readFloats(e.getKey()));
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"lora_t2v_5b", "lora_i2v_15_ofs_public"})
    void mergeOfTheFinalStepReproducesMergedSafetensors(String caseName) throws Exception {
        Path dir = Golden.path("train", caseName);
        int steps = JSON.readTree(dir.resolve("case.json").toFile()).get("training").get("steps").asInt();
        Path finalLora = tmp.resolve("final.safetensors");
        try (SafetensorsReader golden = SafetensorsReader.open(dir.resolve("steps.safetensors"));
                SafetensorsReader init = SafetensorsReader.open(dir.resolve("lora_init.safetensors"))) {
            List<TensorData> tensors = new ArrayList<>();
            for (String name : init.names()) {
                tensors.add(TensorData.f32(name, init.info(name).shape(),
                        golden.readFloats("step" + steps + ".param." + name)));
            }
            SafetensorsWriter.write(finalLora, tensors, init.metadata());
        }
        double worst = 0;
        try (NDManager manager = NDManager.newBaseManager(TestDevice.get());
                CogVideoXTransformer model = CogVideoXTransformer.load(dir, manager);
                LoraAdapter lora = LoraAdapter.inject(model, LoraConfig.of(4, 8));
                SafetensorsReader merged = SafetensorsReader.open(dir.resolve("merged.safetensors"))) {
            lora.load(finalLora);
            lora.merge();
            assertThat(model.namedParameters().keySet()).allMatch(merged::contains);
            for (Map.Entry<String, NDArray> e : model.namedParameters().entrySet()) {
                worst = Math.max(worst, Tolerance.assertClose(caseName + " merged " + e.getKey(),
                        e.getValue().toFloatArray(), merged.readFloats(e.getKey()), 1e-7, 0));
            }
        }
        System.out.printf("%s: merged weights max |diff| %.3g%n", caseName, worst);
    }
}
