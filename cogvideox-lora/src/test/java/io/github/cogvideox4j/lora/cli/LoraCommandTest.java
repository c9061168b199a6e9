package io.github.cogvideox4j.lora.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.cogvideox4j.core.io.SafetensorsDType;
import io.github.cogvideox4j.core.io.SafetensorsFiles;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.io.SafetensorsWriter;
import io.github.cogvideox4j.core.io.TensorData;
import io.github.cogvideox4j.core.io.TensorSource;
import io.github.cogvideox4j.core.testing.Golden;
import io.github.cogvideox4j.core.testing.Tolerance;
import io.github.cogvideox4j.lora.LoraFile;
import io.github.cogvideox4j.lora.LoraFormat;
import io.github.cogvideox4j.lora.LoraImporter;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code cogvideox lora inspect / convert / merge} on golden and crafted files. */
class LoraCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    private final StringWriter stdout = new StringWriter();

    private int run(String... args) {
        CommandLine cli = new CommandLine(new CogVideoXCli());
        cli.setOut(new PrintWriter(stdout, true));
        cli.setErr(new PrintWriter(new StringWriter(), true));
        return cli.execute(args);
    }

    /** The golden case's LoRA after its last step, as a Diffusers file with metadata. */
    private Path finalLora(Path caseDir) throws Exception {
        int steps = JSON.readTree(caseDir.resolve("case.json").toFile()).get("training").get("steps").asInt();
        Path out = tmp.resolve("final.safetensors");
        try (SafetensorsReader golden = SafetensorsReader.open(caseDir.resolve("steps.safetensors"));
                SafetensorsReader init = SafetensorsReader.open(caseDir.resolve("lora_init.safetensors"))) {
            List<TensorData> tensors = new ArrayList<>();
            for (String name : init.names()) {
                tensors.add(TensorData.f32(name, init.info(name).shape(),
                        golden.readFloats("step" + steps + ".param." + name)));
            }
            SafetensorsWriter.write(out, tensors, init.metadata());
        }
        return out;
    }

    private static double compareWithMerged(Path caseDir, TensorSource actual) throws Exception {
        double worst = 0;
        try (SafetensorsReader merged = SafetensorsReader.open(caseDir.resolve("merged.safetensors"))) {
            assertThat(actual.names()).containsExactlyInAnyOrderElementsOf(merged.names());
            for (String name : merged.names()) {
                worst = Math.max(worst, Tolerance.assertClose(name, actual.readFloats(name), merged.readFloats(name),
                        1e-7, 0));
            }
        }
        return worst;
    }

    @Test
    void inspectShowsRankAlphaTargetsAndTheFiniteCheck() {
        Path init = Golden.path("train", "lora_t2v_5b", "lora_init.safetensors");
        assertThat(run("lora", "inspect", init.toString())).isZero();
        assertThat(stdout.toString()).contains("format:  DIFFUSERS_PEFT", "rank:    4", "alpha:   8.0",
                "scaling alpha/r = 2.0", "[to_k, to_out.0, to_q, to_v]", "transformer_blocks.1.attn1.to_out.0",
                "lora_B = 0", "finite:  yes");
    }

    @Test
    void inspectExitsWithOneWhenValuesAreNotFinite() throws Exception {
        Path file = tmp.resolve("nan.safetensors");
        SafetensorsWriter.write(file, List.of(
                TensorData.f32("transformer.transformer_blocks.0.attn1.to_q.lora_A.weight", new long[] {1, 2}, 1f,
                        Float.NaN),
                TensorData.f32("transformer.transformer_blocks.0.attn1.to_q.lora_B.weight", new long[] {2, 1}, 1f, 1f)),
                Map.of());
        assertThat(run("lora", "inspect", file.toString())).isEqualTo(1);
        assertThat(stdout.toString()).contains("NOT FINITE", "alpha:   absent");
    }

    @Test
    void convertTurnsSatNamesIntoDiffusersKeysWithAlphaOneMetadata() throws Exception {
        Path sat = tmp.resolve("sat.safetensors");
        SafetensorsWriter.write(sat, List.of(
                TensorData.f32("model.diffusion_model.transformer.layers.0.attention.query_key_value.matrix_A.1",
                        new long[] {2, 3}, 1, 2, 3, 4, 5, 6),
                TensorData.f32("model.diffusion_model.transformer.layers.0.attention.query_key_value.matrix_B.1",
                        new long[] {3, 2}, 1, 0, 0, 1, 1, 1)), Map.of());
        Path out = tmp.resolve("pytorch_lora_weights.safetensors");
        assertThat(run("lora", "convert", sat.toString(), out.toString())).isZero();
        try (SafetensorsReader r = SafetensorsReader.open(out); NDManager manager = NDManager.newBaseManager()) {
            assertThat(r.names()).containsExactlyInAnyOrder(
                    "transformer.transformer_blocks.0.attn1.to_k.lora_A.weight",
                    "transformer.transformer_blocks.0.attn1.to_k.lora_B.weight");
            JsonNode meta = JSON.readTree(r.metadata().get("lora_adapter_metadata"));
            assertThat(meta.get("transformer.lora_alpha").asDouble()).isEqualTo(1.0);
            assertThat(meta.get("transformer.r").asInt()).isEqualTo(2);
            LoraFile f = LoraImporter.read(out, manager);
            assertThat(f.format()).isEqualTo(LoraFormat.DIFFUSERS_PEFT);
            assertThat(f.alpha()).isEqualTo(1.0);
        }
    }

    @Test
    void convertWithFoldAlphaScalesBAndStatesAlphaEqualToRank() throws Exception {
        Path plain = tmp.resolve("plain.safetensors");
        SafetensorsWriter.write(plain, List.of(
                TensorData.f32("transformer.transformer_blocks.0.attn1.to_q.lora_A.weight", new long[] {2, 2}, 1, 2, 3,
                        4),
                TensorData.f32("transformer.transformer_blocks.0.attn1.to_q.lora_B.weight", new long[] {2, 2}, 1, -1, 2,
                        0.5f)), Map.of("format", "pt"));
        Path out = tmp.resolve("folded.safetensors");
        assertThat(run("lora", "convert", plain.toString(), out.toString(), "--alpha", "16", "--fold-alpha")).isZero();
        try (SafetensorsReader r = SafetensorsReader.open(out)) {
            assertThat(r.readFloats("transformer.transformer_blocks.0.attn1.to_q.lora_B.weight"))
                    .containsExactly(8, -8, 16, 4);
            assertThat(JSON.readTree(r.metadata().get("lora_adapter_metadata")).get("transformer.lora_alpha").asInt())
                    .isEqualTo(2);
        }
    }

    @Test
    void mergeWritesAFolderEqualToTheReferenceMergedWeights() throws Exception {
        Path caseDir = Golden.path("train", "lora_t2v_5b");
        Path out = tmp.resolve("merged");
        assertThat(run("lora", "merge", "--model", caseDir.toString(), "--lora", finalLora(caseDir).toString(),
                "--out", out.toString())).isZero();
        assertThat(out.resolve("config.json")).hasSameTextualContentAs(caseDir.resolve("config.json"));
        try (TensorSource merged = SafetensorsFiles.openModelWeights(out, "diffusion_pytorch_model")) {
            double worst = compareWithMerged(caseDir, merged);
            System.out.printf("lora merge (single file): max |diff| vs merged.safetensors %.3g%n", worst);
        }
    }

    @Test
    void mergeKeepsTheShardingOfTheInput() throws Exception {
        Path caseDir = Golden.path("train", "lora_i2v_15_ofs_public");
        Path sharded = Files.createDirectories(tmp.resolve("sharded"));
        Files.copy(caseDir.resolve("config.json"), sharded.resolve("config.json"));
        Map<String, String> weightMap = new LinkedHashMap<>();
        try (SafetensorsReader base = SafetensorsReader.open(caseDir.resolve("diffusion_pytorch_model.safetensors"))) {
            List<List<TensorData>> parts = List.of(new ArrayList<>(), new ArrayList<>());
            int i = 0;
            for (String name : base.names()) {
                int shard = i++ < base.names().size() / 2 ? 0 : 1;
                parts.get(shard).add(TensorData.f32(name, base.info(name).shape(), base.readFloats(name)));
                weightMap.put(name, "diffusion_pytorch_model-0000" + (shard + 1) + "-of-00002.safetensors");
            }
            for (int s = 0; s < 2; s++) {
                SafetensorsWriter.write(sharded.resolve("diffusion_pytorch_model-0000" + (s + 1)
                        + "-of-00002.safetensors"), parts.get(s), Map.of("format", "pt"));
            }
        }
        Files.writeString(sharded.resolve("diffusion_pytorch_model.safetensors.index.json"),
                JSON.writeValueAsString(Map.of("metadata", Map.of("total_size", 0), "weight_map", weightMap)));
        Path out = tmp.resolve("out");
        assertThat(run("lora", "merge", "--model", sharded.toString(), "--lora", finalLora(caseDir).toString(),
                "--out", out.toString())).isZero();
        JsonNode index = JSON.readTree(out.resolve("diffusion_pytorch_model.safetensors.index.json").toFile());
        Map<String, String> outMap = new LinkedHashMap<>();
        index.get("weight_map").fields().forEachRemaining(e -> outMap.put(e.getKey(), e.getValue().asText()));
        assertThat(outMap).isEqualTo(weightMap);
        assertThat(index.get("metadata").get("total_size").asLong()).isPositive();
        try (TensorSource merged = SafetensorsFiles.openModelWeights(out, "diffusion_pytorch_model")) {
            double worst = compareWithMerged(caseDir, merged);
            System.out.printf("lora merge (2 shards): max |diff| vs merged.safetensors %.3g%n", worst);
        }
    }

    @Test
    void mergeWithDtypeWritesEveryTensorInThatDtype() throws Exception {
        Path caseDir = Golden.path("train", "lora_t2v_5b");
        Path out = tmp.resolve("merged-bf16");
        assertThat(run("lora", "merge", "--model", caseDir.toString(), "--lora", finalLora(caseDir).toString(),
                "--out", out.toString(), "--dtype", "bf16")).isZero();
        try (TensorSource merged = SafetensorsFiles.openModelWeights(out, "diffusion_pytorch_model")) {
            assertThat(merged.names()).isNotEmpty()
                    .allSatisfy(n -> assertThat(merged.info(n).dtype()).isEqualTo(SafetensorsDType.BF16));
        }
    }

    @Test
    void mergeRefusesAnUnknownDtypeNamingTheChoices() throws Exception {
        Path caseDir = Golden.path("train", "lora_t2v_5b");
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new CogVideoXCli());
        cli.setOut(new PrintWriter(stdout, true));
        cli.setErr(new PrintWriter(err, true));
        assertThat(cli.execute("lora", "merge", "--model", caseDir.toString(), "--lora",
                finalLora(caseDir).toString(), "--out", tmp.resolve("x").toString(), "--dtype", "F8")).isEqualTo(2);
        assertThat(err.toString()).contains("'F8' is not an output dtype", "F32, F16 or BF16");
        assertThat(tmp.resolve("x")).doesNotExist();
    }

    @Test
    void convertWritesTheModulesOfTheFileAsTargetsAndKeepsItsDropout() throws Exception {
        Path in = tmp.resolve("in.safetensors");
        SafetensorsWriter.write(in, List.of(
                TensorData.f32("transformer.patch_embed.proj.lora_A.weight", new long[] {1, 2}, 1, 2),
                TensorData.f32("transformer.patch_embed.proj.lora_B.weight", new long[] {2, 1}, 1, 1)),
                Map.of("lora_adapter_metadata", "{\"transformer.r\": 1, \"transformer.lora_alpha\": 2, "
                        + "\"transformer.lora_dropout\": 0.25, \"transformer.target_modules\": [\"proj\"]}"));
        Path out = tmp.resolve("out.safetensors");
        assertThat(run("lora", "convert", in.toString(), out.toString())).isZero();
        try (SafetensorsReader r = SafetensorsReader.open(out)) {
            JsonNode meta = JSON.readTree(r.metadata().get("lora_adapter_metadata"));
            assertThat(meta.get("transformer.target_modules").toString()).isEqualTo("[\"patch_embed.proj\"]");
            assertThat(meta.get("transformer.lora_dropout").asDouble()).isEqualTo(0.25);
        }
        assertThat(run("lora", "inspect", out.toString())).isZero();
        assertThat(stdout.toString())
                .contains("targets: [patch_embed.proj] (target_modules: the 1 module names in full)");
    }
}
