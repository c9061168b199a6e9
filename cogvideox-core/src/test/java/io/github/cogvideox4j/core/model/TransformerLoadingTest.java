package io.github.cogvideox4j.core.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.config.CogVideoXVariant;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.io.SafetensorsWriter;
import io.github.cogvideox4j.core.io.TensorSource;
import io.github.cogvideox4j.core.testing.Golden;
import io.github.cogvideox4j.core.testing.Tolerance;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Loading real Diffusers folders: pipeline roots, BF16 shards, weight reports, storage dtypes. */
class TransformerLoadingTest {
    private static final Logger LOG = LoggerFactory.getLogger(TransformerLoadingTest.class);

    @TempDir
    Path tmp;

    @Test
    void loadsABf16ShardedPipelineRootAndReproducesTheRecordedRun() throws Exception {
        Path run = Golden.path("pipeline", "t2v_5b");
        JsonNode tolerances = new ObjectMapper().readTree(run.resolve("run.json").toFile()).get("tolerances");
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.load(run.resolve("model"), manager);
                TensorSource rec = SafetensorsReader.open(run.resolve("run.safetensors"))) {
            assertThat(model.config().variant()).isEqualTo(CogVideoXVariant.COGVIDEOX_5B);
            NDArray text = rec.read("negative_prompt_embeds", manager)
                    .concat(rec.read("prompt_embeds", manager), 0);                     // CFG batch [neg; pos]
            for (int i = 0; i < 3; i++) {
                TransformerInput in = TransformerInput.of(rec.read("step" + i + ".transformer_hidden_states", manager),
                        text, rec.read("step" + i + ".timestep", manager));
                String key = "step" + i + ".noise_pred";
                JsonNode tol = tolerances.get(key);
                double err = Tolerance.assertClose(key, model.forward(in).toFloatArray(), rec.readFloats(key),
                        tol.get("atol").asDouble(), tol.get("rtol").asDouble());
                LOG.info("pipeline {}: max |diff| {}", key, err);
            }
        }
    }

    @Test
    void reportsMissingUnexpectedAndMismatchedTensorsTogether() throws Exception {
        Path src = Golden.path("transformer", "b_cogvideox_5b_rope");
        Path dir = Files.createDirectories(tmp.resolve("broken"));
        Files.copy(src.resolve("config.json"), dir.resolve("config.json"));
        try (NDManager manager = NDManager.newBaseManager();
                TensorSource weights = SafetensorsReader.open(src.resolve("diffusion_pytorch_model.safetensors"))) {
            Map<String, NDArray> tensors = new LinkedHashMap<>();
            for (String name : weights.names()) {
                tensors.put(name, weights.read(name, manager));
            }
            tensors.remove("proj_out.bias");
            tensors.put("transformer_blocks.7.attn1.to_q.weight", manager.zeros(new ai.djl.ndarray.types.Shape(2, 2)));
            tensors.put("norm_final.weight", manager.zeros(new ai.djl.ndarray.types.Shape(3)));
            SafetensorsWriter.write(dir.resolve("diffusion_pytorch_model.safetensors"), tensors, Map.of("format", "pt"));
            int before = manager.getManagedArrays().size();
            assertThatThrownBy(() -> CogVideoXTransformer.load(dir, manager))
                    .isInstanceOfSatisfying(WeightLoadException.class, e -> {
                        assertThat(e.missing()).containsExactly("proj_out.bias");
                        assertThat(e.unexpected()).containsExactly("transformer_blocks.7.attn1.to_q.weight");
                        assertThat(e.mismatched()).containsExactly("norm_final.weight: expected (64), got (3)");
                        assertThat(e.getMessage()).contains(dir.toString(), "missing (1)", "unexpected (1)",
                                "shape mismatch (1)");
                    });
            assertThat(manager.getManagedArrays()).as("no partial model is left behind").hasSize(before);
        }
    }

    @Test
    void failsClearlyWhenTheFolderHoldsNoConfig() {
        try (NDManager manager = NDManager.newBaseManager()) {
            assertThatThrownBy(() -> CogVideoXTransformer.load(tmp, manager))
                    .isInstanceOf(java.io.FileNotFoundException.class)
                    .hasMessageContaining("transformer/config.json");
        }
    }

    @Test
    void holdsWeightsAsFloat16OnRequestAndStaysCloseToFloat32() throws Exception {
        Path dir = Golden.path("transformer", "b_cogvideox_5b_rope");
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer f32 = CogVideoXTransformer.load(dir, manager);
                CogVideoXTransformer f16 = CogVideoXTransformer.load(dir, manager, DataType.FLOAT16);
                TensorSource in = SafetensorsReader.open(dir.resolve("inputs.safetensors"))) {
            assertThat(f16.namedParameters().values()).allSatisfy(p -> assertThat(p.getDataType())
                    .isEqualTo(DataType.FLOAT16));
            TransformerInput input = TransformerInput.of(in.read("hidden_states", manager),
                    in.read("encoder_hidden_states", manager), in.read("timestep", manager));
            float[] ref = f32.forward(input).toFloatArray();
            NDArray half = f16.forward(input);
            assertThat(half.getDataType()).isEqualTo(DataType.FLOAT16);
            // fp16 keeps ~3 decimal digits: compare against the output's scale
            Tolerance.assertCloseToMax("fp16 sample", half.toType(DataType.FLOAT32, false).toFloatArray(), ref,
                    2e-2, 0);
        }
    }

    @Test
    void randomModelHasTheLayoutOfItsConfig() {
        CogVideoXConfig config = CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_1_5_5B_I2V);
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(config, manager, 1)) {
            ParameterLayout layout = ParameterLayout.of(config);
            assertThat(model.namedParameters().keySet()).containsExactlyElementsOf(layout.shapes().keySet());
            model.namedParameters().forEach((name, p) -> assertThat(p.getShape()).as(name)
                    .isEqualTo(layout.shapes().get(name)));
        }
    }

    @Test
    void aRandomBf16ModelHoldsTheFloat32ModelsLinearWeightsRoundedToNearestEven() {
        CogVideoXConfig config = CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_1_5_5B);
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer fp32 = CogVideoXTransformer.random(config, manager, 7);
                CogVideoXTransformer bf16 = CogVideoXTransformer.random(config, manager, 7, DataType.BFLOAT16)) {
            assertThat(bf16.hasBf16Storage()).isTrue();
            fp32.namedLinears().forEach((name, linear) -> {
                float[] wide = linear.weight().toFloatArray();
                float[] rounded = new float[wide.length];
                for (int i = 0; i < wide.length; i++) {
                    int bits = Float.floatToRawIntBits(wide[i]);
                    rounded[i] = Float.intBitsToFloat((bits + 0x7FFF + ((bits >>> 16) & 1)) & 0xFFFF0000);
                }
                try (NDArray stored = bf16.namedLinears().get(name).weightAsFloat32(manager)) {
                    assertThat(stored.toFloatArray()).as(name).containsExactly(rounded);
                }
            });
            bf16.namedParameters().forEach((name, p) -> assertThat(p.toFloatArray()).as(name)
                    .containsExactly(fp32.namedParameters().get(name).toFloatArray()));
        }
    }

    @Test
    void aRandomModelIsHeldAsFloat32OrBfloat16Only() {
        CogVideoXConfig config = CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_5B);
        try (NDManager manager = NDManager.newBaseManager()) {
            assertThatThrownBy(() -> CogVideoXTransformer.random(config, manager, 1, DataType.FLOAT16))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("random weights are held as FLOAT32 or BFLOAT16, not float16");
        }
    }
}
