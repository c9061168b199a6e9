package io.github.cogvideox4j.core.dist;

import java.util.OptionalInt;

/**
 * The small key-value store the ranks meet through (as torch's TCPStore): the engine exchanges its connection
 * addresses here, the ranks check that they agree (world size, config fingerprint), and a rank's lost connection is
 * recorded here so that the survivors can name it. It carries only rendezvous keys, never tensor data.
 *
 * <p>Thread safety: implementations are thread-safe. Blocking calls end with a {@link ProcessGroupException} after the
 * store's timeout.
 */
public interface RendezvousStore extends AutoCloseable {
    /**
     * @param key the key
     * @param value the value (replaces an earlier one)
     */
    void set(String key, byte[] value);

    /**
     * @param key the key
     * @return its value, waiting until some rank sets it
     * @throws ProcessGroupException if the key is not set within the timeout or the store is lost
     */
    byte[] get(String key);

    /**
     * @param key a counter key (created at 0)
     * @param delta the amount to add
     * @return the counter's new value
     */
    long add(String key, long delta);

    /**
     * @return a rank whose process has gone (its connection to the store closed without a goodbye), the lowest if
     *     several; rank 0 when the store's host itself cannot be reached; empty when every rank is still there
     */
    OptionalInt lostRank();

    /** Says goodbye (a clean exit is not a loss) and frees the connection; on rank 0 also stops the server. */
    @Override
    void close();
}
