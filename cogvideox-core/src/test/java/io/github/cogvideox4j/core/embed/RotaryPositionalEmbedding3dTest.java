package io.github.cogvideox4j.core.embed;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.embed.RopeGrid.CropRegion;
import io.github.cogvideox4j.core.embed.RopeGrid.GridType;
import io.github.cogvideox4j.core.embed.RotaryPositionalEmbedding3d.RopeTables;
import io.github.cogvideox4j.core.testing.TestDevice;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

class RotaryPositionalEmbedding3dTest {
    private static final Logger LOG = LoggerFactory.getLogger(RotaryPositionalEmbedding3dTest.class);
    /** Golden README: RoPE tables atol 1e-5. */
    private static final double ATOL = 1e-5;

    static Stream<String> ropeCases() throws IOException {
        Path dir = GoldenTensors.goldenDir().resolve("rope");
        List<String> names;
        try (Stream<Path> files = Files.list(dir)) {
            names = files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".json"))
                    .map(n -> n.substring(0, n.length() - ".json".length())).sorted().toList();
        }
        assertThat(names).as("golden rope cases in %s", dir).hasSize(8);
        return names.stream();
    }

    /** A config carrying the pipeline arguments of a golden RoPE case. */
    private static CogVideoXConfig configFor(JsonNode pipelineArgs) {
        ObjectNode json = GoldenTensors.JSON.createObjectNode();
        json.put("num_attention_heads", 2);
        json.put("attention_head_dim", pipelineArgs.get("attention_head_dim").asInt());
        json.put("patch_size", pipelineArgs.get("patch_size").asInt());
        json.set("patch_size_t", pipelineArgs.get("patch_size_t"));
        json.put("sample_height", pipelineArgs.get("sample_height").asInt());
        json.put("sample_width", pipelineArgs.get("sample_width").asInt());
        json.put("use_rotary_positional_embeddings", true);
        return CogVideoXConfig.parse(json.toString());
    }

    private static RopeGrid pipelineGrid(JsonNode pipelineArgs) {
        int vae = pipelineArgs.get("vae_scale_factor_spatial").asInt();
        return RopeGrid.forPipeline(configFor(pipelineArgs),
                pipelineArgs.get("num_frames(latent, = latents.size(1))").asInt(),
                pipelineArgs.get("height_px").asInt() / vae, pipelineArgs.get("width_px").asInt() / vae);
    }

    private static double maxAbsDiff(float[] actual, float[] expected) {
        assertThat(actual).hasSameSizeAs(expected);
        double max = 0;
        for (int i = 0; i < actual.length; i++) {
            max = Math.max(max, Math.abs((double) actual[i] - expected[i]));
        }
        return max;
    }

    private static void assertTablesMatch(String what, RopeTables tables, float[] cos, float[] sin) {
        double dc = maxAbsDiff(tables.cos(), cos);
        double ds = maxAbsDiff(tables.sin(), sin);
        LOG.info("{}: tokens {} headDim {} max|cos diff| {} max|sin diff| {}", what, tables.tokens(),
                tables.headDim(), dc, ds);
        assertThat(dc).as("%s cos max abs diff", what).isLessThanOrEqualTo(ATOL);
        assertThat(ds).as("%s sin max abs diff", what).isLessThanOrEqualTo(ATOL);
    }

    @ParameterizedTest
    @MethodSource("ropeCases")
    void pipelineGridDerivesTheGoldenRotaryArguments(String name) {
        JsonNode json = GoldenTensors.readJson(GoldenTensors.goldenDir().resolve("rope/" + name + ".json"));
        JsonNode args = json.get("get_3d_rotary_pos_embed_args");
        RopeGrid grid = pipelineGrid(json.get("pipeline_args"));

        assertThat(grid.type().name()).isEqualToIgnoringCase(args.get("grid_type").asText());
        assertThat(grid.gridHeight()).isEqualTo(args.get("grid_size").get(0).asInt());
        assertThat(grid.gridWidth()).isEqualTo(args.get("grid_size").get(1).asInt());
        assertThat(grid.frames()).isEqualTo(args.get("temporal_size").asInt());
        if (grid.type() == GridType.LINSPACE) {
            JsonNode crop = args.get("crops_coords");
            assertThat(grid.cropRegion()).isEqualTo(new CropRegion(crop.get(0).get(0).asInt(),
                    crop.get(0).get(1).asInt(), crop.get(1).get(0).asInt(), crop.get(1).get(1).asInt()));
        } else {
            assertThat(grid.baseHeight()).isEqualTo(args.get("max_size").get(0).asInt());
            assertThat(grid.baseWidth()).isEqualTo(args.get("max_size").get(1).asInt());
        }
    }

    @ParameterizedTest
    @MethodSource("ropeCases")
    void pipelineTablesMatchTheGoldenRopeCase(String name) {
        Path dir = GoldenTensors.goldenDir().resolve("rope");
        JsonNode json = GoldenTensors.readJson(dir.resolve(name + ".json"));
        GoldenTensors golden = GoldenTensors.open(dir.resolve(name + ".safetensors"));
        int headDim = json.get("get_3d_rotary_pos_embed_args").get("embed_dim").asInt();

        RopeTables tables = RotaryPositionalEmbedding3d.compute(pipelineGrid(json.get("pipeline_args")), headDim);

        assertThat(golden.shape("freqs_cos")).containsExactly(tables.tokens(), headDim);
        assertTablesMatch(name, tables, golden.f32("freqs_cos"), golden.f32("freqs_sin"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"b_cogvideox_5b_rope", "d_cogvideox15_5b_rope_pt2",
        "f_cogvideox_5b_i2v_learned_pos_public", "g_cogvideox15_5b_i2v_ofs_public"})
    void pipelineTablesMatchTheTransformerCaseInputs(String name) throws IOException {
        Path dir = GoldenTensors.goldenDir().resolve("transformer").resolve(name);
        CogVideoXConfig config = CogVideoXConfig.read(dir.resolve("config.json"));
        GoldenTensors inputs = GoldenTensors.open(dir.resolve("inputs.safetensors"));
        long[] x = inputs.shape("hidden_states"); // [B, F, C, H, W]

        RopeGrid grid = RopeGrid.forPipeline(config, (int) x[1], (int) x[3], (int) x[4]);
        RopeTables tables = RotaryPositionalEmbedding3d.compute(grid, config.attentionHeadDim());

        JsonNode args = GoldenTensors.readJson(dir.resolve("case.json")).get("rope")
                .get("get_3d_rotary_pos_embed_args");
        assertThat(grid.frames()).isEqualTo(args.get("temporal_size").asInt());
        assertThat(inputs.shape("image_rotary_emb.cos")).containsExactly(tables.tokens(), tables.headDim());
        assertTablesMatch(name, tables, inputs.f32("image_rotary_emb.cos"), inputs.f32("image_rotary_emb.sin"));
    }

    @Test
    void diffusersTrainingScriptTableUsesTheHardCoded480x720Base() {
        // examples/cogvideo/train_cogvideox_lora.py at 48x96 px, 3 latent frames: base 30x45, crop (4,0)-(26,45)
        GoldenTensors steps = GoldenTensors.open(GoldenTensors.goldenDir().resolve("train/lora_t2v_5b/steps.safetensors"));
        RopeGrid grid = RopeGrid.linspace(3, 3, 6, 30, 45);
        assertThat(grid.cropRegion()).isEqualTo(new CropRegion(4, 0, 26, 45));
        assertTablesMatch("train lora_t2v_5b", RotaryPositionalEmbedding3d.compute(grid, 16),
                steps.f32("step1.rotary_cos"), steps.f32("step1.rotary_sin"));
    }

    @Test
    void cogVideoTrainerTableSlicesTheRealGrid() {
        // CogVideo lora_trainer for 1.5: slice grid with max size = grid (2x3), temporal 3
        GoldenTensors steps = GoldenTensors.open(
                GoldenTensors.goldenDir().resolve("train/lora_i2v_15_ofs_public/steps.safetensors"));
        assertTablesMatch("train lora_i2v_15", RotaryPositionalEmbedding3d.compute(RopeGrid.slice(3, 2, 3, 2, 3), 16),
                steps.f32("step1.rotary_cos"), steps.f32("step1.rotary_sin"));
    }

    @Test
    void columnsAreTimeHeightWidthWithEachFrequencyRepeatedInPlace() {
        // headDim 16: t 4 columns (2 freqs), h 6 (3), w 6 (3); token (t=1, h=0, w=2)
        RopeTables tables = RotaryPositionalEmbedding3d.compute(RopeGrid.slice(2, 1, 3, 1, 3), 16);
        int row = (1 * 1 + 0) * 3 + 2;
        double[] freqT = {1.0, Math.pow(10000, -0.5)};
        double[] freqS = {1.0, Math.pow(10000, -1.0 / 3), Math.pow(10000, -2.0 / 3)};
        for (int j = 0; j < 2; j++) {
            for (int k = 0; k < 2; k++) {
                assertThat(tables.cosAt(row, 2 * j + k)).isCloseTo((float) Math.cos(freqT[j]), within());
                assertThat(tables.sinAt(row, 2 * j + k)).isCloseTo((float) Math.sin(freqT[j]), within());
            }
        }
        for (int j = 0; j < 3; j++) {
            for (int k = 0; k < 2; k++) {
                assertThat(tables.cosAt(row, 4 + 2 * j + k)).isEqualTo(1f); // h = 0
                assertThat(tables.sinAt(row, 4 + 2 * j + k)).isZero();
                assertThat(tables.cosAt(row, 10 + 2 * j + k)).isCloseTo((float) Math.cos(2 * freqS[j]), within());
                assertThat(tables.sinAt(row, 10 + 2 * j + k)).isCloseTo((float) Math.sin(2 * freqS[j]), within());
            }
        }
    }

    private static org.assertj.core.data.Offset<Float> within() {
        return org.assertj.core.data.Offset.offset(1e-6f);
    }

    @Test
    void frequenciesAreTheFloat32ReciprocalOfTheFloat32Power() {
        float[] f = RotaryPositionalEmbedding3d.frequencies(24);
        assertThat(f).hasSize(12);
        assertThat(f[0]).isEqualTo(1f);
        assertThat(f[6]).isEqualTo(1f / (float) Math.pow(10000, 0.5f));
    }

    @Test
    void rejectsAHeadDimThatDoesNotSplitIntoWholePairs() {
        assertThatThrownBy(() -> RotaryPositionalEmbedding3d.compute(RopeGrid.slice(1, 1, 1, 1, 1), 24))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("24");
    }

    @Test
    void toNDListGivesTwoFloat32TablesOwnedByTheManager() {
        RopeTables tables = RotaryPositionalEmbedding3d.compute(RopeGrid.slice(2, 3, 4, 10, 10), 32);
        try (NDManager manager = NDManager.newBaseManager(TestDevice.get())) {
            NDList list = tables.toNDList(manager);
            assertThat(list).hasSize(2);
            assertThat(list.get(0).getShape()).isEqualTo(new Shape(24, 32));
            assertThat(list.get(0).getDataType()).isEqualTo(DataType.FLOAT32);
            assertThat(list.get(0).getManager()).isSameAs(manager);
            assertThat(list.get(0).toFloatArray()).containsExactly(tables.cos());
            assertThat(list.get(1).toFloatArray()).containsExactly(tables.sin());
        }
    }

    @Test
    void accessorsReturnCopiesSoCachedTablesStayIntact() {
        RopeTables tables = RotaryPositionalEmbedding3d.compute(RopeGrid.slice(1, 2, 2, 2, 2), 16);
        float before = tables.cosAt(0, 0);
        tables.cos()[0] = 42f;
        assertThat(tables.cosAt(0, 0)).isEqualTo(before);
        assertThat(tables).isEqualTo(RotaryPositionalEmbedding3d.compute(RopeGrid.slice(1, 2, 2, 2, 2), 16));
    }

    @Test
    void sliceTablesAreTheLeadingRowsOfTheMaximumGridTables() {
        // diffusers builds max-size tables and slices them; our direct build must agree with that view
        RopeTables small = RotaryPositionalEmbedding3d.compute(RopeGrid.slice(2, 3, 4, 150, 150), 64);
        RopeTables big = RotaryPositionalEmbedding3d.compute(RopeGrid.slice(2, 5, 7, 150, 150), 64);
        for (int t = 0; t < 2; t++) {
            for (int h = 0; h < 3; h++) {
                for (int w = 0; w < 4; w++) {
                    for (int c = 0; c < 64; c++) {
                        assertThat(small.cosAt((t * 3 + h) * 4 + w, c)).isEqualTo(big.cosAt((t * 5 + h) * 7 + w, c));
                    }
                }
            }
        }
    }
}
