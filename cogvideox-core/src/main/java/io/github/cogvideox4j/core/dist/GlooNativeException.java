package io.github.cogvideox4j.core.dist;

/**
 * A failure inside the Gloo shim, made from the C++ exception that the shim caught ({@code gloo::IoException},
 * {@code gloo::EnforceNotMet}, {@code std::exception} and the rest). {@link GlooProcessGroup} turns it into a
 * {@link ProcessGroupException} that names the ranks.
 */
final class GlooNativeException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final String kind;

    /**
     * Called by the shim.
     *
     * @param kind {@code io}, {@code enforce}, {@code invalid}, {@code gloo}, {@code memory}, {@code argument} or
     *     {@code other}
     * @param message the C++ exception's message
     */
    GlooNativeException(String kind, String message) {
        super(message);
        this.kind = kind;
    }

    /** @return the kind of C++ exception ({@code io} for socket failures and Gloo's timeouts) */
    String kind() {
        return kind;
    }
}
