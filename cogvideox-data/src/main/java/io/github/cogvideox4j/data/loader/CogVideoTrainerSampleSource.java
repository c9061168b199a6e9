package io.github.cogvideox4j.data.loader;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.google.common.base.Preconditions;
import io.github.cogvideox4j.data.Bucket;
import io.github.cogvideox4j.data.cache.CogVideoTrainerCache;
import io.github.cogvideox4j.data.manifest.ManifestEntry;
import java.io.IOException;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Samples from the CogVideo trainer's cache ({@link CogVideoTrainerCache}): the stored latent (sampled once and
 * scaled by the trainer, so the seed is unused) permuted to {@code [F, C, h, w]}, and the prompt embedding of the
 * entry's caption. The trainer caches no image latents (its I2V path encodes images every step), so none are
 * returned.
 *
 * <p>Thread safety: safe for concurrent use.
 */
public final class CogVideoTrainerSampleSource implements SampleSource {
    private final CogVideoTrainerCache cache;
    private final String modelName;
    private final Bucket resolution;
    private final List<ManifestEntry> entries;
    private final String idToken;

    /**
     * @param cache the trainer's cache
     * @param modelName the trainer's model folder name
     * @param resolution the trainer's {@code --train_resolution}
     * @param entries the manifest entries, by sample index
     * @param idToken text the trainer prepended to each caption before hashing (empty for none)
     */
    public CogVideoTrainerSampleSource(CogVideoTrainerCache cache, String modelName, Bucket resolution,
            List<ManifestEntry> entries, String idToken) {
        this.cache = Objects.requireNonNull(cache, "cache");
        this.modelName = Objects.requireNonNull(modelName, "modelName");
        this.resolution = Objects.requireNonNull(resolution, "resolution");
        this.entries = List.copyOf(entries);
        this.idToken = Objects.requireNonNull(idToken, "idToken");
    }

    /** {@inheritDoc} */
    @Override
    public TrainingSample load(int index, long seed, NDManager manager) throws IOException {
        Preconditions.checkElementIndex(index, entries.size(), "sample index");
        ManifestEntry e = entries.get(index);
        NDArray latent = cache.readLatent(modelName, resolution, e.stem(), manager).transpose(1, 0, 2, 3);
        NDArray prompt = cache.readPromptEmbedding(idToken + e.caption(), manager);
        return new TrainingSample(index, e.media().toString(), latent, prompt, Optional.empty());
    }

    /** {@inheritDoc} */
    @Override
    public String describe(int index) {
        return index >= 0 && index < entries.size() ? entries.get(index).media().toString() : "sample " + index;
    }
}
