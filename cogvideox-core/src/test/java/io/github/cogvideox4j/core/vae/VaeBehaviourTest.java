package io.github.cogvideox4j.core.vae;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.io.SafetensorsFiles;
import io.github.cogvideox4j.core.io.SafetensorsWriter;
import io.github.cogvideox4j.core.io.TensorSource;
import io.github.cogvideox4j.core.model.WeightLoadException;
import io.github.cogvideox4j.core.testing.Golden;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Frame chunking, output shapes and weight checks of the VAE (numbers: {@link VaeGoldenTest}). */
class VaeBehaviourTest {

    private static List<List<Long>> chunks(long frames, int n) {
        return AutoencoderKLCogVideoX.frameChunks(frames, n).stream().map(b -> List.of(b[0], b[1])).toList();
    }

    @Test
    void encodeChunksAreEightFramesWithTheOddRemainderFirst() {
        assertThat(chunks(17, 8)).containsExactly(List.of(0L, 9L), List.of(9L, 17L));
        assertThat(chunks(13, 8)).containsExactly(List.of(0L, 13L));
        assertThat(chunks(5, 8)).containsExactly(List.of(0L, 5L));
        assertThat(chunks(49, 8)).hasSize(6).startsWith(List.of(0L, 9L)).endsWith(List.of(41L, 49L));
    }

    @Test
    void decodeChunksAreTwoLatentFramesWithTheRemainderFirst() {
        assertThat(chunks(5, 2)).containsExactly(List.of(0L, 3L), List.of(3L, 5L));
        assertThat(chunks(4, 2)).containsExactly(List.of(0L, 2L), List.of(2L, 4L));
        assertThat(chunks(1, 2)).containsExactly(List.of(0L, 1L));
        assertThat(chunks(13, 2)).hasSize(6).startsWith(List.of(0L, 3L));
    }

    @Test
    void thirteenFramesEncodeToFourLatentsAndFourLatentsDecodeToSixteenFrames() throws IOException {
        Path dir = Golden.path("vae", "vid_f9_24x32_15");
        try (NDManager m = NDManager.newBaseManager(); AutoencoderKLCogVideoX vae = AutoencoderKLCogVideoX.load(dir, m)) {
            NDArray pixels = m.randomUniform(-1, 1, new Shape(1, 3, 13, 24, 40));
            try (LatentDistribution d = vae.encode(pixels)) {
                assertThat(d.mean().getShape()).isEqualTo(new Shape(1, 16, 4, 3, 5));
            }
            NDArray latents = m.randomNormal(new Shape(1, 16, 4, 3, 5));
            try (NDArray video = vae.decode(latents)) {
                assertThat(video.getShape()).isEqualTo(new Shape(1, 3, 16, 24, 40));
            }
        }
    }

    @Test
    void reportsMissingUnexpectedAndMismatchedWeightsTogether(@TempDir Path tmp) throws IOException {
        Path dir = Golden.path("vae", "vid_f9_24x32_15");
        Files.copy(dir.resolve("config.json"), tmp.resolve("config.json"));
        try (NDManager m = NDManager.newBaseManager();
                TensorSource src = SafetensorsFiles.openModelWeights(dir, "diffusion_pytorch_model")) {
            Map<String, NDArray> state = new LinkedHashMap<>();
            for (String name : src.names()) {
                state.put(name, src.read(name, m));
            }
            state.remove("encoder.conv_in.conv.bias");
            state.put("encoder.extra.weight", m.zeros(new Shape(2)));
            state.put("decoder.conv_out.conv.bias", m.zeros(new Shape(5)));
            SafetensorsWriter.write(tmp.resolve("diffusion_pytorch_model.safetensors"), state, Map.of());
            assertThatThrownBy(() -> AutoencoderKLCogVideoX.load(tmp, m))
                    .isInstanceOfSatisfying(WeightLoadException.class, e -> {
                        assertThat(e.missing()).containsExactly("encoder.conv_in.conv.bias");
                        assertThat(e.unexpected()).containsExactly("encoder.extra.weight");
                        assertThat(e.mismatched()).singleElement().asString()
                                .startsWith("decoder.conv_out.conv.bias: expected (3)");
                    });
        }
    }

    @Test
    void exposesScalingFactorAndInversion() throws IOException {
        try (NDManager m = NDManager.newBaseManager();
                AutoencoderKLCogVideoX vae = AutoencoderKLCogVideoX.load(Golden.path("vae", "vid_f9_24x32_15"), m)) {
            assertThat(vae.invertScaleLatents()).isTrue();
            assertThat(vae.scalingFactor()).isEqualTo(vae.config().scalingFactor());
        }
    }
}
