package io.github.cogvideox4j.lora.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.Charset;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * Runs the ranks of one machine to the end: starts their processes, prints their output line by line with their
 * rank, and when one fails stops the others. Used by {@link LaunchCommand}.
 *
 * <p>Output: a reader thread per stream and rank; each line goes to the launcher's stdout (or stderr) as
 * {@code [rank r] line} in one write under that stream's lock, so lines of different ranks never mix. A carriage
 * return (a progress bar redrawing itself) ends a line too.
 *
 * <p>Stopping: SIGTERM to each rank still alive and its descendants, then SIGKILL to whatever is left after the
 * grace. A shutdown hook does the same when the launcher itself is terminated, so no rank outlives it (a launcher
 * killed with SIGKILL runs no hook; its ranks watch it, see {@link RankRuntime}).
 *
 * <p>Thread safety: {@link #run} is called once, from one thread.
 */
final class RankSupervisor {
    private static final Map<Integer, String> SIGNALS = Map.of(1, "SIGHUP", 2, "SIGINT", 3, "SIGQUIT", 4, "SIGILL",
            6, "SIGABRT", 7, "SIGBUS", 8, "SIGFPE", 9, "SIGKILL", 11, "SIGSEGV", 15, "SIGTERM");
    private static final Duration PUMP_DRAIN = Duration.ofSeconds(5);

    private final PrintWriter out;
    private final PrintWriter err;
    private final int firstRank;
    private final Duration grace;
    private final List<Process> processes = new ArrayList<>();
    private volatile boolean terminating;

    /**
     * @param out where the ranks' stdout lines go
     * @param err where the ranks' stderr lines and the launcher's own messages go
     * @param firstRank the global rank of the first process (node rank x processes per node)
     * @param grace how long a rank may take to end after SIGTERM before it gets SIGKILL
     */
    RankSupervisor(PrintWriter out, PrintWriter err, int firstRank, Duration grace) {
        this.out = out;
        this.err = err;
        this.firstRank = firstRank;
        this.grace = grace;
    }

    /**
     * Starts every rank and waits for all of them.
     *
     * @param ranks one process builder per local rank, in rank order
     * @return 0 when every rank exited 0; else the exit status of the first rank that failed (1 if that is not a
     *     valid exit code of this process)
     * @throws IOException if a rank cannot be started (the ranks already started are stopped)
     * @throws InterruptedException if this thread is interrupted (the ranks are stopped)
     */
    int run(List<ProcessBuilder> ranks) throws IOException, InterruptedException {
        Thread hook = new Thread(() -> {
            terminating = true;
            message("terminated: stopping the ranks");
            stopAll();
        }, "cogvideox-launch-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        List<Thread> pumps = new ArrayList<>();
        BlockingQueue<Integer> exited = new LinkedBlockingQueue<>();
        try {
            for (int i = 0; i < ranks.size(); i++) {
                Process p;
                try {
                    p = ranks.get(i).start();
                } catch (IOException e) {
                    throw new IOException("cannot start rank " + (firstRank + i) + ": " + e.getMessage(), e);
                }
                synchronized (processes) {
                    processes.add(p);
                }
                String prefix = "[rank " + (firstRank + i) + "] ";
                p.getOutputStream().close();
                pumps.add(pump(p.getInputStream(), out, prefix));
                pumps.add(pump(p.getErrorStream(), err, prefix));
                int index = i;
                p.onExit().thenRun(() -> exited.add(index));
            }
            int failed = -1;
            int failedStatus = 0;
            for (int n = 0; n < ranks.size(); n++) {
                int i = exited.take();
                int status = processes.get(i).exitValue();
                if (status != 0 && failed < 0 && !terminating) {
                    failed = i;
                    failedStatus = status;
                    message("rank %d %s; stopping the other ranks", firstRank + i, describe(status));
                    stopAll();
                }
            }
            drain(pumps);
            if (failed < 0) {
                return 0;
            }
            int failedIndex = failed;
            String others = IntStream.range(0, ranks.size()).filter(i -> i != failedIndex)
                    .mapToObj(i -> "rank " + (firstRank + i) + " " + describe(processes.get(i).exitValue()))
                    .collect(Collectors.joining(", "));
            message("failed: rank %d %s%s", firstRank + failed, describe(failedStatus),
                    others.isEmpty() ? "" : " (then " + others + ")");
            return failedStatus > 0 && failedStatus < 256 ? failedStatus : 1;
        } catch (IOException | InterruptedException | RuntimeException e) {
            stopAll();
            throw e;
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running or has run: it stops the ranks
            }
        }
    }

    /** How a rank ended, for messages: {@code exited with status 3}, {@code was killed by SIGKILL (status 137)}. */
    static String describe(int status) {
        if (status > 128 && status < 128 + 65) {
            int signal = status - 128;
            return "was killed by " + SIGNALS.getOrDefault(signal, "signal " + signal) + " (status " + status + ")";
        }
        return "exited with status " + status;
    }

    /** SIGTERM to every live rank (and what it started), SIGKILL after the grace; returns when all are gone. */
    private void stopAll() {
        List<Process> live;
        synchronized (processes) {
            live = processes.stream().filter(Process::isAlive).toList();
        }
        if (live.isEmpty()) {
            return;
        }
        for (Process p : live) {
            p.descendants().forEach(ProcessHandle::destroy);
            p.destroy();
        }
        long deadline = System.nanoTime() + grace.toNanos();
        for (Process p : live) {
            try {
                long left = deadline - System.nanoTime();
                if (left <= 0 || !p.waitFor(left, TimeUnit.NANOSECONDS)) {
                    p.descendants().forEach(ProcessHandle::destroyForcibly);
                    p.destroyForcibly();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
            }
        }
        for (Process p : live) {
            try {
                p.waitFor(grace.toNanos() + TimeUnit.SECONDS.toNanos(5), TimeUnit.NANOSECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private void message(String format, Object... args) {
        synchronized (err) {
            err.printf("cogvideox launch: " + format + "%n", args);
            err.flush();
        }
    }

    private Thread pump(InputStream stream, PrintWriter target, String prefix) {
        Charset charset = Charset.forName(System.getProperty("native.encoding", Charset.defaultCharset().name()));
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(stream, charset))) {
                for (String line = r.readLine(); line != null; line = r.readLine()) {
                    synchronized (target) {
                        target.println(prefix + line);
                        target.flush();
                    }
                }
            } catch (IOException e) {
                message("cannot read the output of %s: %s", prefix.trim(), e.getMessage());
            }
        }, "cogvideox-launch-output " + prefix.trim());
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** Waits for the last lines of every rank (a stream ends when the process and its descendants closed it). */
    private static void drain(List<Thread> pumps) throws InterruptedException {
        long deadline = System.nanoTime() + PUMP_DRAIN.toNanos();
        for (Thread t : pumps) {
            long left = Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
            t.join(left);
        }
    }
}
