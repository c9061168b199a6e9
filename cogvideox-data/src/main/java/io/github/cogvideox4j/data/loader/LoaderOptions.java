package io.github.cogvideox4j.data.loader;

import com.google.common.base.Preconditions;
import java.util.Objects;

/**
 * Settings of a {@link BatchLoader}.
 *
 * <p>Thread safety: immutable.
 *
 * @param prefetchDepth batches loaded ahead of the consumer (queue capacity), at least 1
 * @param policy bad-sample policy
 * @param seed base seed of per-sample randomness
 * @param firstBatchOrdinal ordinal of the plan's first batch (set it when resuming mid-epoch so per-sample seeds
 *     match an uninterrupted run)
 */
public record LoaderOptions(int prefetchDepth, BadSamplePolicy policy, long seed, long firstBatchOrdinal) {
    /** Checks the components. */
    public LoaderOptions {
        Preconditions.checkArgument(prefetchDepth >= 1, "prefetchDepth must be >= 1, got %s", prefetchDepth);
        Objects.requireNonNull(policy, "policy");
        Preconditions.checkArgument(firstBatchOrdinal >= 0, "firstBatchOrdinal must be >= 0");
    }

    /**
     * Depth 2, policy {@link BadSamplePolicy#FAIL}, seed 0.
     *
     * @return the defaults
     */
    public static LoaderOptions defaults() {
        return new LoaderOptions(2, BadSamplePolicy.FAIL, 0L, 0L);
    }

    /**
     * @param depth the prefetch depth
     * @return a copy with another prefetch depth
     */
    public LoaderOptions withPrefetchDepth(int depth) {
        return new LoaderOptions(depth, policy, seed, firstBatchOrdinal);
    }

    /**
     * @param newPolicy the policy
     * @return a copy with another bad-sample policy
     */
    public LoaderOptions withPolicy(BadSamplePolicy newPolicy) {
        return new LoaderOptions(prefetchDepth, newPolicy, seed, firstBatchOrdinal);
    }

    /**
     * @param newSeed the seed
     * @return a copy with another seed
     */
    public LoaderOptions withSeed(long newSeed) {
        return new LoaderOptions(prefetchDepth, policy, newSeed, firstBatchOrdinal);
    }
}
