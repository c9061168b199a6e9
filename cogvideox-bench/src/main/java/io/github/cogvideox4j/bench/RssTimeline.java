package io.github.cogvideox4j.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Samples this process's RSS ({@link ProcMemory#rssKb()}) on a daemon thread while it is open and keeps the largest
 * reading of each time window, so a bench can say <em>when</em> in a long step its peak falls (which phase: forward,
 * head, which part of the backward), not only how high it is.
 *
 * <p>Thread safety: one opener; the sampler thread writes, {@link #format()} reads after {@link #close()}.
 */
final class RssTimeline implements AutoCloseable {
    private final long windowNanos;
    private final long t0 = System.nanoTime();
    private final Map<Long, Long> maxKbByWindow = new TreeMap<>();
    private final ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "rss-timeline");
        t.setDaemon(true);
        return t;
    });
    private volatile IOException failure;

    /**
     * Starts sampling.
     *
     * @param sampleMillis milliseconds between readings, at least 1
     * @param windowSeconds seconds per window of the timeline, at least 1
     */
    RssTimeline(long sampleMillis, long windowSeconds) {
        this.windowNanos = TimeUnit.SECONDS.toNanos(windowSeconds);
        sampler.scheduleAtFixedRate(this::sample, 0, sampleMillis, TimeUnit.MILLISECONDS);
    }

    private void sample() {
        try {
            long kb = ProcMemory.rssKb();
            long window = (System.nanoTime() - t0) / windowNanos;
            synchronized (maxKbByWindow) {
                maxKbByWindow.merge(window, kb, Math::max);
            }
        } catch (IOException e) {
            failure = e;
        }
    }

    /** Stops sampling and waits for the sampler to end. */
    @Override
    public void close() {
        sampler.shutdownNow();
        try {
            sampler.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * @return one line: the largest RSS of each window in GiB, {@code "<start s>: <GiB>"}, in time order
     * @throws UncheckedIOException if a reading failed
     */
    String format() {
        if (failure != null) {
            throw new UncheckedIOException("RSS timeline: reading /proc/self/status failed", failure);
        }
        StringBuilder sb = new StringBuilder();
        long windowSeconds = TimeUnit.NANOSECONDS.toSeconds(windowNanos);
        synchronized (maxKbByWindow) {
            maxKbByWindow.forEach((w, kb) -> sb.append(sb.length() == 0 ? "" : ", ")
                    .append(String.format(Locale.ROOT, "%d s: %.2f", w * windowSeconds, kb / (1024.0 * 1024))));
        }
        return sb.toString();
    }
}
