package io.github.cogvideox4j.core.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.config.CogVideoXVariant;
import io.github.cogvideox4j.core.io.SafetensorsDType;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.io.TorchSaveReader;
import io.github.cogvideox4j.core.testing.Golden;
import io.github.cogvideox4j.core.testing.SatFiles;
import io.github.cogvideox4j.core.testing.TorchSaveFiles;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a SAT checkpoint that does not fit its config, or is laid out wrongly, is told. */
class SatCheckpointValidationTest {
    @TempDir
    Path tmp;

    private static final String P = "model.diffusion_model.";

    /** The golden b case's SAT tensors, as F32 values, for editing. */
    private static Map<String, SatFiles.SatTensor> goldenTensors() throws Exception {
        Path pt = Golden.path("sat", "b_cogvideox_5b_rope_bf16", "sat", "1000", "mp_rank_00_model_states.pt");
        Map<String, SatFiles.SatTensor> out = new LinkedHashMap<>();
        try (TorchSaveReader r = TorchSaveReader.open(pt)) {
            var module = r.subtree("module");
            for (String n : module.names()) {
                out.put(n, new SatFiles.SatTensor(module.info(n).shape(), module.readFloats(n)));
            }
        }
        return out;
    }

    private static CogVideoXConfig goldenConfig() throws Exception {
        return CogVideoXConfig.read(Golden.path("sat", "b_cogvideox_5b_rope_bf16", "config.json"));
    }

    @Test
    void missingUnexpectedMisShapedAndUnsplittableTensorsAreReportedTogether() throws Exception {
        Map<String, SatFiles.SatTensor> t = goldenTensors();
        t.remove(P + "time_embed.2.bias");
        t.put(P + "mixins.some_new_mixin.weight", new SatFiles.SatTensor(new long[] {2}, new float[2]));
        t.put(P + "transformer.layers.1.attention.query_key_value.bias", new SatFiles.SatTensor(new long[] {100},
                new float[100]));
        t.put(P + "transformer.final_layernorm.weight", new SatFiles.SatTensor(new long[] {3}, new float[3]));
        SatFiles.write(tmp.resolve("sat"), 1, t, SafetensorsDType.F32);
        try (NDManager manager = NDManager.newBaseManager()) {
            assertThatThrownBy(() -> CogVideoXTransformer.load(tmp.resolve("sat"), goldenConfig(), manager))
                    .isInstanceOfSatisfying(WeightLoadException.class, e -> {
                        assertThat(e.missing()).contains("time_embedding.linear_2.bias",
                                "transformer_blocks.1.attn1.to_q.bias", "transformer_blocks.1.attn1.to_v.bias");
                        assertThat(e.unexpected()).containsExactly("mixins.some_new_mixin.weight");
                        assertThat(e.mismatched()).anySatisfy(m -> assertThat(m).contains(
                                "transformer.layers.1.attention.query_key_value.bias [100]",
                                "must split into 3 equal chunks"));
                        assertThat(e.mismatched()).anySatisfy(m -> assertThat(m).contains(
                                "norm_final.weight: expected (64), got (3)"));
                    })
                    .hasMessageContaining("SAT checkpoint");
        }
    }

    @Test
    void theStateDictIsFoundUnderModelOrStateDictOrAtTheRoot() throws Exception {
        Path golden = Golden.path("sat", "b_cogvideox_5b_rope_bf16");
        Map<String, byte[]> storages = new LinkedHashMap<>();
        Map<String, Object> stateDict = new LinkedHashMap<>();
        int k = 0;
        for (Map.Entry<String, SatFiles.SatTensor> e : goldenTensors().entrySet()) {
            storages.put(Integer.toString(k), SatFiles.encode(e.getValue().values(), SafetensorsDType.BF16));
            stateDict.put(e.getKey(), TorchSaveFiles.Tensor.contiguous(Integer.toString(k++), SafetensorsDType.BF16,
                    e.getValue().shape()));
        }
        for (String key : new String[] {"model", "state_dict", ""}) {
            Path pt = tmp.resolve("sd" + key + ".pt");
            TorchSaveFiles.writeTree(pt, key.isEmpty() ? stateDict : Map.of(key, stateDict, "epoch", 3), storages);
            try (NDManager manager = NDManager.newBaseManager();
                    SatCheckpoint sat = SatCheckpoint.open(pt, goldenConfig());
                    CogVideoXTransformer model = CogVideoXTransformer.load(pt, goldenConfig(), manager);
                    SafetensorsReader expected = SafetensorsReader.open(golden.resolve("expected.safetensors"))) {
                assertThat(sat.stateDictKey()).isEqualTo(key);
                for (String n : expected.names()) {
                    assertThat(model.namedParameters().get(n).toFloatArray()).as(key + " " + n)
                            .containsExactly(expected.readFloats(n));
                }
            }
        }
    }

    @Test
    void aLatestFileThatIsNotATagIsRefused() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("ckpt"));
        Files.writeString(dir.resolve("latest"), "../../etc");
        assertThatThrownBy(() -> SatCheckpoint.resolve(dir)).isInstanceOf(WeightLoadException.class)
                .hasMessageContaining("not an iteration tag");
    }

    @Test
    void aLatestFileNamingAMissingIterationSaysWhatIsThere() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("ckpt"));
        Files.writeString(dir.resolve("latest"), "500\n");
        Files.createDirectories(dir.resolve("500"));
        Files.writeString(dir.resolve("500/zero_pp_rank_0_mp_rank_00_optim_states.pt"), "x");
        assertThatThrownBy(() -> SatCheckpoint.resolve(dir)).isInstanceOf(NoSuchFileException.class)
                .hasMessageContaining("mp_rank_00_model_states.pt")
                .hasMessageContaining("zero_pp_rank_0_mp_rank_00_optim_states.pt");
    }

    @Test
    void aModelParallelCheckpointIsRefused() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("ckpt/10"));
        Files.writeString(dir.resolve("mp_rank_00_model_states.pt"), "x");
        Files.writeString(dir.resolve("mp_rank_01_model_states.pt"), "x");
        Files.writeString(tmp.resolve("ckpt/latest"), "10");
        assertThatThrownBy(() -> SatCheckpoint.resolve(tmp.resolve("ckpt"))).isInstanceOf(WeightLoadException.class)
                .hasMessageContaining("mp_rank_01_model_states.pt").hasMessageContaining("model-parallel size 1");
    }

    @Test
    void aReleasedConfigIsCheckedAgainstTheTinyCheckpoint() throws Exception {
        Path sat = Golden.path("sat", "b_cogvideox_5b_rope_bf16", "sat");
        CogVideoXConfig released = CogVideoXConfig.fromFileOrVariant("CogVideoX-5b");
        assertThat(released).isEqualTo(CogVideoXConfig.released(CogVideoXVariant.COGVIDEOX_5B));
        try (NDManager manager = NDManager.newBaseManager()) {
            assertThatThrownBy(() -> CogVideoXTransformer.load(sat, released, manager))
                    .isInstanceOfSatisfying(WeightLoadException.class, e -> {
                        assertThat(e.missing()).contains("transformer_blocks.41.attn1.to_q.weight");
                        assertThat(e.mismatched()).contains("patch_embed.proj.weight: expected (3072, 16, 2, 2), got "
                                + "(64, 4, 2, 2)");
                    });
        }
    }
}
