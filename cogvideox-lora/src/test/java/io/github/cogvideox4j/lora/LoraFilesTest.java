package io.github.cogvideox4j.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.io.SafetensorsWriter;
import io.github.cogvideox4j.core.io.TensorData;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Export, import of the three layouts, and the refusal cases. */
class LoraFilesTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Map<String, String> PT = Map.of("format", "pt");

    @TempDir
    Path tmp;

    @Test
    void saveThenLoadRoundTripsExactlyWithAlphaMetadata() throws Exception {
        Path file = tmp.resolve(LoraExporter.WEIGHT_NAME);
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(TinyLora.CONFIG, manager, 1);
                LoraAdapter saved = LoraAdapter.inject(model, LoraConfig.of(4, 8))) {
            TinyLora.randomize(saved, 5, 0.2);
            saved.save(file);
            try (SafetensorsReader r = SafetensorsReader.open(file)) {
                assertThat(r.names()).hasSize(8 * TinyLora.CONFIG.numLayers())
                        .contains("transformer.transformer_blocks.1.attn1.to_out.0.lora_B.weight");
                assertThat(r.metadata()).containsEntry("format", "pt");
                JsonNode meta = JSON.readTree(r.metadata().get("lora_adapter_metadata"));
                assertThat(meta.get("transformer.r").asInt()).isEqualTo(4);
                assertThat(meta.get("transformer.lora_alpha").asInt()).isEqualTo(8);
                List<String> targets = new ArrayList<>();
                meta.get("transformer.target_modules").forEach(n -> targets.add(n.asText()));
                assertThat(targets).isEqualTo(TinyLora.defaultModules().stream().sorted().toList());
            }
            try (LoraAdapter loaded = LoraAdapter.inject(model, LoraConfig.of(4, 8).withInitSeed(99))) {
                loaded.load(file);
                for (Map.Entry<String, NDArray> e : saved.namedParameters().entrySet()) {
                    assertThat(loaded.namedParameters().get(e.getKey()).toFloatArray()).as(e.getKey())
                            .containsExactly(e.getValue().toFloatArray());
                }
            }
        }
    }

    @Test
    void foldedAlphaGivesTheTrainedResultAtScaleOne() throws Exception {
        Path file = tmp.resolve("folded.safetensors");
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(TinyLora.CONFIG, manager, 1);
                LoraAdapter trained = LoraAdapter.inject(model, LoraConfig.of(4, 8))) {
            TinyLora.randomize(trained, 5, 0.2);
            trained.save(file, LoraExportOptions.foldAlpha());
            NDArray x = manager.ones(new ai.djl.ndarray.types.Shape(2, TinyLora.D));
            var toQ = model.namedLinears().get("transformer_blocks.0.attn1.to_q");
            float[] expected = toQ.forward(x).toFloatArray();
            trained.setScale(0);
            try (NDManager scratch = NDManager.newBaseManager()) {
                LoraFile f = LoraImporter.read(file, scratch);
                assertThat(f.alpha()).isEqualTo(4.0);
            }
            try (LoraAdapter folded = LoraAdapter.fromFile(model, file)) {
                assertThat(folded.effectiveScaling()).isEqualTo(1.0);
                assertThat(TinyLora.maxAbsDiff(toQ.forward(x).toFloatArray(), expected)).isLessThanOrEqualTo(1e-5f);
            }
        }
    }

    @Test
    void exportRefusesNaN() throws Exception {
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(TinyLora.CONFIG, manager, 1);
                LoraAdapter lora = LoraAdapter.inject(model, LoraConfig.of(4, 8))) {
            TinyLora.randomize(lora, 5, 0.2);
            lora.layers().get("transformer_blocks.1.attn1.to_k").loraA().set(new NDIndex("0, 3"), Float.NaN);
            Path file = tmp.resolve("nan.safetensors");
            assertThatThrownBy(() -> lora.save(file)).isInstanceOf(LoraException.class)
                    .hasMessageContaining("transformer.transformer_blocks.1.attn1.to_k.lora_A.weight")
                    .hasMessageContaining("NaN");
            assertThat(file).doesNotExist();
        }
    }

    @Test
    void exportRefusesAnAllZeroB() throws Exception {
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(TinyLora.CONFIG, manager, 1);
                LoraAdapter lora = LoraAdapter.inject(model, LoraConfig.of(4, 8))) {
            Path file = tmp.resolve("zero.safetensors");
            assertThatThrownBy(() -> lora.save(file)).isInstanceOf(LoraException.class)
                    .hasMessageContaining("lora_B is all zeros");
            lora.save(file, LoraExportOptions.defaults().withAllowZeroB(true));
            assertThat(file).exists();
        }
    }

    @Test
    void loadRefusesAnAlphaThatDisagreesWithTheConfig() throws Exception {
        Path file = tmp.resolve("a16.safetensors");
        TinyLora.writeFile(file, TinyLora.defaultModules(), 4, 1, LoraKeys::diffusersKey,
                LoraExporter.metadata(4, 16, 0.0, TinyLora.defaultModules()));
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(TinyLora.CONFIG, manager, 1);
                LoraAdapter lora = LoraAdapter.inject(model, LoraConfig.of(4, 8))) {
            assertThatThrownBy(() -> lora.load(file)).isInstanceOf(LoraException.class)
                    .hasMessageContaining("lora_alpha = 16").hasMessageContaining("alpha = 8");
        }
    }

    @Test
    void loadRefusesUnknownKeys() throws Exception {
        Path file = tmp.resolve("extra.safetensors");
        SplittableRandom r = new SplittableRandom(1);
        List<TensorData> tensors = new ArrayList<>();
        for (String m : TinyLora.defaultModules()) {
            tensors.add(TensorData.f32(LoraKeys.diffusersKey(m, true), new long[] {4, TinyLora.D},
                    TinyLora.gaussian(r, 4 * TinyLora.D)));
            tensors.add(TensorData.f32(LoraKeys.diffusersKey(m, false), new long[] {TinyLora.D, 4},
                    TinyLora.gaussian(r, 4 * TinyLora.D)));
        }
        tensors.add(TensorData.f32("transformer.transformer_blocks.0.attn1.to_q.alpha", new long[] {1}, 8f));
        SafetensorsWriter.write(file, tensors, PT);
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(TinyLora.CONFIG, manager, 1);
                LoraAdapter lora = LoraAdapter.inject(model, LoraConfig.of(4, 8))) {
            assertThatThrownBy(() -> lora.load(file)).isInstanceOf(LoraException.class)
                    .hasMessageContaining("not LoRA matrices").hasMessageContaining("to_q.alpha");
        }
    }

    @Test
    void loadRefusesModulesTheAdapterDoesNotHave() throws Exception {
        Path file = tmp.resolve("ff.safetensors");
        List<String> modules = new ArrayList<>(TinyLora.defaultModules());
        modules.add("transformer_blocks.0.ff.net.2");
        TinyLora.writeFile(file, modules, 4, 1, LoraKeys::diffusersKey, PT);
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(TinyLora.CONFIG, manager, 1);
                LoraAdapter lora = LoraAdapter.inject(model, LoraConfig.of(4, 8))) {
            assertThatThrownBy(() -> lora.load(file)).isInstanceOf(LoraException.class)
                    .hasMessageContaining("unknown modules: [transformer_blocks.0.ff.net.2]");
        }
    }

    @Test
    void loadRefusesAShapeMismatch() throws Exception {
        Path file = tmp.resolve("r2.safetensors");
        TinyLora.writeFile(file, TinyLora.defaultModules(), 2, 1, LoraKeys::diffusersKey, PT);
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(TinyLora.CONFIG, manager, 1);
                LoraAdapter lora = LoraAdapter.inject(model, LoraConfig.of(4, 8))) {
            assertThatThrownBy(() -> lora.load(file)).isInstanceOf(LoraException.class)
                    .hasMessageContaining("rank 2, but the adapter has rank 4");
        }
    }

    @Test
    void loadRefusesNaNValues() throws Exception {
        Path file = tmp.resolve("nanfile.safetensors");
        List<TensorData> tensors = new ArrayList<>();
        for (String m : TinyLora.defaultModules()) {
            float[] a = new float[4 * TinyLora.D];
            a[5] = m.endsWith("to_v") ? Float.POSITIVE_INFINITY : 0.1f;
            tensors.add(TensorData.f32(LoraKeys.diffusersKey(m, true), new long[] {4, TinyLora.D}, a));
            tensors.add(TensorData.f32(LoraKeys.diffusersKey(m, false), new long[] {TinyLora.D, 4},
                    new float[4 * TinyLora.D]));
        }
        SafetensorsWriter.write(file, tensors, PT);
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(TinyLora.CONFIG, manager, 1);
                LoraAdapter lora = LoraAdapter.inject(model, LoraConfig.of(4, 8))) {
            assertThatThrownBy(() -> lora.load(file)).isInstanceOf(LoraException.class)
                    .hasMessageContaining("to_v.lora_A.weight").hasMessageContaining("Infinity");
        }
    }

    @Test
    void importRefusesAModuleWithOnlyOneMatrix() throws Exception {
        Path file = tmp.resolve("half.safetensors");
        SafetensorsWriter.write(file, List.of(TensorData.f32("transformer.transformer_blocks.0.attn1.to_q.lora_A.weight",
                new long[] {4, TinyLora.D}, new float[4 * TinyLora.D])), PT);
        try (NDManager manager = NDManager.newBaseManager()) {
            assertThatThrownBy(() -> LoraImporter.read(file, manager)).isInstanceOf(LoraException.class)
                    .hasMessageContaining("no lora_B");
        }
    }

    @Test
    void peftFileWithoutMetadataTakesTheConfigsAlpha() throws Exception {
        Path file = tmp.resolve("plain.safetensors");
        TinyLora.writeFile(file, TinyLora.defaultModules(), 4, 1, LoraKeys::diffusersKey, PT);
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(TinyLora.CONFIG, manager, 1)) {
            try (NDManager scratch = NDManager.newBaseManager()) {
                LoraFile f = LoraImporter.read(file, scratch);
                assertThat(f.format()).isEqualTo(LoraFormat.DIFFUSERS_PEFT);
                assertThat(f.alpha()).isNull();
            }
            try (LoraAdapter lora = LoraAdapter.inject(model, LoraConfig.of(4, 32))) {
                lora.load(file);
                assertThat(lora.effectiveScaling()).isEqualTo(8.0);
            }
            try (LoraAdapter asDiffusers = LoraAdapter.fromFile(model, file)) {
                assertThat(asDiffusers.effectiveScaling()).as("Diffusers: alpha := r").isEqualTo(1.0);
                asDiffusers.setScale(32.0 / 4);
                assertThat(asDiffusers.effectiveScaling()).as("set_adapters([alpha / r])").isEqualTo(8.0);
            }
        }
    }

    @Test
    void finetrainersLoraConfigMetadataGivesRankAlphaAndTargets() throws Exception {
        Path file = tmp.resolve("ft.safetensors");
        String config = "{\n    \"r\": 4,\n    \"lora_alpha\": 2,\n    \"init_lora_weights\": true,\n"
                + "    \"target_modules\": \"(transformer_blocks|single_transformer_blocks).*(to_q|to_k|to_v|to_out.0)\"\n}";
        TinyLora.writeFile(file, TinyLora.defaultModules(), 4, 1, LoraKeys::diffusersKey,
                Map.of("format", "pt", "lora_config", config));
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(TinyLora.CONFIG, manager, 1)) {
            try (NDManager scratch = NDManager.newBaseManager()) {
                LoraFile f = LoraImporter.read(file, scratch);
                assertThat(f.format()).isEqualTo(LoraFormat.FINETRAINERS);
                assertThat(f.rank()).isEqualTo(4);
                assertThat(f.alpha()).isEqualTo(2.0);
                assertThat(f.declaredTargets()).containsExactly(
                        "(transformer_blocks|single_transformer_blocks).*(to_q|to_k|to_v|to_out.0)");
            }
            try (LoraAdapter lora = LoraAdapter.fromFile(model, file)) {
                assertThat(lora.effectiveScaling()).isEqualTo(0.5);
            }
        }
    }

    @Test
    void satNamesMapToTheAttentionProjectionsWithAlphaOne() throws Exception {
        Path sat = tmp.resolve("sat.safetensors");
        String[] qkv = {"to_q", "to_k", "to_v"};
        TinyLora.writeFile(sat, TinyLora.defaultModules(), 4, 1, (module, isA) -> {
            String[] parts = module.split("\\.");   // transformer_blocks, i, attn1, to_x[, 0]
            String t = parts[3].equals("to_out") ? "dense" : "query_key_value";
            int p = t.equals("dense") ? 0 : java.util.Arrays.asList(qkv).indexOf(parts[3]);
            return "model.diffusion_model.transformer.layers." + parts[1] + ".attention." + t + ".matrix_"
                    + (isA ? "A" : "B") + "." + p;
        }, Map.of());
        Path peft = tmp.resolve("peft.safetensors");
        TinyLora.writeFile(peft, TinyLora.defaultModules(), 4, 1, LoraKeys::diffusersKey, PT);
        try (NDManager manager = NDManager.newBaseManager()) {
            LoraFile s = LoraImporter.read(sat, manager);
            LoraFile p = LoraImporter.read(peft, manager);
            assertThat(s.format()).isEqualTo(LoraFormat.SAT);
            assertThat(s.alpha()).isEqualTo(1.0);
            assertThat(s.layers().keySet()).containsExactlyInAnyOrderElementsOf(p.layers().keySet());
            for (String m : p.layers().keySet()) {
                assertThat(s.layers().get(m).loraA().toFloatArray()).as(m)
                        .containsExactly(p.layers().get(m).loraA().toFloatArray());
                assertThat(s.layers().get(m).loraB().toFloatArray()).as(m)
                        .containsExactly(p.layers().get(m).loraB().toFloatArray());
            }
        }
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(TinyLora.CONFIG, manager, 1);
                LoraAdapter lora = LoraAdapter.fromFile(model, sat)) {
            assertThat(lora.effectiveScaling()).as("SAT: alpha 1 -> 1/r").isEqualTo(0.25);
        }
    }

    @Test
    void peftAdapterConfigBesideAdapterModelGivesAlpha() throws Exception {
        Path dir = java.nio.file.Files.createDirectories(tmp.resolve("peft"));
        TinyLora.writeFile(dir.resolve("adapter_model.safetensors"), TinyLora.defaultModules(), 4, 1,
                (m, isA) -> "base_model.model." + m + (isA ? ".lora_A.weight" : ".lora_B.weight"), PT);
        java.nio.file.Files.writeString(dir.resolve("adapter_config.json"),
                "{\"r\": 4, \"lora_alpha\": 16, \"target_modules\": [\"to_q\", \"to_k\", \"to_v\", \"to_out.0\"]}");
        try (NDManager manager = NDManager.newBaseManager()) {
            LoraFile f = LoraImporter.read(dir.resolve("adapter_model.safetensors"), manager);
            assertThat(f.alpha()).isEqualTo(16.0);
            assertThat(f.layers()).hasSize(TinyLora.defaultModules().size());
        }
    }
}
