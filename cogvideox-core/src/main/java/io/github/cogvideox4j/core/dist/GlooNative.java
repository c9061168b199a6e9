package io.github.cogvideox4j.core.dist;

import java.nio.ByteBuffer;

/**
 * The native methods of the Gloo shim ({@code src/main/native/cogvideox4j_gloo.cpp}); javac writes their C header.
 * Callers validate every argument first ({@link GlooProcessGroup}); the shim checks handles and buffer sizes again.
 * Every failure arrives as a {@link GlooNativeException}, or as the store's own exception when a store call failed.
 */
final class GlooNative {
    /** Element type codes of {@link #allReduce}. */
    static final int FLOAT32 = 0;

    static final int FLOAT64 = 1;

    private GlooNative() {}

    /** @return the Gloo version the shim was built against */
    static native String version();

    /**
     * Creates the TCP device bound to {@code hostname}, then the full mesh through the store (same thread).
     *
     * @return the native context handle, owned by the caller ({@link #destroy})
     */
    static native long connect(RendezvousStore store, String keyPrefix, int rank, int size, String hostname,
            long timeoutMillis);

    /** In-place sum (then division by the world size when {@code average}) of {@code elements} values. */
    static native void allReduce(long handle, ByteBuffer buffer, long elements, int dtype, boolean average);

    /** Root's {@code bytes} bytes into every rank's buffer. */
    static native void broadcast(long handle, ByteBuffer buffer, long bytes, int root);

    /** Every rank's {@code inputBytes} bytes, in rank order, into {@code output}. */
    static native void allGather(long handle, ByteBuffer input, ByteBuffer output, long inputBytes);

    /** This rank's part of the sum (or average) of the FLOAT32 {@code input} of every rank. */
    static native void reduceScatter(long handle, ByteBuffer input, ByteBuffer output, long outputElements,
            boolean average);

    static native void barrier(long handle);

    /** Closes the sockets (the peers' pending operations then fail instead of waiting for their timeout). */
    static native void closeConnections(long handle);

    /** Frees the native context; the handle is invalid afterwards. */
    static native void destroy(long handle);
}
