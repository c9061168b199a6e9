package io.github.cogvideox4j.data;

import com.google.common.base.Preconditions;

/**
 * Settings of a {@link BucketSampler}.
 *
 * <p>Thread safety: immutable.
 *
 * @param batchSize samples per batch (per rank), positive
 * @param seed shuffle seed; the same seed gives the same epochs on every machine and JDK
 * @param dropLast what to do with each bucket's incomplete batch
 * @param rank this process's rank, in {@code [0, worldSize)}
 * @param worldSize number of data-parallel ranks, positive
 */
public record SamplerConfig(int batchSize, long seed, DropLastPolicy dropLast, int rank, int worldSize) {
    /** Validates the settings. */
    public SamplerConfig {
        Preconditions.checkArgument(batchSize > 0, "batchSize must be positive, got %s", batchSize);
        Preconditions.checkNotNull(dropLast, "dropLast");
        Preconditions.checkArgument(worldSize > 0, "worldSize must be positive, got %s", worldSize);
        Preconditions.checkArgument(rank >= 0 && rank < worldSize, "rank %s out of [0, %s)", rank, worldSize);
    }

    /**
     * @param batchSize samples per batch
     * @param seed shuffle seed
     * @return a single-rank config that drops partial batches
     */
    public static SamplerConfig of(int batchSize, long seed) {
        return new SamplerConfig(batchSize, seed, DropLastPolicy.DROP_PARTIAL, 0, 1);
    }

    /**
     * @param policy the drop-last policy
     * @return a copy with that policy
     */
    public SamplerConfig withDropLast(DropLastPolicy policy) {
        return new SamplerConfig(batchSize, seed, policy, rank, worldSize);
    }

    /**
     * @param newRank this process's rank
     * @param newWorldSize number of ranks
     * @return a copy sharded that way
     */
    public SamplerConfig withShard(int newRank, int newWorldSize) {
        return new SamplerConfig(batchSize, seed, dropLast, newRank, newWorldSize);
    }
}
