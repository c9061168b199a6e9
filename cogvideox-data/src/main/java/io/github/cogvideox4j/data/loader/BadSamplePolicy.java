package io.github.cogvideox4j.data.loader;

/**
 * What {@link BatchLoader} does when a sample cannot be loaded.
 *
 * <p>Thread safety: immutable.
 */
public enum BadSamplePolicy {
    /** Stop: the consumer's next call throws a {@link SampleLoadException} naming the sample (default). */
    FAIL,
    /**
     * Leave the sample out of its batch (a batch may come out smaller; an empty batch is dropped), log a warning,
     * count it, and report all skipped samples when the plan ends ({@link BatchLoader#skipped()}).
     */
    SKIP
}
