package io.github.cogvideox4j.core.dist;

import io.github.cogvideox4j.core.CogVideoXException;
import java.util.OptionalInt;

/**
 * A collective or the rendezvous failed: a rank was lost, a timeout passed, the ranks disagree (world size, config),
 * or the engine refused. The message names this rank and, when known, the lost rank.
 *
 * <p>Thread safety: immutable.
 */
public class ProcessGroupException extends CogVideoXException {
    private static final long serialVersionUID = 1L;
    private final int lostRank;

    /**
     * @param message what failed, naming the ranks involved
     * @param lostRank the rank that was lost, or -1 when unknown or none
     * @param cause the underlying failure, or {@code null}
     */
    public ProcessGroupException(String message, int lostRank, Throwable cause) {
        super(message, cause);
        this.lostRank = lostRank;
    }

    /** @return the rank whose loss caused this failure, when known */
    public OptionalInt lostRank() {
        return lostRank < 0 ? OptionalInt.empty() : OptionalInt.of(lostRank);
    }
}
