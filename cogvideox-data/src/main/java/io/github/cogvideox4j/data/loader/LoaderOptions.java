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
 * @param groupsPerOrdinal how many consecutive groups of the plan share one ordinal: a data-parallel rank loads the
 *     micro-batches of its slice of each global batch, and giving them the global batch's ordinal keeps every
 *     sample's seed independent of how the global batch is cut (1: one ordinal per group)
 */
public record LoaderOptions(int prefetchDepth, BadSamplePolicy policy, long seed, long firstBatchOrdinal,
        int groupsPerOrdinal) {
    /** Checks the components. */
    public LoaderOptions {
        Preconditions.checkArgument(prefetchDepth >= 1, "prefetchDepth must be >= 1, got %s", prefetchDepth);
        Objects.requireNonNull(policy, "policy");
        Preconditions.checkArgument(firstBatchOrdinal >= 0, "firstBatchOrdinal must be >= 0");
        Preconditions.checkArgument(groupsPerOrdinal >= 1, "groupsPerOrdinal must be >= 1, got %s",
                groupsPerOrdinal);
    }

    /**
     * One ordinal per group.
     *
     * @param prefetchDepth batches loaded ahead
     * @param policy bad-sample policy
     * @param seed base seed of per-sample randomness
     * @param firstBatchOrdinal ordinal of the plan's first batch
     */
    public LoaderOptions(int prefetchDepth, BadSamplePolicy policy, long seed, long firstBatchOrdinal) {
        this(prefetchDepth, policy, seed, firstBatchOrdinal, 1);
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
        return new LoaderOptions(depth, policy, seed, firstBatchOrdinal, groupsPerOrdinal);
    }

    /**
     * @param newPolicy the policy
     * @return a copy with another bad-sample policy
     */
    public LoaderOptions withPolicy(BadSamplePolicy newPolicy) {
        return new LoaderOptions(prefetchDepth, newPolicy, seed, firstBatchOrdinal, groupsPerOrdinal);
    }

    /**
     * @param newSeed the seed
     * @return a copy with another seed
     */
    public LoaderOptions withSeed(long newSeed) {
        return new LoaderOptions(prefetchDepth, policy, newSeed, firstBatchOrdinal, groupsPerOrdinal);
    }

    /**
     * @param groups consecutive plan groups per ordinal
     * @return a copy that gives each run of {@code groups} groups one ordinal
     */
    public LoaderOptions withGroupsPerOrdinal(int groups) {
        return new LoaderOptions(prefetchDepth, policy, seed, firstBatchOrdinal, groups);
    }
}
