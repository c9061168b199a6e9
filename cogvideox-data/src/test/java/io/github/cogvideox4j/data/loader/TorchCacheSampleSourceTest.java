package io.github.cogvideox4j.data.loader;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.testing.Golden;
import io.github.cogvideox4j.core.testing.TestDevice;
import io.github.cogvideox4j.data.cache.VaeMoments;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Samples from a cogvideox-factory {@code .pt} cache (the golden factory files laid out as its trainers read them). */
class TorchCacheSampleSourceTest {
    @TempDir
    Path root;

    private void layOut(boolean images) throws Exception {
        Path golden = Golden.path("sat", "factory_cache");
        for (String dir : images ? List.of("video_latents", "prompt_embeds", "image_latents")
                : List.of("video_latents", "prompt_embeds")) {
            Files.createDirectories(root.resolve(dir));
        }
        Files.copy(golden.resolve("video_latent.pt"), root.resolve("video_latents/00001.pt"));
        Files.copy(golden.resolve("prompt_embed.pt"), root.resolve("prompt_embeds/00001.pt"));
        if (images) {
            Files.copy(golden.resolve("dict_sample.pt"), root.resolve("image_latents/00001.pt"));
        }
    }

    @Test
    void momentsAreSampledWithTheSeedScaledAndPermutedToFramesFirst() throws Exception {
        layOut(false);
        TorchCacheSampleSource source = TorchCacheSampleSource.cogvideoxFactory(root, List.of("00001"), 0.7f, false);
        try (NDManager m = NDManager.newBaseManager(TestDevice.get());
                SafetensorsReader expected = SafetensorsReader.open(Golden.path("sat", "factory_cache",
                        "expected.safetensors"))) {
            TrainingSample s = source.load(0, 42, m);
            // [16, 4, 6, 8] moments: C = 8 -> [F = 4, 8, 6, 8]
            assertThat(s.latents().getShape()).isEqualTo(new Shape(4, 8, 6, 8));
            float[] want = VaeMoments.sample(expected.read("video_latent", m), 0.7f, new SplittableRandom(42), m)
                    .transpose(1, 0, 2, 3).toFloatArray();
            assertThat(s.latents().toFloatArray()).containsExactly(want);
            assertThat(s.promptEmbedding().toFloatArray()).containsExactly(expected.readFloats("prompt_embed"));
            assertThat(s.imageLatents()).isEmpty();
        }
    }

    @Test
    void scaledLatentsAreOnlyPermutedAndImageLatentsAreReadForImageToVideo() throws Exception {
        layOut(true);
        TorchCacheSampleSource source = new TorchCacheSampleSource(root.resolve("video_latents"),
                root.resolve("prompt_embeds"), root.resolve("image_latents"), List.of("00001"),
                TorchCacheSampleSource.Stored.SCALED_LATENTS, 1f);
        try (NDManager m = NDManager.newBaseManager(TestDevice.get());
                SafetensorsReader expected = SafetensorsReader.open(Golden.path("sat", "factory_cache",
                        "expected.safetensors"))) {
            TrainingSample s = source.load(0, 1, m);
            assertThat(s.latents().toFloatArray()).containsExactly(expected.read("video_latent", m)
                    .transpose(1, 0, 2, 3).toFloatArray());
            assertThat(s.imageLatents()).isPresent();
            assertThat(s.imageLatents().get().toFloatArray()).containsExactly(expected.read("dict_sample.latents", m)
                    .transpose(1, 0, 2, 3).toFloatArray());
        }
    }

    @Test
    void aMissingFileNamesIt() throws Exception {
        layOut(false);
        TorchCacheSampleSource source = TorchCacheSampleSource.cogvideoxFactory(root, List.of("nope"), 0.7f, false);
        try (NDManager m = NDManager.newBaseManager(TestDevice.get())) {
            assertThatThrownBy(() -> source.load(0, 1, m)).isInstanceOf(NoSuchFileException.class)
                    .hasMessageContaining("video_latents/nope.pt");
        }
    }
}
