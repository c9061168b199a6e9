package io.github.cogvideox4j.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.github.cogvideox4j.core.io.SafetensorsFormatException;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A half-written LoRA file (a copy or download cut short, the temporary file of an export killed midway) is refused
 * with a message naming the file, and nothing that was there before is lost: the adapter keeps its weights and the
 * previously exported LoRA file stays whole.
 */
class LoraFileDamageTest {
    @TempDir
    Path tmp;

    private static Map<String, float[]> weights(LoraAdapter lora) {
        Map<String, float[]> out = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : lora.namedParameters().entrySet()) {
            out.put(e.getKey(), e.getValue().toFloatArray());
        }
        return out;
    }

    private static void assertSameWeights(Map<String, float[]> actual, Map<String, float[]> expected) {
        assertThat(actual.keySet()).containsExactlyInAnyOrderElementsOf(expected.keySet());
        expected.forEach((k, v) -> assertThat(actual.get(k)).as(k).containsExactly(v));
    }

    @Test
    void loadingAHalfWrittenLoraFailsNamingTheFileAndTheAdapterKeepsItsWeights() throws Exception {
        Path previous = tmp.resolve(LoraExporter.WEIGHT_NAME);
        Path half = tmp.resolve("copied_lora_weights.safetensors");
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(TinyLora.CONFIG, manager, 1);
                LoraAdapter lora = LoraAdapter.inject(model, LoraConfig.of(4, 4))) {
            TinyLora.randomize(lora, 5, 0.2);
            lora.save(previous);
            byte[] whole = Files.readAllBytes(previous);
            Files.write(half, Arrays.copyOf(whole, whole.length / 2));
            Map<String, float[]> before = weights(lora);

            assertThatThrownBy(() -> lora.load(half)).isInstanceOf(SafetensorsFormatException.class)
                    .hasMessageStartingWith("safetensors file " + half);
            assertSameWeights(weights(lora), before);
            assertThat(Files.readAllBytes(previous)).isEqualTo(whole);
        }
    }

    @Test
    void theTemporaryFileOfAnExportKilledMidwayLeavesThePreviousLoraWholeAndIsRefusedByName() throws Exception {
        Path published = tmp.resolve(LoraExporter.WEIGHT_NAME);
        // Where SafetensorsWriter streams a file before it moves it into place in one step.
        Path partial = tmp.resolve("." + LoraExporter.WEIGHT_NAME + ".0b1d5e8c-killed.tmp");
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(TinyLora.CONFIG, manager, 1);
                LoraAdapter lora = LoraAdapter.inject(model, LoraConfig.of(4, 4))) {
            TinyLora.randomize(lora, 5, 0.2);
            lora.save(published);
            Map<String, float[]> first = weights(lora);
            TinyLora.randomize(lora, 6, 0.2);
            Path next = tmp.resolve("next.safetensors");
            lora.save(next);
            byte[] nextBytes = Files.readAllBytes(next);
            Files.write(partial, Arrays.copyOf(nextBytes, nextBytes.length * 2 / 3));

            try (LoraAdapter reloaded = LoraAdapter.fromFile(model, published)) {
                assertSameWeights(weights(reloaded), first);
            }
            assertThatThrownBy(() -> LoraAdapter.fromFile(model, partial))
                    .isInstanceOf(SafetensorsFormatException.class)
                    .hasMessageStartingWith("safetensors file " + partial);
        }
    }
}
