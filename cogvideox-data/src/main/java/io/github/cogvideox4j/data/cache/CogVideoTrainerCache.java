package io.github.cogvideox4j.data.cache;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.data.Bucket;
import io.github.cogvideox4j.data.media.ContentHash;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * Reads the cache the CogVideo trainer ({@code zai-org/CogVideo} {@code finetune/}) leaves in its data root,
 * as it is (docs/data-preparation.md §3):
 * <ul>
 *   <li>{@code cache/video_latent/<model_name>/<FxHxW>/<video_stem>.safetensors}, key {@code encoded_video}
 *       {@code [16, F_lat, h, w]}: one sampled latent, already multiplied by the scaling factor;</li>
 *   <li>{@code cache/prompt_embeddings/<sha256(prompt)>.safetensors}, key {@code prompt_embedding}
 *       {@code [226, 4096]}.</li>
 * </ul>
 * BF16 and F16 files are widened to float32 in Java. Where a {@code .safetensors} entry is absent, the same path
 * with {@code .pt} is read instead (caches written with {@code torch.save}: a single tensor, or a dict holding the
 * tensor under the key above, or holding one tensor): through {@link TorchCacheFiles}, so nothing in the file is
 * executed. The trainer's latents carry no key, so this reader cannot detect a video changed after caching; prefer
 * {@link LatentCache} for new data.
 *
 * <p>Thread safety: safe for concurrent use (each read opens its own file).
 */
public final class CogVideoTrainerCache {
    /** Tensor name of the trainer's video latents. */
    public static final String ENCODED_VIDEO = "encoded_video";
    /** Tensor name of the trainer's prompt embeddings. */
    public static final String PROMPT_EMBEDDING = "prompt_embedding";

    private final Path dataRoot;

    /**
     * @param dataRoot the trainer's {@code --data_root} (holding {@code cache/})
     */
    public CogVideoTrainerCache(Path dataRoot) {
        this.dataRoot = Objects.requireNonNull(dataRoot, "dataRoot").toAbsolutePath();
    }

    /**
     * The latent file of a video.
     *
     * @param modelName the trainer's {@code --model_name} folder (e.g. {@code cogvideox-5b})
     * @param resolution the {@code --train_resolution} (pixel frames x height x width)
     * @param videoStem the video's file name without extension
     * @return {@code dataRoot/cache/video_latent/<model>/<FxHxW>/<stem>.safetensors}
     */
    public Path latentPath(String modelName, Bucket resolution, String videoStem) {
        return dataRoot.resolve("cache").resolve("video_latent").resolve(modelName).resolve(resolution.toString())
                .resolve(videoStem + ".safetensors");
    }

    /**
     * The embedding file of a prompt.
     *
     * @param prompt the prompt exactly as the trainer encoded it
     * @return {@code dataRoot/cache/prompt_embeddings/<sha256 hex>.safetensors}
     */
    public Path promptPath(String prompt) {
        return dataRoot.resolve("cache").resolve("prompt_embeddings")
                .resolve(ContentHash.sha256(prompt) + ".safetensors");
    }

    /**
     * Reads a video's cached latent.
     *
     * @param modelName the trainer's model folder name
     * @param resolution the training resolution
     * @param videoStem the video stem
     * @param manager owner of the result
     * @return {@code [C, F_lat, h, w]} float32, already scaled, owned by {@code manager}
     * @throws NoSuchFileException if neither the {@code .safetensors} nor the {@code .pt} file exists
     * @throws IOException if it cannot be read
     */
    public NDArray readLatent(String modelName, Bucket resolution, String videoStem, NDManager manager)
            throws IOException {
        return read(latentPath(modelName, resolution, videoStem), ENCODED_VIDEO, manager);
    }

    /**
     * Reads a prompt's cached embedding.
     *
     * @param prompt the prompt exactly as the trainer encoded it
     * @param manager owner of the result
     * @return {@code [226, 4096]} float32, owned by {@code manager}
     * @throws NoSuchFileException if neither the {@code .safetensors} nor the {@code .pt} file exists
     * @throws IOException if it cannot be read
     */
    public NDArray readPromptEmbedding(String prompt, NDManager manager) throws IOException {
        return read(promptPath(prompt), PROMPT_EMBEDDING, manager);
    }

    private static NDArray read(Path file, String tensor, NDManager manager) throws IOException {
        if (Files.isRegularFile(file)) {
            try (SafetensorsReader reader = SafetensorsReader.open(file)) {
                return reader.read(tensor, manager, DataType.FLOAT32);
            }
        }
        Path pt = ptSibling(file);
        if (Files.isRegularFile(pt)) {
            return TorchCacheFiles.readTensor(pt, List.of(tensor), manager);
        }
        throw new NoSuchFileException(file.toString(), pt.toString(), "CogVideo trainer cache entry missing (neither "
                + "the .safetensors nor the .pt file exists)");
    }

    /** @return the same path with {@code .pt} instead of {@code .safetensors} */
    static Path ptSibling(Path safetensors) {
        String name = safetensors.getFileName().toString();
        return safetensors.resolveSibling(name.substring(0, name.length() - ".safetensors".length()) + ".pt");
    }
}
