package io.github.cogvideox4j.data.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.io.SafetensorsWriter;
import io.github.cogvideox4j.core.io.TensorData;
import io.github.cogvideox4j.data.Bucket;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CogVideoTrainerCacheTest {
    @TempDir
    Path root;

    @Test
    void readsTheTrainersLatentAndPromptFilesAsTheyAre() throws IOException {
        CogVideoTrainerCache cache = new CogVideoTrainerCache(root);
        Bucket res = new Bucket(49, 480, 720);
        Path latent = root.resolve("cache/video_latent/cogvideox-5b/49x480x720/00001.safetensors");
        // sha256("a cat") as Python's hashlib.sha256("a cat".encode()).hexdigest() prints it
        Path prompt = root.resolve("cache/prompt_embeddings/51e467415607798220a3776f6ae1a2a09ddc7e5dcdc955d685477b4cf05ade22.safetensors");
        assertThat(cache.latentPath("cogvideox-5b", res, "00001")).isEqualTo(latent);
        assertThat(cache.promptPath("a cat")).isEqualTo(prompt);

        Files.createDirectories(latent.getParent());
        Files.createDirectories(prompt.getParent());
        float[] values = {0.5f, -1.25f, 2f, 0f, 1f, 3f};
        SafetensorsWriter.write(latent, List.of(TensorData.bf16(CogVideoTrainerCache.ENCODED_VIDEO,
                new long[] {2, 1, 1, 3}, values)), Map.of("format", "pt"));
        SafetensorsWriter.write(cache.promptPath("a cat"), List.of(TensorData.bf16(
                CogVideoTrainerCache.PROMPT_EMBEDDING, new long[] {2, 3}, values)), Map.of("format", "pt"));

        try (NDManager m = NDManager.newBaseManager()) {
            NDArray z = cache.readLatent("cogvideox-5b", res, "00001", m);
            NDArray e = cache.readPromptEmbedding("a cat", m);

            assertThat(z.getShape()).isEqualTo(new Shape(2, 1, 1, 3));
            assertThat(z.toFloatArray()).containsExactly(values);
            assertThat(e.getShape()).isEqualTo(new Shape(2, 3));
        }
    }

    @Test
    void aMissingEntryNamesTheExpectedFile() {
        CogVideoTrainerCache cache = new CogVideoTrainerCache(root);
        try (NDManager m = NDManager.newBaseManager()) {
            assertThatThrownBy(() -> cache.readLatent("cogvideox-5b", new Bucket(49, 480, 720), "nope", m))
                    .isInstanceOf(NoSuchFileException.class).hasMessageContaining("49x480x720/nope.safetensors");
        }
    }
}
