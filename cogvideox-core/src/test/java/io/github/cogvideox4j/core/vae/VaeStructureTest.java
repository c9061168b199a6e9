package io.github.cogvideox4j.core.vae;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.cogvideox4j.core.testing.Golden;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The released VAE configs name and shape exactly the released state dict, without allocating anything. */
class VaeStructureTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    static Stream<String> releases() {
        return Stream.of("cogvideox-2b", "cogvideox-5b", "cogvideox-5b-i2v", "cogvideox1.5-5b", "cogvideox1.5-5b-i2v");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("releases")
    void releasedConfigDeclaresTheReleasedTensorsInStateDictOrder(String release) throws IOException {
        Path dir = Golden.path("configs", release);
        VaeConfig config = VaeConfig.read(dir.resolve("vae").resolve("config.json"));
        Map<String, Shape> expected = new LinkedHashMap<>();
        for (JsonNode t : JSON.readTree(dir.resolve("parameters.json").toFile()).get("tensors").get("vae")) {
            long[] shape = new long[t.get("shape").size()];
            for (int i = 0; i < shape.length; i++) {
                shape[i] = t.get("shape").get(i).asLong();
            }
            expected.put(t.get("name").asText(), new Shape(shape));
        }
        Map<String, Shape> actual = AutoencoderKLCogVideoX.parameterShapes(config);
        assertThat(actual).containsExactlyInAnyOrderEntriesOf(expected);
        assertThat(actual.values().stream().mapToLong(Shape::size).sum()).isEqualTo(215_583_907L);
    }

    @Test
    void releasedScalingFactorsAndInversionAreRead() throws IOException {
        VaeConfig v10 = VaeConfig.read(Golden.path("configs", "cogvideox-5b", "vae", "config.json"));
        VaeConfig v15 = VaeConfig.read(Golden.path("configs", "cogvideox1.5-5b", "vae", "config.json"));
        VaeConfig v2b = VaeConfig.read(Golden.path("configs", "cogvideox-2b", "vae", "config.json"));
        assertThat(v10.scalingFactor()).isEqualTo(0.7);
        assertThat(v10.invertScaleLatents()).isFalse();
        assertThat(v15.invertScaleLatents()).isTrue();
        assertThat(v2b.scalingFactor()).isEqualTo(1.15258426);
    }
}
