package io.github.cogvideox4j.core.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.config.CogVideoXVariant;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A fine-tuned transformer written as a Diffusers folder loads back as the same model. */
class DiffusersFolderWriterTest {
    @TempDir
    Path tmp;

    @Test
    void writesBf16ShardsWithAnIndexThatTheLoaderReadsBack() throws Exception {
        CogVideoXConfig config = CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_5B);
        try (NDManager m = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(config, m, 4)) {
            List<Path> files = DiffusersFolderWriter.write(tmp.resolve("out"), config, model.namedParameters(),
                    SafetensorsDType.BF16, 40_000);
            assertThat(files).hasSizeGreaterThan(1);
            assertThat(tmp.resolve("out/diffusion_pytorch_model.safetensors.index.json")).exists();
            try (CogVideoXTransformer back = CogVideoXTransformer.load(tmp.resolve("out"), m)) {
                assertThat(back.config()).isEqualTo(config);
                for (Map.Entry<String, NDArray> e : model.namedParameters().entrySet()) {
                    float[] original = e.getValue().toFloatArray();
                    float[] loaded = back.namedParameters().get(e.getKey()).toFloatArray();
                    for (int i = 0; i < original.length; i++) {
                        float expected = HalfPrecision.bf16ToFloat(HalfPrecision.floatToBf16(original[i]));
                        assertThat(loaded[i]).as(e.getKey()).isEqualTo(expected);
                    }
                }
            }
        }
    }

    @Test
    void writesF16LikeTheEnginesConversion() throws Exception {
        CogVideoXConfig config = CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_2B);
        try (NDManager m = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(config, m, 4)) {
            DiffusersFolderWriter.write(tmp.resolve("f16"), config, model.namedParameters(), SafetensorsDType.F16,
                    1L << 30);
            assertThat(tmp.resolve("f16/diffusion_pytorch_model.safetensors")).exists();
            try (SafetensorsReader r = SafetensorsReader.open(tmp.resolve("f16/diffusion_pytorch_model.safetensors"))) {
                for (Map.Entry<String, NDArray> e : model.namedParameters().entrySet()) {
                    float[] viaEngine = e.getValue().toType(DataType.FLOAT16, false).toType(DataType.FLOAT32, false)
                            .toFloatArray();
                    assertThat(r.readFloats(e.getKey())).as(e.getKey()).containsExactly(viaEngine);
                }
            }
        }
    }

    @Test
    void refusesNonFiniteWeightsAndWritesNothing() {
        CogVideoXConfig config = CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_5B);
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> tensors = new LinkedHashMap<>();
            tensors.put("proj_out.bias", m.create(new float[] {1f, Float.NaN}, new Shape(2)));
            assertThatThrownBy(() -> DiffusersFolderWriter.write(tmp.resolve("bad"), config, tensors,
                    SafetensorsDType.BF16, 1000))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("proj_out.bias");
            assertThat(Files.exists(tmp.resolve("bad"))).isFalse();
        }
    }
}
