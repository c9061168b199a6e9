package io.github.cogvideox4j.lora.train.listener;

import java.time.Duration;
import java.util.Optional;
import java.util.function.LongSupplier;

/**
 * Time left from the steps done in this process only (so it is right after a resume, whatever earlier processes
 * did). The first step of a process is slower (native warm-up, first allocations), so once two steps are done the
 * rate is measured from the end of the first one.
 *
 * <p>Thread safety: synchronized (the progress bar renders on its own thread).
 */
final class EtaEstimator {
    private final LongSupplier nanoTime;
    private long startNanos;
    private long firstStepEndNanos;
    private long lastStepEndNanos;
    private long stepsDone;

    EtaEstimator(LongSupplier nanoTime) {
        this.nanoTime = nanoTime;
    }

    /** Starts measuring (the process's first step begins now). */
    synchronized void start() {
        startNanos = nanoTime.getAsLong();
        stepsDone = 0;
    }

    /** Records the end of one step. */
    synchronized void stepDone() {
        long now = nanoTime.getAsLong();
        stepsDone++;
        if (stepsDone == 1) {
            firstStepEndNanos = now;
        }
        lastStepEndNanos = now;
    }

    /** @return steps finished since {@link #start()} */
    synchronized long stepsDone() {
        return stepsDone;
    }

    /**
     * @param remainingSteps steps still to run
     * @return the estimated time they take, or empty before the first step ends
     */
    synchronized Optional<Duration> eta(long remainingSteps) {
        if (stepsDone == 0) {
            return Optional.empty();
        }
        double perStep = stepsDone >= 2
                ? (double) (lastStepEndNanos - firstStepEndNanos) / (stepsDone - 1)
                : (double) (firstStepEndNanos - startNanos);
        return Optional.of(Duration.ofNanos(Math.round(perStep * Math.max(0, remainingSteps))));
    }
}
