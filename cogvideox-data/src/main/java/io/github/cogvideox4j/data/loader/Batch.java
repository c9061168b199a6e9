package io.github.cogvideox4j.data.loader;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Same-shape samples stacked for one training step, owning their native memory.
 *
 * <p>Shapes: {@link #latents()} {@code [B, F, C, h, w]}, {@link #promptEmbeddings()} {@code [B, S, D]}
 * ({@code [B, 226, 4096]} for CogVideoX), {@link #imageLatents()} {@code [B, 1, C, h, w]} for I2V.
 *
 * <p>Ownership: every array lives in {@link #manager()}, a sub-manager of the loader's parent manager; closing the
 * batch frees them all. The consumer must close each batch (try-with-resources). Thread safety: confined to the
 * consumer thread after {@link BatchLoader#next()} returns it.
 */
public final class Batch implements AutoCloseable {
    private final long ordinal;
    private final int[] indices;
    private final List<String> sources;
    private final NDManager manager;
    private final NDArray latents;
    private final NDArray promptEmbeddings;
    private final Optional<NDArray> imageLatents;

    Batch(long ordinal, int[] indices, List<String> sources, NDManager manager, NDArray latents,
            NDArray promptEmbeddings, Optional<NDArray> imageLatents) {
        this.ordinal = ordinal;
        this.indices = indices.clone();
        this.sources = List.copyOf(sources);
        this.manager = Objects.requireNonNull(manager, "manager");
        this.latents = latents;
        this.promptEmbeddings = promptEmbeddings;
        this.imageLatents = imageLatents;
    }

    /** @return position of this batch in the plan (counting from the options' first ordinal) */
    public long ordinal() {
        return ordinal;
    }

    /** @return sample indices in batch order (a copy; skipped samples are absent) */
    public int[] indices() {
        return indices.clone();
    }

    /** @return the samples' descriptions (files) in batch order */
    public List<String> sources() {
        return sources;
    }

    /** @return number of samples B */
    public int size() {
        return indices.length;
    }

    /** @return {@code [B, F, C, h, w]} scaled latents, owned by this batch */
    public NDArray latents() {
        return latents;
    }

    /** @return {@code [B, S, D]} prompt embeddings, owned by this batch */
    public NDArray promptEmbeddings() {
        return promptEmbeddings;
    }

    /** @return I2V: {@code [B, 1, C, h, w]} scaled image latents, owned by this batch */
    public Optional<NDArray> imageLatents() {
        return imageLatents;
    }

    /** @return the manager owning this batch's arrays (closed by {@link #close()}) */
    public NDManager manager() {
        return manager;
    }

    /** Frees the batch's native memory. Idempotent. */
    @Override
    public void close() {
        manager.close();
    }
}
