package io.github.cogvideox4j.data.loader;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.google.common.base.Preconditions;
import io.github.cogvideox4j.data.cache.CacheKey;
import io.github.cogvideox4j.data.cache.CachedSample;
import io.github.cogvideox4j.data.cache.LatentCache;
import io.github.cogvideox4j.data.cache.VaeMoments;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.SplittableRandom;

/**
 * Samples from our {@link LatentCache}: a fresh latent is drawn from the stored moments with the loader's
 * per-sample seed and multiplied by the stored scaling factor, then permuted to {@code [F, C, h, w]}; I2V image
 * moments are sampled the same way into {@code [1, C, h, w]}.
 *
 * <p>A missing or stale entry (no file for the key, or a file written for another key) fails the sample with a
 * {@link NoSuchFileException} naming the media and the expected cache file.
 *
 * <p>Thread safety: safe for concurrent use.
 */
public final class CachedSampleSource implements SampleSource {
    private final LatentCache cache;
    private final List<CacheKey> keys;
    private final List<String> sources;

    /**
     * @param cache the cache
     * @param keys the key of each sample index
     * @param sources a description (media file) of each sample index, same length as {@code keys}
     */
    public CachedSampleSource(LatentCache cache, List<CacheKey> keys, List<String> sources) {
        this.cache = Objects.requireNonNull(cache, "cache");
        this.keys = List.copyOf(keys);
        this.sources = List.copyOf(sources);
        Preconditions.checkArgument(this.keys.size() == this.sources.size(), "%s keys but %s sources",
                this.keys.size(), this.sources.size());
    }

    /** {@inheritDoc} */
    @Override
    public TrainingSample load(int index, long seed, NDManager manager) throws IOException {
        Preconditions.checkElementIndex(index, keys.size(), "sample index");
        CacheKey key = keys.get(index);
        Optional<CachedSample> entry = cache.read(key, manager);
        if (entry.isEmpty()) {
            throw new NoSuchFileException(cache.pathOf(key).toString(), null,
                    "no valid cache entry for " + sources.get(index));
        }
        CachedSample s = entry.get();
        SplittableRandom random = new SplittableRandom(seed);
        NDArray latents = VaeMoments.sample(s.videoMoments(), s.scalingFactor(), random, manager)
                .transpose(1, 0, 2, 3); // [C, F, h, w] -> [F, C, h, w]
        Optional<NDArray> image = s.imageMoments().map(m -> VaeMoments.sample(m, s.scalingFactor(), random, manager)
                .transpose(1, 0, 2, 3)); // [C, 1, h, w] -> [1, C, h, w]
        return new TrainingSample(index, sources.get(index), latents, s.promptEmbedding(), image);
    }

    /** {@inheritDoc} */
    @Override
    public String describe(int index) {
        return index >= 0 && index < sources.size() ? sources.get(index) : "sample " + index;
    }
}
