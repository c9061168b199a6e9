package io.github.cogvideox4j.data.loader;

import java.util.Objects;

/**
 * A sample left out under {@link BadSamplePolicy#SKIP}.
 *
 * <p>Thread safety: immutable.
 *
 * @param index the sample index
 * @param source the sample's description (e.g. its media file)
 * @param batchOrdinal the ordinal of the batch it belonged to
 * @param reason the error message
 */
public record SkippedSample(int index, String source, long batchOrdinal, String reason) {
    /** Checks the components. */
    public SkippedSample {
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(reason, "reason");
    }
}
