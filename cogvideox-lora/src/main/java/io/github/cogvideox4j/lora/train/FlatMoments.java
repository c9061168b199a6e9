package io.github.cogvideox4j.lora.train;

/**
 * AdamW moments addressed by flat position ({@link FlatLayout}): where a resumed run reads its part of a saved
 * optimizer state, whatever layout and world size wrote it — whole per-parameter moments of a replicated state, or
 * the flat shards of a ZeRO-1 state.
 *
 * <p>Thread safety: implementations are confined to the restoring thread.
 */
interface FlatMoments extends AutoCloseable {
    /**
     * Reads {@code length} elements of a moment from flat position {@code from}.
     *
     * @param second {@code false} for the first moment ({@code exp_avg}), {@code true} for the second
     *     ({@code exp_avg_sq})
     * @param from the first flat element
     * @param dst where the values go
     * @param offset the first index of {@code dst} written
     * @param length how many elements
     */
    void read(boolean second, long from, float[] dst, int offset, int length);

    @Override
    void close();
}
