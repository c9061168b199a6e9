package io.github.cogvideox4j.data.cache;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.github.cogvideox4j.core.CogVideoXException;
import io.github.cogvideox4j.core.io.SafetensorsDType;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.io.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalDouble;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Our latent cache: one safetensors file per (sample, bucket) at {@code root/<FxHxW>/<key hash>.safetensors}.
 *
 * <p>File content: tensors {@code video_moments} {@code [2C, F_lat, h, w]}, {@code prompt_embedding}
 * {@code [S, D]} and, for I2V, {@code image_moments} {@code [2C, 1, h, w]}, all in the key's dtype; metadata
 * {@code format} = {@value #FORMAT}, {@code key} = {@link CacheKey#canonical()}, each key component,
 * {@code scaling_factor} and (I2V) {@code image_noise_sigma}.
 *
 * <p>Staleness: the file name is a hash of the key, and a read compares the stored {@code key} with the
 * requested one; an entry written for any other content, prompt, encoder, bucket, dtype or preprocessing is never
 * returned. A file that cannot be parsed (truncated by a crash of another tool, foreign) is reported and treated
 * as a miss. Writes go through {@link SafetensorsWriter} (temporary file in the same folder, forced, atomic move),
 * so readers see the old entry or the whole new one.
 *
 * <p>Thread safety: safe for concurrent use; concurrent writes of the same key leave one complete file.
 */
public final class LatentCache {
    /** The {@code format} metadata value of our entries. */
    public static final String FORMAT = "cogvideox4j-latent-cache/1";
    /** Tensor name of the video moments. */
    public static final String VIDEO_MOMENTS = "video_moments";
    /** Tensor name of the prompt embedding. */
    public static final String PROMPT_EMBEDDING = "prompt_embedding";
    /** Tensor name of the I2V image moments. */
    public static final String IMAGE_MOMENTS = "image_moments";

    private static final Logger LOG = LoggerFactory.getLogger(LatentCache.class);

    private final Path root;

    /**
     * @param root the cache folder (created on first write)
     */
    public LatentCache(Path root) {
        this.root = Objects.requireNonNull(root, "root").toAbsolutePath();
    }

    /** @return the cache folder */
    public Path root() {
        return root;
    }

    /**
     * Every complete entry of the cache, in path order: the keys read back from the entries' metadata. Unreadable or
     * foreign files are skipped with a warning (a crashed write leaves only a temp file, which is not an entry).
     *
     * @return the keys of the entries
     * @throws IOException if the folder cannot be listed
     */
    public java.util.List<CacheKey> keys() throws IOException {
        java.util.List<CacheKey> keys = new java.util.ArrayList<>();
        if (!Files.isDirectory(root)) {
            return keys;
        }
        try (java.util.stream.Stream<Path> files = Files.walk(root, 2)) {
            // entries live in bucket folders; files at the top (such as ValidationInputs.FILE) are not entries
            for (Path file : files.filter(p -> p.getFileName().toString().endsWith(".safetensors")
                    && !root.equals(p.getParent())).sorted().toList()) {
                try (SafetensorsReader reader = SafetensorsReader.open(file)) {
                    Map<String, String> meta = reader.metadata();
                    if (FORMAT.equals(meta.get("format")) && meta.get("key") != null) {
                        CacheKey key = CacheKey.parse(meta.get("key"));
                        if (pathOf(key).equals(file)) {
                            keys.add(key);
                            continue;
                        }
                    }
                    LOG.warn("{}: not an entry of this cache, skipped", file);
                } catch (CogVideoXException | IllegalArgumentException e) {
                    LOG.warn("{}: unreadable cache entry skipped: {}", file, e.getMessage());
                }
            }
        }
        return keys;
    }

    /**
     * Where an entry lives.
     *
     * @param key the key
     * @return {@code root/<FxHxW>/<hash>.safetensors}
     */
    public Path pathOf(CacheKey key) {
        return root.resolve(key.bucket().toString()).resolve(key.fileName());
    }

    /**
     * Whether a file for the key exists (its content is verified only by {@link #read}).
     *
     * @param key the key
     * @return true if the entry's file exists
     */
    public boolean contains(CacheKey key) {
        return Files.isRegularFile(pathOf(key));
    }

    /**
     * Reads an entry as float32 arrays.
     *
     * @param key the key
     * @param manager owner of the returned arrays
     * @return the sample, or empty on a miss (no file, a file for another key, an unreadable file; the latter two
     *     are logged)
     * @throws IOException if an existing file cannot be opened
     */
    public Optional<CachedSample> read(CacheKey key, NDManager manager) throws IOException {
        Objects.requireNonNull(manager, "manager");
        Path file = pathOf(key);
        if (!Files.isRegularFile(file)) {
            return Optional.empty();
        }
        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            Map<String, String> meta = reader.metadata();
            if (!FORMAT.equals(meta.get("format")) || !key.canonical().equals(meta.get("key"))) {
                LOG.warn("{}: entry does not belong to the requested key (stale or foreign), treated as a miss",
                        file);
                return Optional.empty();
            }
            NDArray video = reader.read(VIDEO_MOMENTS, manager, DataType.FLOAT32);
            NDArray prompt = reader.read(PROMPT_EMBEDDING, manager, DataType.FLOAT32);
            Optional<NDArray> image = reader.contains(IMAGE_MOMENTS)
                    ? Optional.of(reader.read(IMAGE_MOMENTS, manager, DataType.FLOAT32)) : Optional.empty();
            String scalingText = meta.get("scaling_factor");
            if (scalingText == null) {
                LOG.warn("{}: cache entry has no scaling_factor in its metadata, treated as a miss", file);
                return Optional.empty();
            }
            float scaling = Float.parseFloat(scalingText);
            OptionalDouble sigma = meta.containsKey("image_noise_sigma")
                    ? OptionalDouble.of(Double.parseDouble(meta.get("image_noise_sigma"))) : OptionalDouble.empty();
            return Optional.of(new CachedSample(video, prompt, image, scaling, sigma));
        } catch (CogVideoXException | IllegalArgumentException e) {
            LOG.warn("{}: unreadable cache entry treated as a miss: {}", file, e.getMessage());
            return Optional.empty();
        }
    }

    /**
     * Writes an entry atomically (replacing any file of the same key).
     *
     * @param key the key
     * @param sample the tensors (converted to the key's dtype for storage; not closed)
     * @return the written file
     * @throws IOException if writing fails (any previous file of this key is left as it was)
     */
    public Path write(CacheKey key, CachedSample sample) throws IOException {
        Objects.requireNonNull(sample, "sample");
        Path file = pathOf(key);
        Files.createDirectories(file.getParent());
        DataType type = key.dtype() == SafetensorsDType.F16 ? DataType.FLOAT16 : DataType.FLOAT32;
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", FORMAT);
        meta.put("key", key.canonical());
        meta.put("content_sha256", key.contentSha256());
        meta.put("prompt_sha256", key.promptSha256());
        meta.put("latent_encoder", key.latentEncoder());
        meta.put("text_encoder", key.textEncoder());
        meta.put("bucket", key.bucket().toString());
        meta.put("dtype", key.dtype().name());
        meta.put("preprocessing", key.preprocessing());
        meta.put("scaling_factor", Float.toString(sample.scalingFactor()));
        sample.imageNoiseSigma().ifPresent(s -> meta.put("image_noise_sigma", Double.toString(s)));
        try (NDManager scratch = sample.videoMoments().getManager().newSubManager()) {
            Map<String, NDArray> tensors = new LinkedHashMap<>();
            tensors.put(VIDEO_MOMENTS, cast(sample.videoMoments(), type, scratch));
            tensors.put(PROMPT_EMBEDDING, cast(sample.promptEmbedding(), type, scratch));
            if (sample.imageMoments().isPresent()) {
                tensors.put(IMAGE_MOMENTS, cast(sample.imageMoments().get(), type, scratch));
            }
            SafetensorsWriter.write(file, tensors, meta);
        }
        return file;
    }

    private static NDArray cast(NDArray a, DataType type, NDManager scratch) {
        if (a.getDataType() == type) {
            return a;
        }
        NDArray c = a.toType(type, true);
        c.attach(scratch);
        return c;
    }
}
