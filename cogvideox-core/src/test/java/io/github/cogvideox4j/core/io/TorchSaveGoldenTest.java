package io.github.cogvideox4j.core.io;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.github.cogvideox4j.core.testing.Golden;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The {@code torch.save} files of {@code golden/sat}: the cogvideox-factory / finetrainers cache files read back
 * bit for bit equal to {@code expected.safetensors}, and a DeepSpeed checkpoint shows its state dict and its other
 * entries.
 */
class TorchSaveGoldenTest {

    private static void assertSameFloats(TensorSource actual, String name, SafetensorsReader expected, String key) {
        assertThat(actual.info(name).djlShape()).as(key).isEqualTo(expected.info(key).djlShape());
        assertThat(actual.readFloats(name)).as(key).containsExactly(expected.readFloats(key));
    }

    @Test
    void aSingleBf16TensorFileReadsBackExactly() throws Exception {
        Path dir = Golden.path("sat", "factory_cache");
        try (TorchSaveReader pt = TorchSaveReader.open(dir.resolve("video_latent.pt"));
                SafetensorsReader expected = SafetensorsReader.open(dir.resolve("expected.safetensors"))) {
            assertThat(pt.root()).isInstanceOf(TorchTensor.class);
            assertThat(pt.names()).containsExactly("");
            assertThat(pt.info("").dtype()).isEqualTo(SafetensorsDType.BF16);
            assertSameFloats(pt, "", expected, "video_latent");
        }
    }

    @Test
    void aPromptEmbeddingReadsBackExactlyAsAnEngineArray() throws Exception {
        Path dir = Golden.path("sat", "factory_cache");
        try (NDManager manager = NDManager.newBaseManager();
                TorchSaveReader pt = TorchSaveReader.open(dir.resolve("prompt_embed.pt"));
                SafetensorsReader expected = SafetensorsReader.open(dir.resolve("expected.safetensors"))) {
            NDArray a = pt.read("", manager);
            assertThat(a.getShape()).isEqualTo(expected.info("prompt_embed").djlShape());
            assertThat(a.toFloatArray()).containsExactly(expected.readFloats("prompt_embed"));
        }
    }

    @Test
    void aDictOfATensorAndIntsShowsBoth() throws Exception {
        Path dir = Golden.path("sat", "factory_cache");
        try (TorchSaveReader pt = TorchSaveReader.open(dir.resolve("dict_sample.pt"));
                SafetensorsReader expected = SafetensorsReader.open(dir.resolve("expected.safetensors"))) {
            assertThat(pt.names()).containsExactly("latents");
            assertThat(pt.leaves()).containsEntry("fps", 8L).containsEntry("num_frames", 13L);
            assertSameFloats(pt, "latents", expected, "dict_sample.latents");
        }
    }

    @Test
    void aDeepSpeedCheckpointShowsItsStateDictAndItsOtherEntries() throws Exception {
        Path pt = Golden.path("sat", "b_cogvideox_5b_rope_bf16", "sat", "1000", "mp_rank_00_model_states.pt");
        try (TorchSaveReader r = TorchSaveReader.open(pt)) {
            assertThat(r.archiveName()).isEqualTo("mp_rank_00_model_states");
            assertThat(r.root()).asInstanceOf(org.assertj.core.api.InstanceOfAssertFactories.MAP)
                    .containsKeys("module", "iteration", "param_shapes");
            assertThat(r.leaves()).containsEntry("iteration", 1000L).containsEntry("ds_version", "0.14.4")
                    .containsEntry("lr_scheduler", null);
            assertThat(r.leaves().get("param_shapes.0.model.diffusion_model.transformer.final_layernorm.bias"))
                    .isEqualTo(new TorchSize(java.util.List.of(64L)));
            TensorSource module = r.subtree("module");
            assertThat(module.names()).hasSize(53)
                    .contains("model.diffusion_model.transformer.layers.0.attention.query_key_value.weight");
            assertThat(module.info("model.diffusion_model.transformer.layers.0.attention.query_key_value.weight")
                    .shape()).containsExactly(192, 64);
            assertThat(r.metadata()).containsEntry("byteorder", "little").containsEntry("version", "3");
        }
    }
}
