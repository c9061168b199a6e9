package io.github.cogvideox4j.data.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.github.cogvideox4j.core.io.SafetensorsDType;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.io.TorchSaveFormatException;
import io.github.cogvideox4j.core.testing.Golden;
import io.github.cogvideox4j.core.testing.TorchSaveFiles;
import io.github.cogvideox4j.data.Bucket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The factory / finetrainers {@code .pt} cache files of {@code golden/sat/factory_cache}, read back exactly. */
class TorchCacheFilesTest {
    @TempDir
    Path tmp;

    private static void assertEqualsExpected(NDArray actual, String key) throws Exception {
        try (SafetensorsReader expected = SafetensorsReader.open(Golden.path("sat", "factory_cache",
                "expected.safetensors"))) {
            assertThat(actual.getShape()).as(key).isEqualTo(expected.info(key).djlShape());
            assertThat(actual.toFloatArray()).as(key).containsExactly(expected.readFloats(key));
        }
    }

    @Test
    void everyFactoryCacheFileReadsBackEqualToTheExpectedValues() throws Exception {
        Path dir = Golden.path("sat", "factory_cache");
        try (NDManager m = NDManager.newBaseManager()) {
            assertEqualsExpected(TorchCacheFiles.readTensor(dir.resolve("video_latent.pt"), List.of("latents"), m),
                    "video_latent");
            assertEqualsExpected(TorchCacheFiles.readTensor(dir.resolve("prompt_embed.pt"), List.of("prompt_embeds"),
                    m), "prompt_embed");
            assertEqualsExpected(TorchCacheFiles.readTensor(dir.resolve("dict_sample.pt"), List.of("latents"), m),
                    "dict_sample.latents");
            // the dict's only tensor is found without naming its key
            assertEqualsExpected(TorchCacheFiles.readTensor(dir.resolve("dict_sample.pt"), List.of(), m),
                    "dict_sample.latents");
        }
    }

    @Test
    void aDictWithSeveralTensorsAndNoKnownKeyIsRefusedListingItsKeys() throws Exception {
        Map<String, Object> two = new java.util.LinkedHashMap<>();
        two.put("a", TorchSaveFiles.Tensor.contiguous("0", SafetensorsDType.F32, 1));
        two.put("b", TorchSaveFiles.Tensor.contiguous("1", SafetensorsDType.F32, 1));
        two.put("fps", 8);
        Path f = TorchSaveFiles.writeTree(tmp.resolve("two.pt"), two, Map.of("0", TorchSaveFiles.f32(1), "1",
                TorchSaveFiles.f32(2)));
        try (NDManager m = NDManager.newBaseManager()) {
            assertThatThrownBy(() -> TorchCacheFiles.readTensor(f, List.of("latents"), m))
                    .isInstanceOf(TorchSaveFormatException.class).hasMessageContaining("holds [a, b, fps] (tensors: [a, b])");
        }
    }

    @Test
    void theCogVideoTrainerCacheReadsPtFilesWhereNoSafetensorsFileExists() throws Exception {
        CogVideoTrainerCache cache = new CogVideoTrainerCache(tmp);
        Bucket res = new Bucket(13, 48, 64);
        Path latent = CogVideoTrainerCache.ptSibling(cache.latentPath("cogvideox-5b", res, "clip"));
        Path prompt = CogVideoTrainerCache.ptSibling(cache.promptPath("a cat"));
        Files.createDirectories(latent.getParent());
        Files.createDirectories(prompt.getParent());
        Files.copy(Golden.path("sat", "factory_cache", "video_latent.pt"), latent);
        Files.copy(Golden.path("sat", "factory_cache", "prompt_embed.pt"), prompt);
        try (NDManager m = NDManager.newBaseManager()) {
            assertEqualsExpected(cache.readLatent("cogvideox-5b", res, "clip", m), "video_latent");
            assertEqualsExpected(cache.readPromptEmbedding("a cat", m), "prompt_embed");
        }
    }

    @Test
    void aHostilePtFileInTheCacheIsRefused() throws Exception {
        CogVideoTrainerCache cache = new CogVideoTrainerCache(tmp);
        Path prompt = CogVideoTrainerCache.ptSibling(cache.promptPath("x"));
        Files.createDirectories(prompt.getParent());
        Files.copy(Golden.path("sat", "refuse", "os_system.pt"), prompt);
        try (NDManager m = NDManager.newBaseManager()) {
            assertThatThrownBy(() -> cache.readPromptEmbedding("x", m)).isInstanceOf(TorchSaveFormatException.class)
                    .hasMessageContaining("posix.system");
        }
    }
}
