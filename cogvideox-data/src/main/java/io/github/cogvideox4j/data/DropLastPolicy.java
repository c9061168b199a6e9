package io.github.cogvideox4j.data;

/**
 * What the {@link BucketSampler} does with the last, incomplete batch of each bucket in an epoch. Either way the
 * samples left out change from epoch to epoch (each bucket is reshuffled), and the {@link BucketReport} counts them.
 */
public enum DropLastPolicy {
    /** Drop each bucket's remainder ({@code size % batchSize} samples per epoch): every batch is full. The default. */
    DROP_PARTIAL,
    /** Keep each bucket's remainder as one smaller batch: nothing is dropped on a single rank. */
    KEEP_PARTIAL
}
