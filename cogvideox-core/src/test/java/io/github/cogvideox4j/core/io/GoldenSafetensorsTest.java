package io.github.cogvideox4j.core.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Files written by the Python libraries (diffusers/safetensors): the shared golden vectors. */
class GoldenSafetensorsTest {
    private static Path golden;

    @BeforeAll
    static void locateGolden() {
        String dir = System.getProperty("golden.dir");
        assertThat(dir).as("system property golden.dir (set by the parent pom)").isNotNull();
        golden = Path.of(dir);
        assertThat(golden).as("golden folder").isDirectory();
    }

    private static JsonNode json(Path file) throws IOException {
        return new ObjectMapper().readTree(Files.readAllBytes(file));
    }

    @Test
    void readsTheDiffusersWeightsFileOfCase5bRope() throws IOException {
        Path caseDir = golden.resolve("transformer/b_cogvideox_5b_rope");
        JsonNode grads = json(caseDir.resolve("case.json")).get("grads");
        try (SafetensorsReader r = SafetensorsReader.open(caseDir.resolve("diffusion_pytorch_model.safetensors"))) {
            assertThat(r.names()).contains("patch_embed.proj.weight", "patch_embed.text_proj.weight",
                    "time_embedding.linear_1.weight", "transformer_blocks.0.attn1.to_q.weight",
                    "transformer_blocks.1.ff.net.2.bias", "norm_final.weight", "norm_out.linear.weight",
                    "proj_out.weight");
            // Every parameter whose gradient case.json describes exists with the gradient's shape, as F32.
            int checked = 0;
            for (Map.Entry<String, JsonNode> g : grads.properties()) {
                if (g.getKey().startsWith("inputs.")) {
                    continue;
                }
                TensorInfo info = r.info(g.getKey());
                assertThat(info.dtype()).isEqualTo(SafetensorsDType.F32);
                long[] shape = new ObjectMapper().convertValue(g.getValue().get("shape"), long[].class);
                assertThat(info.shape()).as(g.getKey()).isEqualTo(shape);
                checked++;
            }
            assertThat(checked).isGreaterThan(10);
            long total = r.names().stream().mapToLong(n -> r.info(n).byteLength()).sum();
            assertThat(Files.size(r.file())).isEqualTo(total + 8 + headerBytes(r));
        }
    }

    @Test
    void valuesOfTheOutputsFileMatchTheStatsInCaseJson() throws IOException {
        Path caseDir = golden.resolve("transformer/b_cogvideox_5b_rope");
        JsonNode outputs = json(caseDir.resolve("case.json")).get("outputs");
        try (SafetensorsReader r = SafetensorsReader.open(caseDir.resolve("outputs.safetensors"));
                NDManager m = NDManager.newBaseManager()) {
            for (String name : new String[] {"sample", "emb", "patch_embed", "norm_final"}) {
                JsonNode stats = outputs.get(name);
                float[] v = r.readFloats(name);
                double maxAbs = 0;
                double sumAbs = 0;
                for (float x : v) {
                    maxAbs = Math.max(maxAbs, Math.abs(x));
                    sumAbs += Math.abs(x);
                }
                assertThat(maxAbs).as(name + " max_abs").isEqualTo(stats.get("max_abs").asDouble());
                assertThat(sumAbs / v.length).as(name + " mean_abs")
                        .isCloseTo(stats.get("mean_abs").asDouble(), within(1e-10));
                try (NDArray a = r.read(name, m)) {
                    assertThat(a.toFloatArray()).isEqualTo(v);
                    assertThat(a.getShape().getShape())
                            .isEqualTo(new ObjectMapper().convertValue(stats.get("shape"), long[].class));
                }
            }
        }
    }

    @Test
    void readsTheBf16TransformerShardsOfThePipelineFolder() throws IOException {
        Path transformer = golden.resolve("pipeline/t2v_5b/model/transformer");
        JsonNode checks = json(golden.resolve("pipeline/t2v_5b/run.json")).get("folder_checks").get("transformer");
        try (TensorSource s = SafetensorsFiles.openModelWeights(transformer, "diffusion_pytorch_model");
                NDManager m = NDManager.newBaseManager()) {
            assertThat(s).isInstanceOf(ShardedSafetensors.class);
            assertThat(s.names()).hasSize(checks.get("tensors").asInt());
            assertThat(s.metadata()).containsEntry("total_size", "120960");
            long total = 0;
            for (String name : s.names()) {
                TensorInfo info = s.info(name);
                assertThat(info.dtype()).isEqualTo(SafetensorsDType.BF16);
                total += info.byteLength();
                float[] floats = s.readFloats(name);
                try (NDArray a = s.read(name, m); NDArray h = s.read(name, m, DataType.FLOAT16)) {
                    assertThat(a.getDataType()).isEqualTo(DataType.FLOAT32);
                    assertThat(a.getShape()).isEqualTo(info.djlShape());
                    assertThat(a.toFloatArray()).isEqualTo(floats);
                    assertThat(h.getDataType()).isEqualTo(DataType.FLOAT16);
                }
                for (float f : floats) {
                    // Widened BF16: the low 16 bits are zero, the value finite.
                    assertThat(Float.floatToRawIntBits(f) & 0xFFFF).isZero();
                    assertThat(Float.isFinite(f)).isTrue();
                }
            }
            assertThat(total).isEqualTo(checks.get("index_metadata").get("total_size").asLong());
            ShardedSafetensors sharded = (ShardedSafetensors) s;
            assertThat(sharded.fileOf("proj_out.weight").getFileName().toString())
                    .isEqualTo("diffusion_pytorch_model-00002-of-00002.safetensors");
            // Shard order, then offsets: every tensor of shard 1 comes before every tensor of shard 2.
            boolean inSecond = false;
            for (String name : s.names()) {
                boolean second = sharded.fileOf(name).getFileName().toString().contains("00002-of");
                assertThat(!inSecond || second).as(name).isTrue();
                inSecond |= second;
            }
        }
    }

    @Test
    void readsTheF32VaeAndTextEncoderFilesOfThePipelineFolder() throws IOException {
        Path model = golden.resolve("pipeline/t2v_5b/model");
        try (TensorSource vae = SafetensorsFiles.openModelWeights(model.resolve("vae"), "diffusion_pytorch_model");
                TensorSource t5 = SafetensorsFiles.openModelWeights(model.resolve("text_encoder"), "model")) {
            assertThat(vae).isInstanceOf(SafetensorsReader.class);
            assertThat(vae.names()).hasSize(240);
            assertThat(t5.names()).contains("shared.weight").doesNotContain("encoder.embed_tokens.weight");
            assertThat(t5.info("shared.weight").shape()).isEqualTo(new long[] {320, 32});
        }
    }

    private static long headerBytes(SafetensorsReader r) throws IOException {
        byte[] prefix = new byte[8];
        try (var in = Files.newInputStream(r.file())) {
            assertThat(in.readNBytes(prefix, 0, 8)).isEqualTo(8);
        }
        return java.nio.ByteBuffer.wrap(prefix).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
    }
}
