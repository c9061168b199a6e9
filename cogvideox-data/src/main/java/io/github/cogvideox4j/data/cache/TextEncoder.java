package io.github.cogvideox4j.data.cache;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/**
 * The text encoder (T5-XXL for CogVideoX) as the cache sees it. The core T5 is adapted to it by
 * {@link io.github.cogvideox4j.data.encode.T5TextEncoder}.
 *
 * <p>Thread safety: implementations state theirs; the cache calls an encoder from one thread at a time.
 */
public interface TextEncoder {
    /**
     * A string that changes whenever the encoder's output can change (model, weights hash, max length,
     * precision). Part of every {@link CacheKey}.
     *
     * @return the identity
     */
    String identity();

    /**
     * Encodes one prompt, exactly as given (prepend any id token before calling).
     *
     * @param prompt the caption
     * @param manager owner of the result
     * @return {@code [S, D]} embeddings ({@code [226, 4096]} for CogVideoX's T5), owned by {@code manager}
     */
    NDArray encode(String prompt, NDManager manager);
}
