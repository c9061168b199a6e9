package io.github.cogvideox4j.data;

import com.google.common.base.Preconditions;

/**
 * Settings of a {@link BucketSampler}.
 *
 * <p>The sampler plans whole (global) batches: in a data-parallel run the batch size is the global batch
 * {@code batch_size × gradient_accumulation × world size}, and the trainer cuts every planned batch into the ranks'
 * micro-batches, so the sequence of batches depends only on the seed and the global batch size, never on how many
 * ranks share it.
 *
 * <p>Thread safety: immutable.
 *
 * @param batchSize samples per planned batch (the global batch of a data-parallel run), positive
 * @param seed shuffle seed; the same seed gives the same epochs on every machine and JDK
 * @param dropLast what to do with each bucket's incomplete batch
 */
public record SamplerConfig(int batchSize, long seed, DropLastPolicy dropLast) {
    /** Validates the settings. */
    public SamplerConfig {
        Preconditions.checkArgument(batchSize > 0, "batchSize must be positive, got %s", batchSize);
        Preconditions.checkNotNull(dropLast, "dropLast");
    }

    /**
     * @param batchSize samples per batch
     * @param seed shuffle seed
     * @return a config that drops partial batches
     */
    public static SamplerConfig of(int batchSize, long seed) {
        return new SamplerConfig(batchSize, seed, DropLastPolicy.DROP_PARTIAL);
    }

    /**
     * @param policy the drop-last policy
     * @return a copy with that policy
     */
    public SamplerConfig withDropLast(DropLastPolicy policy) {
        return new SamplerConfig(batchSize, seed, policy);
    }
}
