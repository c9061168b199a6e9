package io.github.cogvideox4j.core.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The layout against diffusers' own {@code state_dict}s: the released configs and the tiny golden weight files. */
class ParameterLayoutTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    static Path golden() {
        String dir = System.getProperty("golden.dir");
        assertThat(dir).as("system property golden.dir (set by surefire)").isNotNull();
        Path path = Path.of(dir);
        assertThat(path).as("golden folder").isDirectory();
        return path;
    }

    /** Release folder, transformer parameter total (state_dict, buffers included), tensor count. */
    static Stream<Arguments> releases() {
        return Stream.of(
                Arguments.of("cogvideox-2b", 1_693_783_872L, 736),
                Arguments.of("cogvideox-5b", 5_570_283_072L, 1024),
                Arguments.of("cogvideox-5b-i2v", 5_625_087_552L, 1025),
                Arguments.of("cogvideox1.5-5b", 5_570_676_352L, 1024),
                Arguments.of("cogvideox1.5-5b-i2v", 5_571_594_880L, 1028));
    }

    static Stream<Path> tinyCases() throws IOException {
        List<Path> cases = new ArrayList<>();
        for (String group : List.of("transformer", "train")) {
            try (Stream<Path> dirs = Files.list(golden().resolve(group))) {
                dirs.sorted().forEach(cases::add);
            }
        }
        assertThat(cases).as("golden tiny cases").hasSize(8);
        return cases.stream();
    }

    private static CogVideoXConfig released(String name) throws IOException {
        return CogVideoXConfig.read(golden().resolve("configs").resolve(name).resolve("transformer/config.json"));
    }

    private static JsonNode parametersJson(String name) throws IOException {
        return JSON.readTree(golden().resolve("configs").resolve(name).resolve("parameters.json").toFile());
    }

    private static Shape shape(JsonNode dims) {
        long[] d = new long[dims.size()];
        for (int i = 0; i < d.length; i++) {
            d[i] = dims.get(i).longValue();
        }
        return new Shape(d);
    }

    /** The tensor names and shapes of a safetensors file, from its header (u64 LE length, then JSON). */
    private static Map<String, Shape> safetensorsShapes(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            while (len.hasRemaining() && ch.read(len) >= 0) {
                // read fully
            }
            long n = len.flip().getLong();
            assertThat(n).as("header length of " + file).isBetween(2L, ch.size() - 8);
            ByteBuffer header = ByteBuffer.allocate((int) n);
            while (header.hasRemaining() && ch.read(header) >= 0) {
                // read fully
            }
            JsonNode root = JSON.readTree(header.array());
            Map<String, Shape> shapes = new HashMap<>();
            for (Map.Entry<String, JsonNode> e : root.properties()) {
                if (!e.getKey().equals("__metadata__")) {
                    shapes.put(e.getKey(), shape(e.getValue().get("shape")));
                }
            }
            return shapes;
        }
    }

    private static CogVideoXConfig with(String release, String key, boolean value) throws IOException {
        ObjectNode node = (ObjectNode) JSON.readTree(
                golden().resolve("configs").resolve(release).resolve("transformer/config.json").toFile());
        node.put(key, value);
        return CogVideoXConfig.parse(node.toString());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("releases")
    void reproducesEveryReleasedTensorNameShapeAndOrder(String name, long total, int count) throws IOException {
        Map<String, Shape> expected = new LinkedHashMap<>();
        for (JsonNode t : parametersJson(name).get("tensors").get("transformer")) {
            expected.put(t.get("name").asText(), shape(t.get("shape")));
        }

        Map<String, Shape> actual = ParameterLayout.of(released(name)).shapes();

        assertThat(actual).containsExactlyEntriesOf(expected);
        assertThat(actual).hasSize(count);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("releases")
    void listsTheReleasedPersistentBuffers(String name, long total, int count) throws IOException {
        Set<String> expected = new LinkedHashSet<>();
        for (JsonNode t : parametersJson(name).get("tensors").get("transformer")) {
            String kind = t.get("kind").asText();
            assertThat(kind).isIn("parameter", "buffer(persistent)");
            if (!kind.equals("parameter")) {
                expected.add(t.get("name").asText());
            }
        }

        assertThat(ParameterLayout.of(released(name)).buffers()).containsExactlyElementsOf(expected);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("releases")
    void countsTheReleasedStateDictTotal(String name, long total, int count) throws IOException {
        ParameterLayout layout = ParameterLayout.of(released(name));

        assertThat(layout.totalElements()).isEqualTo(total);
        assertThat(layout.totalElements())
                .isEqualTo(parametersJson(name).get("totals(state_dict: parameters + persistent buffers)")
                        .get("transformer").longValue());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("releases")
    void countsTheReleasedParameterTotal(String name, long total, int count) throws IOException {
        assertThat(ParameterLayout.of(released(name)).parameterElements())
                .isEqualTo(parametersJson(name).get("totals(nn.Parameter only)").get("transformer").longValue());
    }

    @Test
    void theI2vLearnedTableIsABufferNotAParameter() throws IOException {
        ParameterLayout layout = ParameterLayout.of(released("cogvideox-5b-i2v"));

        assertThat(layout.buffers()).containsExactly("patch_embed.pos_embedding");
        assertThat(layout.shapes().get("patch_embed.pos_embedding")).isEqualTo(new Shape(1, 17_776, 3072));
        assertThat(layout.parameterElements()).isEqualTo(5_570_479_680L);
        assertThat(layout.totalElements() - layout.parameterElements()).isEqualTo(17_776L * 3072);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("tinyCases")
    void matchesTheTensorsOfEachTinyGoldenWeightFile(Path dir) throws IOException {
        Map<String, Shape> stored = safetensorsShapes(dir.resolve("diffusion_pytorch_model.safetensors"));

        Map<String, Shape> layout = ParameterLayout.of(CogVideoXConfig.read(dir.resolve("config.json"))).shapes();

        assertThat(layout).containsExactlyInAnyOrderEntriesOf(stored);
    }

    @Test
    void computesA5bLayoutWithoutAllocatingTensorMemory() throws IOException {
        CogVideoXConfig config = released("cogvideox-5b-i2v");
        ParameterLayout.of(config); // warm up class loading
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long before = threads.getCurrentThreadAllocatedBytes();

        ParameterLayout layout = ParameterLayout.of(config);

        long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        assertThat(layout.totalElements()).isEqualTo(5_625_087_552L);
        // 5.6 G elements would be 22 GB as fp32; names and shapes of 1,025 tensors take well under 4 MB
        assertThat(allocated).isLessThan(4L << 20);
    }

    @Test
    void dropsBlockAndOutputNormWeightsWithoutElementwiseAffine() throws IOException {
        Map<String, Shape> shapes = ParameterLayout.of(with("cogvideox-5b", "norm_elementwise_affine", false))
                .shapes();

        assertThat(shapes).doesNotContainKeys("transformer_blocks.0.norm1.norm.weight",
                "transformer_blocks.0.norm1.norm.bias", "transformer_blocks.0.norm2.norm.weight",
                "norm_final.weight", "norm_final.bias", "norm_out.norm.weight", "norm_out.norm.bias");
        assertThat(shapes).containsKeys("transformer_blocks.0.attn1.norm_q.weight",
                "transformer_blocks.0.attn1.norm_k.bias", "transformer_blocks.0.norm1.linear.bias");
        assertThat(shapes).hasSize(1024 - 42 * 4 - 4);
    }

    @Test
    void attentionBiasFalseKeepsTheOutputProjectionBias() throws IOException {
        Map<String, Shape> shapes = ParameterLayout.of(with("cogvideox-2b", "attention_bias", false)).shapes();

        assertThat(shapes).doesNotContainKeys("transformer_blocks.0.attn1.to_q.bias",
                "transformer_blocks.0.attn1.to_k.bias", "transformer_blocks.0.attn1.to_v.bias");
        assertThat(shapes.get("transformer_blocks.0.attn1.to_out.0.bias")).isEqualTo(new Shape(1920));
        assertThat(shapes).hasSize(736 - 30 * 3);
    }

    @Test
    void patchBiasFalseDropsTheConvBiasOfVersion10() throws IOException {
        Map<String, Shape> shapes = ParameterLayout.of(with("cogvideox-5b", "patch_bias", false)).shapes();

        assertThat(shapes).doesNotContainKey("patch_embed.proj.bias");
        assertThat(shapes.get("patch_embed.proj.weight")).isEqualTo(new Shape(3072, 16, 2, 2));
    }

    @Test
    void version15KeepsTheLinearPatchBiasDespitePatchBiasFalse() throws IOException {
        CogVideoXConfig config = released("cogvideox1.5-5b");
        assertThat(config.patchBias()).isFalse();

        Map<String, Shape> shapes = ParameterLayout.of(config).shapes();

        assertThat(shapes.get("patch_embed.proj.weight")).isEqualTo(new Shape(3072, 16 * 2 * 2 * 2));
        assertThat(shapes.get("patch_embed.proj.bias")).isEqualTo(new Shape(3072));
        assertThat(shapes.get("proj_out.weight")).isEqualTo(new Shape(2 * 2 * 2 * 16, 3072));
    }

    @Test
    void theLayoutIsUnmodifiable() throws IOException {
        ParameterLayout layout = ParameterLayout.of(released("cogvideox-5b-i2v"));

        assertThatThrownBy(() -> layout.shapes().remove("proj_out.bias"))
                .isInstanceOf(UnsupportedOperationException.class);
        assertThatThrownBy(() -> layout.buffers().clear()).isInstanceOf(UnsupportedOperationException.class);
    }
}
