package io.github.cogvideox4j.data.loader;

import ai.djl.ndarray.NDManager;
import java.io.IOException;

/**
 * Loads one sample by index, for {@link BatchLoader}.
 *
 * <p>Thread safety: called from the loader's background thread only (one call at a time per loader);
 * implementations shared between loaders must be thread-safe.
 */
@FunctionalInterface
public interface SampleSource {
    /**
     * Loads a sample.
     *
     * @param index the sample index from the batch plan
     * @param seed the seed for any per-step randomness (latent sampling), derived by the loader from its seed,
     *     the batch ordinal and the index
     * @param manager owner of every array the sample holds (closed by the loader after stacking)
     * @return the sample
     * @throws IOException if the sample cannot be read
     */
    TrainingSample load(int index, long seed, NDManager manager) throws IOException;

    /**
     * A description of a sample for messages (the loader names it when loading fails).
     *
     * @param index the sample index
     * @return e.g. the media file; default {@code "sample <index>"}
     */
    default String describe(int index) {
        return "sample " + index;
    }
}
