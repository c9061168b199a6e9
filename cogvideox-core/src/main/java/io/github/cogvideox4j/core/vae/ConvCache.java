package io.github.cogvideox4j.core.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.HashMap;
import java.util.Map;

/**
 * The last {@code kernel_t - 1} input frames of every causal conv, carried from one frame chunk to the next (the
 * {@code conv_cache} dicts of diffusers, keyed here by the conv's Diffusers name). Owns its arrays.
 *
 * <p>Thread safety: not thread-safe; one per encode/decode pass (per tile).
 */
final class ConvCache implements AutoCloseable {
    private final NDManager manager;
    private final Map<String, NDArray> frames = new HashMap<>();

    ConvCache(NDManager parent) {
        this.manager = parent.newSubManager();
    }

    /**
     * @param conv the conv's name
     * @return its cached frames {@code [B, C, k-1, H, W]}, or {@code null} on the first chunk
     */
    NDArray get(String conv) {
        return frames.get(conv);
    }

    /**
     * Stores a copy of {@code last} (the cache now owns the copy) and frees the previous entry.
     *
     * @param conv the conv's name
     * @param last the frames to keep
     */
    void put(String conv, NDArray last) {
        NDArray copy = last.duplicate();
        copy.attach(manager);
        NDArray old = frames.put(conv, copy);
        if (old != null) {
            old.close();
        }
    }

    @Override
    public void close() {
        manager.close();
    }
}
