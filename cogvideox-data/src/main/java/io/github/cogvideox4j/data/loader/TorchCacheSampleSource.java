package io.github.cogvideox4j.data.loader;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.google.common.base.Preconditions;
import io.github.cogvideox4j.data.cache.TorchCacheFiles;
import io.github.cogvideox4j.data.cache.VaeMoments;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.SplittableRandom;

/**
 * Samples from the {@code .pt} caches of cogvideox-factory ({@code prepare_dataset.py --save_tensors}, read by its
 * trainers with {@code --load_tensors}) and finetrainers' precomputed tensors: per sample {@code <stem>.pt} in a
 * latents folder, a prompt-embeddings folder and, for I2V, an image-latents folder. Each file holds one tensor, or
 * a dict with the tensor (and ints such as {@code fps}); see {@link TorchCacheFiles}. Nothing in the files is
 * executed.
 *
 * <p>Latents are stored either as VAE moments {@code [2C, F, h, w]} (mean || log-variance, unscaled: the factory's
 * {@code vae._encode} output, which its trainers sample every step) or as scaled latents {@code [C, F, h, w]}; see
 * {@link Stored}. Moments are sampled with the loader's per-sample seed and multiplied by the scaling factor
 * ({@link VaeMoments}); either way the result is permuted to {@code [F, C, h, w]}. Image latents likewise become
 * {@code [1, C, h, w]}.
 *
 * <p>Thread safety: safe for concurrent use (each read opens its own files).
 */
public final class TorchCacheSampleSource implements SampleSource {
    /** Dict keys under which a file's video or image latents are looked for. */
    public static final List<String> LATENT_KEYS = List.of("latents", "video_latents", "image_latents",
            "encoded_video", "latent");
    /** Dict keys under which a file's prompt embedding is looked for. */
    public static final List<String> PROMPT_KEYS = List.of("prompt_embeds", "encoder_hidden_states",
            "prompt_embedding", "embeds");

    /** What the latent files hold. */
    public enum Stored {
        /** VAE moments {@code [2C, F, h, w]}, unscaled: sampled per step (cogvideox-factory). */
        MOMENTS,
        /** Sampled latents {@code [C, F, h, w]}, already multiplied by the scaling factor. */
        SCALED_LATENTS
    }

    private final Path latents;
    private final Path prompts;
    private final Path images;
    private final List<String> stems;
    private final Stored stored;
    private final float scalingFactor;

    /**
     * @param latents the folder of video latent files
     * @param prompts the folder of prompt embedding files
     * @param images the folder of image latent files (I2V), or {@code null}
     * @param stems the file stem of each sample index ({@code <stem>.pt} in each folder)
     * @param stored what the latent files hold
     * @param scalingFactor the VAE scaling factor (used for {@link Stored#MOMENTS})
     */
    public TorchCacheSampleSource(Path latents, Path prompts, Path images, List<String> stems, Stored stored,
            float scalingFactor) {
        this.latents = Objects.requireNonNull(latents, "latents");
        this.prompts = Objects.requireNonNull(prompts, "prompts");
        this.images = images;
        this.stems = List.copyOf(stems);
        this.stored = Objects.requireNonNull(stored, "stored");
        Preconditions.checkArgument(scalingFactor > 0 && Float.isFinite(scalingFactor),
                "scalingFactor must be positive, got %s", scalingFactor);
        this.scalingFactor = scalingFactor;
    }

    /**
     * The layout cogvideox-factory's trainers read with {@code --load_tensors}: {@code <dataRoot>/video_latents/},
     * {@code prompt_embeds/} and {@code image_latents/}, each {@code <video stem>.pt}, latents stored as moments.
     * (Older {@code prepare_dataset.py} versions name the first two {@code latents/} and {@code embeddings/}: pass
     * those folders to the constructor.)
     *
     * @param dataRoot the trainer's {@code --data_root}
     * @param stems the video file stems, by sample index
     * @param scalingFactor the VAE scaling factor
     * @param imageToVideo whether image latents are read
     * @return the source
     */
    public static TorchCacheSampleSource cogvideoxFactory(Path dataRoot, List<String> stems, float scalingFactor,
            boolean imageToVideo) {
        return new TorchCacheSampleSource(dataRoot.resolve("video_latents"), dataRoot.resolve("prompt_embeds"),
                imageToVideo ? dataRoot.resolve("image_latents") : null, stems, Stored.MOMENTS, scalingFactor);
    }

    /** {@inheritDoc} */
    @Override
    public TrainingSample load(int index, long seed, NDManager manager) throws IOException {
        Preconditions.checkElementIndex(index, stems.size(), "sample index");
        String stem = stems.get(index);
        SplittableRandom random = new SplittableRandom(seed);
        NDArray video = latent(file(latents, stem), random, manager);
        NDArray prompt = TorchCacheFiles.readTensor(file(prompts, stem), PROMPT_KEYS, manager);
        Optional<NDArray> image = Optional.empty();
        if (images != null) {
            image = Optional.of(latent(file(images, stem), random, manager));
        }
        return new TrainingSample(index, describe(index), video, prompt, image);
    }

    private NDArray latent(Path file, SplittableRandom random, NDManager manager) throws IOException {
        NDArray stored4d = TorchCacheFiles.readTensor(file, LATENT_KEYS, manager);
        Preconditions.checkArgument(stored4d.getShape().dimension() == 4, "%s: latents must be [C, F, h, w], got %s",
                file, stored4d.getShape());
        NDArray z = stored == Stored.MOMENTS ? VaeMoments.sample(stored4d, scalingFactor, random, manager) : stored4d;
        return z.transpose(1, 0, 2, 3); // [C, F, h, w] -> [F, C, h, w]
    }

    private static Path file(Path dir, String stem) throws NoSuchFileException {
        Path f = dir.resolve(stem + ".pt");
        if (!Files.isRegularFile(f)) {
            throw new NoSuchFileException(f.toString(), null, "cache file missing");
        }
        return f;
    }

    /** {@inheritDoc} */
    @Override
    public String describe(int index) {
        return index >= 0 && index < stems.size() ? latents.resolve(stems.get(index) + ".pt").toString()
                : "sample " + index;
    }
}
