package io.github.cogvideox4j.lora;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.config.CogVideoXVariant;
import io.github.cogvideox4j.core.io.DiffusersFolderWriter;
import io.github.cogvideox4j.core.io.SafetensorsDType;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.model.TransformerInput;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * LoRA files with PEFT's meaning: which modules a target list adapts (PEFT's {@code check_target_module_exists}
 * applied to the Linear layers), a {@code target_modules} that makes PEFT adapt exactly the modules in the file,
 * the configured {@code lora_dropout}, and a LoRA on the CogVideoX 1.5 patch embedding (a Linear there).
 */
class PeftSemanticsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final CogVideoXConfig V15 = CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_1_5_5B);
    private static final CogVideoXConfig V10 = TinyLora.CONFIG;
    private static final List<String> PROJ_AND_LINEAR = List.of("proj", "linear");

    @TempDir
    Path tmp;

    /**
     * The Linears named {@code proj} or {@code linear} or ending in {@code .proj} / {@code .linear}, in module order:
     * the 1.5 patch projection, every block's two modulation Linears and its feed-forward input, the output norm's.
     */
    private static List<String> projAndLinearModules(CogVideoXConfig c) {
        List<String> out = new ArrayList<>();
        if (c.patchSizeT() != null) {
            out.add("patch_embed.proj");
        }
        for (int i = 0; i < c.numLayers(); i++) {
            out.add("transformer_blocks." + i + ".norm1.linear");
            out.add("transformer_blocks." + i + ".norm2.linear");
            out.add("transformer_blocks." + i + ".ff.net.0.proj");
        }
        out.add("norm_out.linear");
        return out;
    }

    /** Every module of the model that holds a tensor: the Linears and the owners of the other parameters. */
    private static Set<String> moduleNames(CogVideoXTransformer model) {
        Set<String> names = new LinkedHashSet<>(model.namedLinears().keySet());
        for (String key : model.namedParameters().keySet()) {
            names.add(key.substring(0, key.lastIndexOf('.')));
        }
        for (String key : model.namedBuffers().keySet()) {
            names.add(key.substring(0, key.lastIndexOf('.')));
        }
        return names;
    }

    private static JsonNode adapterMetadata(Path file) throws Exception {
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            return JSON.readTree(r.metadata().get(LoraImporter.DIFFUSERS_METADATA_KEY));
        }
    }

    private static List<String> texts(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    /** A 1.5 input of 2 latent frames (one temporal patch) of 8 x 8. */
    private static TransformerInput input15(NDManager manager, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        Shape shape = new Shape(1, 2, V15.inChannels(), 8, 8);
        NDArray x = manager.create(TinyLora.gaussian(r, (int) shape.size()), shape);
        Shape ts = new Shape(1, V15.maxTextSeqLength(), V15.textEmbedDim());
        NDArray text = manager.create(TinyLora.gaussian(r, (int) ts.size()), ts);
        return TransformerInput.of(x, text, manager.create(new long[] {500}));
    }

    @Test
    void projAndLinearAdaptEveryLinearPeftMatchesOnCogVideoX15IncludingThePatchEmbedding() {
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(V15, manager, 1);
                LoraAdapter lora = LoraAdapter.inject(model, LoraConfig.of(4).withTargetModules(PROJ_AND_LINEAR))) {
            assertThat(model.namedLinears()).containsKey("patch_embed.proj");
            assertThat(lora.layers().keySet()).containsExactlyElementsOf(projAndLinearModules(V15));
        }
    }

    @Test
    void projOnCogVideoX10LeavesThePatchEmbeddingConvolutionAlone() {
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(V10, manager, 1);
                LoraAdapter lora = LoraAdapter.inject(model, LoraConfig.of(4).withTargetModules(PROJ_AND_LINEAR))) {
            assertThat(model.namedLinears()).doesNotContainKey("patch_embed.proj");
            assertThat(model.namedParameters()).containsKey("patch_embed.proj.weight");
            assertThat(lora.layers().keySet()).containsExactlyElementsOf(projAndLinearModules(V10));
        }
    }

    @Test
    void savedTargetModulesMakePeftMatchExactlyTheModulesInTheFile() throws Exception {
        Path file = tmp.resolve(LoraExporter.WEIGHT_NAME);
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(V15, manager, 1);
                LoraAdapter lora = LoraAdapter.inject(model, LoraConfig.of(4).withTargetModules(PROJ_AND_LINEAR))) {
            TinyLora.randomize(lora, 3, 0.1);
            lora.save(file);
            JsonNode meta = adapterMetadata(file);
            List<String> declared = texts(meta.get("transformer.target_modules"));
            assertThat(declared).isEqualTo(lora.layers().keySet().stream().sorted().toList());
            // PEFT's list rule (key == t or key ends with "." + t) over every module of the model
            LoraConfig asPeftReadsIt = LoraConfig.of(4).withTargetModules(declared);
            List<String> peftMatches = moduleNames(model).stream().filter(asPeftReadsIt::matches).toList();
            assertThat(peftMatches).containsExactlyInAnyOrderElementsOf(lora.layers().keySet());
            assertThat(meta.get("transformer.rank_pattern").isObject()).isTrue();
            assertThat(meta.get("transformer.rank_pattern").size()).isZero();
            assertThat(meta.get("transformer.alpha_pattern").isObject()).isTrue();
            assertThat(meta.get("transformer.alpha_pattern").size()).isZero();
        }
    }

    @Test
    void theConfiguredDropoutIsWrittenAndCarriedByFromFile() throws Exception {
        Path file = tmp.resolve("dropout.safetensors");
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(V10, manager, 1)) {
            try (LoraAdapter lora = LoraAdapter.inject(model, LoraConfig.of(4, 8).withDropout(0.125))) {
                TinyLora.randomize(lora, 3, 0.1);
                lora.save(file);
            }
            assertThat(adapterMetadata(file).get("transformer.lora_dropout").asDouble()).isEqualTo(0.125);
            try (LoraAdapter loaded = LoraAdapter.fromFile(model, file)) {
                assertThat(loaded.config().dropout()).isEqualTo(0.125);
            }
        }
    }

    @Test
    void aFileWithoutDropoutMetadataReadsAsPeftsDefaultZero() throws Exception {
        Path file = tmp.resolve("plain.safetensors");
        TinyLora.writeFile(file, TinyLora.defaultModules(), 4, 1, LoraKeys::diffusersKey, Map.of("format", "pt"));
        try (NDManager manager = NDManager.newBaseManager()) {
            assertThat(LoraImporter.read(file, manager).dropout()).isZero();
        }
    }

    @Test
    void aLoraOnThe15PatchEmbeddingTrainsExportsImportsAndMerges() throws Exception {
        Path file = tmp.resolve("patch.safetensors");
        Path base = tmp.resolve("base");
        Path merged = tmp.resolve("merged");
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(V15, manager, 1)) {
            TransformerInput in = input15(manager, 2);
            float[] without = model.forward(in).toFloatArray();
            Map<String, NDArray> state = new LinkedHashMap<>(model.namedBuffers());
            state.putAll(model.namedParameters());
            DiffusersFolderWriter.write(base, V15, state, SafetensorsDType.F32, Long.MAX_VALUE);
            float[] with;
            try (LoraAdapter lora = LoraAdapter.inject(model,
                    LoraConfig.of(4, 8).withTargetModules(List.of("patch_embed.proj")))) {
                assertThat(lora.layers().keySet()).containsExactly("patch_embed.proj");
                // train: backward reaches the patch embedding's lora_B (lora_A's gradient is 0 while B = 0)
                Engine.getInstance().setRandomSeed(4);
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    NDArray y = model.forward(in);
                    gc.backward(y.mul(y).sum());
                }
                NDArray gradB = lora.layers().get("patch_embed.proj").loraB().getGradient();
                assertThat(gradB.abs().max().getFloat()).isGreaterThan(0f);
                TinyLora.randomize(lora, 5, 0.1);
                with = model.forward(in).toFloatArray();
                assertThat(TinyLora.maxAbsDiff(with, without)).isGreaterThan(1e-3f);
                lora.save(file);
            }
            assertThat(model.forward(in).toFloatArray()).containsExactly(without);
            try (SafetensorsReader r = SafetensorsReader.open(file)) {
                assertThat(r.names()).containsExactlyInAnyOrder("transformer.patch_embed.proj.lora_A.weight",
                        "transformer.patch_embed.proj.lora_B.weight");
            }
            try (LoraAdapter imported = LoraAdapter.fromFile(model, file)) {
                assertThat(model.forward(in).toFloatArray()).containsExactly(with);
            }
            LoraMerger.Report report = LoraMerger.mergeFolder(base, file, Double.NaN, 1.0, merged, null);
            assertThat(report.mergedTensors()).containsExactly("patch_embed.proj.weight");
            try (CogVideoXTransformer fused = CogVideoXTransformer.load(merged, manager)) {
                float[] y = fused.forward(input15(manager, 2)).toFloatArray();
                // W x + s·B(A x) against (W + s·B A) x: FP32 rounding of the two association orders only
                assertThat(TinyLora.maxAbsDiff(y, with)).isLessThanOrEqualTo(1e-5f);
            }
        }
    }
}
