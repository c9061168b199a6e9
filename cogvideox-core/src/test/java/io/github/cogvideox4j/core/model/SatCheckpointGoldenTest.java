package io.github.cogvideox4j.core.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.io.SafetensorsDType;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.io.TensorSource;
import io.github.cogvideox4j.core.io.TorchSaveReader;
import io.github.cogvideox4j.core.testing.Golden;
import io.github.cogvideox4j.core.testing.SatFiles;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every SAT checkpoint in {@code golden/sat} (BF16 and F32 as saved; F16 written here from the F32 one) loads into a
 * model whose parameters and buffers equal {@code expected.safetensors} exactly: 0 difference after widening.
 */
class SatCheckpointGoldenTest {
    private static final Logger LOG = LoggerFactory.getLogger(SatCheckpointGoldenTest.class);

    @TempDir
    Path tmp;

    static Stream<String> satCases() {
        return Golden.subfolders("sat").stream().map(p -> p.getFileName().toString())
                .filter(n -> !n.equals("refuse") && !n.equals("factory_cache"));
    }

    /** The model's state dict (buffers and parameters) against the expected file, bit for bit. */
    private static int assertEqualsExpected(CogVideoXTransformer model, SafetensorsReader expected) {
        Map<String, NDArray> state = new LinkedHashMap<>(model.namedBuffers());
        state.putAll(model.namedParameters());
        assertThat(state.keySet()).containsExactlyInAnyOrderElementsOf(expected.names());
        int elements = 0;
        for (String name : expected.names()) {
            NDArray a = state.get(name);
            assertThat(a.getShape()).as(name).isEqualTo(expected.info(name).djlShape());
            float[] values = a.toFloatArray();
            assertThat(values).as(name).containsExactly(expected.readFloats(name));
            elements += values.length;
        }
        return elements;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("satCases")
    void theCheckpointLoadsIntoTheExpectedWeightsExactly(String name) throws Exception {
        Path dir = Golden.path("sat", name);
        CogVideoXConfig config = CogVideoXConfig.read(dir.resolve("config.json"));
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.load(dir.resolve("sat"), config, manager);
                SafetensorsReader expected = SafetensorsReader.open(dir.resolve("expected.safetensors"))) {
            int n = assertEqualsExpected(model, expected);
            LOG.info("{}: {} tensors, {} elements, max |diff| = 0", name, expected.names().size(), n);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("satCases")
    void theMappedNamesAreTheExpectedOnesAndTheDroppedTableIsListed(String name) throws Exception {
        Path dir = Golden.path("sat", name);
        CogVideoXConfig config = CogVideoXConfig.read(dir.resolve("config.json"));
        try (SatCheckpoint sat = SatCheckpoint.open(dir.resolve("sat"), config);
                SafetensorsReader expected = SafetensorsReader.open(dir.resolve("expected.safetensors"))) {
            assertThat(sat.names()).containsExactlyInAnyOrderElementsOf(expected.names());
            assertThat(sat.stateDictKey()).isEqualTo("module");
            assertThat(sat.dropped()).containsExactly("model.diffusion_model.transformer.position_embeddings.weight");
            assertThat(sat.problems()).isEmpty();
            for (String n : expected.names()) {
                assertThat(sat.readFloats(n)).as(n).containsExactly(expected.readFloats(n));
            }
        }
    }

    @Test
    void anF16CheckpointLoadsIntoTheF16RoundedWeightsExactly() throws Exception {
        Path dir = Golden.path("sat", "f_cogvideox_5b_i2v_fp32");
        CogVideoXConfig config = CogVideoXConfig.read(dir.resolve("config.json"));
        Path f16 = tmp.resolve("sat-f16");
        try (TorchSaveReader f32 = TorchSaveReader.open(dir.resolve("sat/250/mp_rank_00_model_states.pt"))) {
            TensorSource module = f32.subtree("module");
            Map<String, SatFiles.SatTensor> tensors = new LinkedHashMap<>();
            for (String n : module.names()) {
                tensors.put(n, new SatFiles.SatTensor(module.info(n).shape(), module.readFloats(n)));
            }
            SatFiles.write(f16, 250, tensors, SafetensorsDType.F16);
        }
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.load(f16, config, manager);
                SafetensorsReader expected = SafetensorsReader.open(dir.resolve("expected.safetensors"));
                TorchSaveReader written = TorchSaveReader.open(f16.resolve("250/mp_rank_00_model_states.pt"))) {
            assertThat(written.subtree("module").info(
                    "model.diffusion_model.time_embed.0.weight").dtype()).isEqualTo(SafetensorsDType.F16);
            Map<String, NDArray> state = new LinkedHashMap<>(model.namedBuffers());
            state.putAll(model.namedParameters());
            assertThat(state.keySet()).containsExactlyInAnyOrderElementsOf(expected.names());
            for (String name : expected.names()) {
                float[] want = SatFiles.rounded(expected.readFloats(name), SafetensorsDType.F16);
                assertThat(state.get(name).toFloatArray()).as(name).containsExactly(want);
            }
        }
    }

    @Test
    void theDiffusersWeightsWrittenAsSatAndReadBackAreUnchanged() throws Exception {
        Path golden = Golden.path("transformer", "g_cogvideox15_5b_i2v_ofs_public");
        CogVideoXConfig config = CogVideoXConfig.read(golden.resolve("config.json"));
        try (SafetensorsReader diffusers = SafetensorsReader.open(golden.resolve("diffusion_pytorch_model.safetensors"))) {
            SatFiles.write(tmp.resolve("twin"), 7, SatFiles.fromDiffusers(diffusers, config), SafetensorsDType.F32);
            try (SatCheckpoint sat = SatCheckpoint.open(tmp.resolve("twin"), config)) {
                sat.verify();
                assertThat(sat.names()).containsExactlyInAnyOrderElementsOf(diffusers.names());
                for (String n : diffusers.names()) {
                    assertThat(sat.readFloats(n)).as(n).containsExactly(diffusers.readFloats(n));
                }
            }
        }
    }

    @Test
    void theIterationFolderAndThePtFileLoadLikeTheCheckpointFolder() throws Exception {
        Path dir = Golden.path("sat", "b_cogvideox_5b_rope_bf16");
        CogVideoXConfig config = CogVideoXConfig.read(dir.resolve("config.json"));
        for (Path p : List.of(dir.resolve("sat/1000"), dir.resolve("sat/1000/mp_rank_00_model_states.pt"))) {
            assertThat(SatCheckpoint.resolve(p)).isEqualTo(dir.resolve("sat/1000/mp_rank_00_model_states.pt"));
            try (SatCheckpoint sat = SatCheckpoint.open(p, config)) {
                sat.verify();
            }
        }
    }
}
