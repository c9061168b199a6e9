package io.github.cogvideox4j.core.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Reading, defaulting, validating and writing {@code transformer/config.json}. */
class CogVideoXConfigTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    static Path golden() {
        String dir = System.getProperty("golden.dir");
        assertThat(dir).as("system property golden.dir (set by surefire)").isNotNull();
        Path path = Path.of(dir);
        assertThat(path).as("golden folder").isDirectory();
        return path;
    }

    static Path releasedConfig(String name) {
        return golden().resolve("configs").resolve(name).resolve("transformer").resolve("config.json");
    }

    /** Every tiny transformer and training config of the golden set with the release its case.json mimics. */
    static Stream<Arguments> tinyConfigs() throws IOException {
        List<Arguments> cases = new ArrayList<>();
        for (String group : List.of("transformer", "train")) {
            try (Stream<Path> dirs = Files.list(golden().resolve(group))) {
                for (Path dir : dirs.sorted().toList()) {
                    String mimics = JSON.readTree(dir.resolve("case.json").toFile()).path("mimics").asText();
                    cases.add(Arguments.of(group + "/" + dir.getFileName(), dir.resolve("config.json"), mimics));
                }
            }
        }
        assertThat(cases).as("golden tiny configs").hasSize(8);
        return cases.stream();
    }

    static Stream<Arguments> releasedConfigs() {
        return Stream.of(
                Arguments.of("cogvideox-2b", CogVideoXVariant.COGVIDEOX_2B),
                Arguments.of("cogvideox-5b", CogVideoXVariant.COGVIDEOX_5B),
                Arguments.of("cogvideox-5b-i2v", CogVideoXVariant.COGVIDEOX_5B_I2V),
                Arguments.of("cogvideox1.5-5b", CogVideoXVariant.COGVIDEOX_1_5_5B),
                Arguments.of("cogvideox1.5-5b-i2v", CogVideoXVariant.COGVIDEOX_1_5_5B_I2V));
    }

    private ObjectNode released2b() throws IOException {
        return (ObjectNode) JSON.readTree(releasedConfig("cogvideox-2b").toFile());
    }

    private Path write(String name, String text) throws IOException {
        Path file = tmp.resolve(name);
        Files.writeString(file, text);
        return file;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("releasedConfigs")
    void detectsTheVariantOfEachReleasedConfig(String name, CogVideoXVariant expected) throws IOException {
        assertThat(CogVideoXConfig.read(releasedConfig(name)).variant()).isEqualTo(expected);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("tinyConfigs")
    void detectsTheMimickedVariantOfEachTinyGoldenConfig(String name, Path file, String mimics) throws IOException {
        CogVideoXConfig config = CogVideoXConfig.read(file);

        assertThat(config.outChannels()).as("tiny channel count").isLessThan(16);
        assertThat(config.variant().displayName()).isEqualTo(mimics);
    }

    @Test
    void readsTheReleased5bI2vValues() throws IOException {
        CogVideoXConfig c = CogVideoXConfig.read(releasedConfig("cogvideox-5b-i2v"));

        assertThat(c.innerDim()).isEqualTo(3072);
        assertThat(c.numLayers()).isEqualTo(42);
        assertThat(c.inChannels()).isEqualTo(32);
        assertThat(c.outChannels()).isEqualTo(16);
        assertThat(c.ofsEmbedDim()).isNull();
        assertThat(c.patchSizeT()).isNull();
        assertThat(c.useRotaryPositionalEmbeddings()).isTrue();
        assertThat(c.useLearnedPositionalEmbeddings()).isTrue();
        assertThat(c.normEps()).isEqualTo(1e-5);
        assertThat(c.spatialInterpolationScale()).isEqualTo(1.875);
        assertThat(c.sampleVideoTokens()).isEqualTo(13 * 30 * 45);
    }

    @Test
    void readsTheReleased15I2vOfsAndTemporalPatch() throws IOException {
        CogVideoXConfig c = CogVideoXConfig.read(releasedConfig("cogvideox1.5-5b-i2v"));

        assertThat(c.ofsEmbedDim()).isEqualTo(512);
        assertThat(c.patchSizeT()).isEqualTo(2);
        assertThat(c.patchBias()).isFalse();
        assertThat(c.sampleWidth()).isEqualTo(300);
        assertThat(c.sampleLatentFrames()).isEqualTo(21);
    }

    @Test
    void appliesClassDefaultsToKeysADiffusers030FileOmits() throws IOException {
        ObjectNode old = released2b();
        old.put("_diffusers_version", "0.30.0.dev0");
        for (String key : List.of("patch_size_t", "ofs_embed_dim", "patch_bias",
                "use_learned_positional_embeddings", "use_rotary_positional_embeddings")) {
            assertThat(old.remove(key)).as("golden 2b file has " + key).isNotNull();
        }

        CogVideoXConfig parsed = CogVideoXConfig.read(write("config.json", old.toString()));

        assertThat(parsed.patchSizeT()).isNull();
        assertThat(parsed.ofsEmbedDim()).isNull();
        assertThat(parsed.patchBias()).isTrue();
        assertThat(parsed.useLearnedPositionalEmbeddings()).isFalse();
        assertThat(parsed.useRotaryPositionalEmbeddings()).isFalse();
        assertThat(parsed).isEqualTo(CogVideoXConfig.read(releasedConfig("cogvideox-2b")));
        assertThat(parsed.variant()).isEqualTo(CogVideoXVariant.COGVIDEOX_2B);
    }

    @Test
    void anEmptyObjectIsTheClassDefaultConfig() {
        CogVideoXConfig c = CogVideoXConfig.parse("{}");

        assertThat(c.numAttentionHeads()).isEqualTo(30);
        assertThat(c.numLayers()).isEqualTo(30);
        assertThat(c.inChannels()).isEqualTo(16);
        assertThat(c.timeEmbedDim()).isEqualTo(512);
        assertThat(c.textEmbedDim()).isEqualTo(4096);
        assertThat(c.maxTextSeqLength()).isEqualTo(226);
        assertThat(c.activationFn()).isEqualTo("gelu-approximate");
        assertThat(c.variant()).isEqualTo(CogVideoXVariant.COGVIDEOX_2B);
    }

    @Test
    void toleratesClassNameVersionAndUnknownKeys() throws IOException {
        ObjectNode node = released2b();
        node.put("_class_name", "SomethingElse");
        node.put("_diffusers_version", "0.99.0");
        node.put("_name_or_path", "THUDM/CogVideoX-2b");
        node.put("a_key_from_the_future", 42);
        node.putObject("nested_unknown").put("x", "y");

        assertThat(CogVideoXConfig.parse(node.toString()))
                .isEqualTo(CogVideoXConfig.read(releasedConfig("cogvideox-2b")));
    }

    @Test
    void treatsAnExplicitNullOfsAsAbsent() throws IOException {
        ObjectNode node = released2b();
        node.putNull("ofs_embed_dim");

        assertThat(CogVideoXConfig.parse(node.toString()).ofsEmbedDim()).isNull();
    }

    @Test
    void withNumLayersChangesOnlyTheDepth() {
        CogVideoXConfig released = CogVideoXConfig.released(CogVideoXVariant.COGVIDEOX_1_5_5B);
        CogVideoXConfig four = released.withNumLayers(4);
        assertThat(four.numLayers()).isEqualTo(4);
        assertThat(four.withNumLayers(released.numLayers())).isEqualTo(released);
        assertThatThrownBy(() -> released.withNumLayers(0)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("num_layers").hasMessageContaining("got 0");
    }

    @Test
    void rejectsZeroLayersNamingKeyAndFile() throws IOException {
        ObjectNode node = released2b();
        node.put("num_layers", 0);
        Path file = write("zero-layers.json", node.toString());

        assertThatThrownBy(() -> CogVideoXConfig.read(file))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("num_layers")
                .hasMessageContaining(file.toString())
                .hasMessageContaining("got 0");
    }

    @Test
    void rejectsAStringWhereAnIntegerBelongs() throws IOException {
        ObjectNode node = released2b();
        node.put("num_attention_heads", "30");
        Path file = write("string-heads.json", node.toString());

        assertThatThrownBy(() -> CogVideoXConfig.read(file))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("num_attention_heads")
                .hasMessageContaining("integer")
                .hasMessageContaining(file.toString());
    }

    @Test
    void rejectsAFractionWhereAnIntegerBelongs() throws IOException {
        ObjectNode node = released2b();
        node.put("patch_size", 2.5);

        assertThatThrownBy(() -> CogVideoXConfig.parse(node.toString()))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("patch_size")
                .hasMessageContaining("2.5");
    }

    @Test
    void rejectsAStringWhereABooleanBelongs() throws IOException {
        ObjectNode node = released2b();
        node.put("use_rotary_positional_embeddings", "true");
        Path file = write("string-bool.json", node.toString());

        assertThatThrownBy(() -> CogVideoXConfig.read(file))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("use_rotary_positional_embeddings")
                .hasMessageContaining(file.toString());
    }

    @Test
    void rejectsAnUnsupportedActivation() throws IOException {
        ObjectNode node = released2b();
        node.put("activation_fn", "relu");
        Path file = write("relu.json", node.toString());

        assertThatThrownBy(() -> CogVideoXConfig.read(file))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("activation_fn")
                .hasMessageContaining("relu")
                .hasMessageContaining(file.toString());
    }

    @Test
    void rejectsAnOfsWidthOtherThanTheTimeEmbeddingWidth() throws IOException {
        ObjectNode node = (ObjectNode) JSON.readTree(releasedConfig("cogvideox1.5-5b-i2v").toFile());
        node.put("ofs_embed_dim", 256);
        Path file = write("ofs.json", node.toString());

        assertThatThrownBy(() -> CogVideoXConfig.read(file))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("ofs_embed_dim")
                .hasMessageContaining("512")
                .hasMessageContaining("256")
                .hasMessageContaining(file.toString());
    }

    @Test
    void rejectsLearnedPositionsWithoutRotaryAsDiffusersDoes() throws IOException {
        ObjectNode node = released2b();
        node.put("use_learned_positional_embeddings", true);
        Path file = write("learned-no-rope.json", node.toString());

        assertThatThrownBy(() -> CogVideoXConfig.read(file))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("use_learned_positional_embeddings")
                .hasMessageContaining("use_rotary_positional_embeddings")
                .hasMessageContaining(file.toString());
    }

    @Test
    void rejectsAHeadDimensionTheRopeCannotSplit() throws IOException {
        ObjectNode node = (ObjectNode) JSON.readTree(releasedConfig("cogvideox-5b").toFile());
        node.put("attention_head_dim", 40);

        assertThatThrownBy(() -> CogVideoXConfig.parse(node.toString()))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("attention_head_dim")
                .hasMessageContaining("40");
    }

    @Test
    void rejectsMalformedJsonNamingTheFile() throws IOException {
        Path file = write("broken.json", "{\"num_layers\": 30,");

        assertThatThrownBy(() -> CogVideoXConfig.read(file))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("not valid JSON");
    }

    @Test
    void rejectsAJsonArray() {
        assertThatThrownBy(() -> CogVideoXConfig.parse("[1, 2]"))
                .isInstanceOf(ConfigException.class)
                .hasMessageContaining("JSON object");
    }

    @Test
    void reportsAMissingFileAsIoException() {
        Path missing = tmp.resolve("absent.json");

        assertThatThrownBy(() -> CogVideoXConfig.read(missing)).isInstanceOf(IOException.class);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("releasedConfigs")
    void toJsonRoundTripsEachReleasedConfig(String name, CogVideoXVariant variant) throws IOException {
        CogVideoXConfig c = CogVideoXConfig.read(releasedConfig(name));

        assertThat(CogVideoXConfig.parse(c.toJson())).isEqualTo(c);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("tinyConfigs")
    void toJsonRoundTripsEachTinyConfig(String name, Path file, String mimics) throws IOException {
        CogVideoXConfig c = CogVideoXConfig.read(file);

        assertThat(CogVideoXConfig.parse(c.toJson())).isEqualTo(c);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("releasedConfigs")
    void toJsonWritesTheDiffusersKeysAndValues(String name, CogVideoXVariant variant) throws IOException {
        ObjectNode expected = (ObjectNode) JSON.readTree(releasedConfig(name).toFile());
        expected.remove("_diffusers_version");

        ObjectNode written = (ObjectNode) JSON.readTree(CogVideoXConfig.read(releasedConfig(name)).toJson());

        assertThat(written).isEqualTo(expected);
    }
}
