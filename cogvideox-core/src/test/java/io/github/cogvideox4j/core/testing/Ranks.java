package io.github.cogvideox4j.core.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * Starts the ranks of a multi-process test as child JVMs on this machine, the way a torchrun-style launcher does:
 * the same java and class path as this JVM, this JVM's {@code ai.djl.offline} ({@code true} unless the cuda profile
 * lets DJL fetch its natives), {@code THP_MEM_ALLOC_ENABLE=1}, and
 * {@code RANK}, {@code WORLD_SIZE}, {@code LOCAL_RANK}, {@code LOCAL_WORLD_SIZE}, {@code MASTER_ADDR=127.0.0.1},
 * {@code MASTER_PORT} (a free loopback port). Each child's stdout and stderr are collected, merged, line by line.
 * Bounded: {@link #await} destroys every child still running at the deadline and fails the test; {@link #close}
 * destroys whatever still runs.
 *
 * <pre>{@code
 * try (Ranks ranks = Ranks.start(MyWorker.class, 2, Map.of("SCENARIO", "sum"), List.of())) {
 *     List<Ranks.Outcome> out = ranks.await(Duration.ofSeconds(60));
 *     assertThat(out).allSatisfy(o -> assertThat(o.exitCode()).isZero());
 * }
 * }</pre>
 *
 * <p>Thread safety: one test thread drives an instance; the output readers are internal threads.
 */
public final class Ranks implements AutoCloseable {
    /**
     * How one rank ended.
     *
     * @param rank the rank
     * @param exitCode the exit code (137 or -9-like values after SIGKILL: 128 + 9)
     * @param output its stdout and stderr, merged
     * @param exitNanos {@link System#nanoTime()} at which the process was seen to end
     */
    public record Outcome(int rank, int exitCode, String output, long exitNanos) {}

    private final List<Process> processes;
    private final List<StringBuffer> outputs;
    private final List<Thread> readers;
    private final int masterPort;

    private Ranks(List<Process> processes, List<StringBuffer> outputs, List<Thread> readers, int masterPort) {
        this.processes = processes;
        this.outputs = outputs;
        this.readers = readers;
        this.masterPort = masterPort;
    }

    /**
     * Starts {@code worldSize} ranks running {@code main}, with a 512 MB heap each.
     *
     * @param main the main class (on this JVM's class path)
     * @param worldSize the number of ranks
     * @param env extra environment of every rank
     * @param args the arguments of every rank
     * @return the running ranks (close them)
     */
    public static Ranks start(Class<?> main, int worldSize, Map<String, String> env, List<String> args) {
        return start(main, worldSize, env, List.of("-Xmx512m"), args);
    }

    /**
     * @param main the main class (on this JVM's class path)
     * @param worldSize the number of ranks
     * @param env extra environment of every rank
     * @param jvmArgs extra JVM options of every rank
     * @param args the arguments of every rank
     * @return the running ranks (close them)
     */
    public static Ranks start(Class<?> main, int worldSize, Map<String, String> env, List<String> jvmArgs,
            List<String> args) {
        int port = freePort();
        List<Process> processes = new ArrayList<>();
        List<StringBuffer> outputs = new ArrayList<>();
        List<Thread> readers = new ArrayList<>();
        Ranks ranks = new Ranks(processes, outputs, readers, port);
        try {
            for (int r = 0; r < worldSize; r++) {
                List<String> cmd = new ArrayList<>();
                cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
                cmd.add("-Dai.djl.offline=" + System.getProperty("ai.djl.offline", "true"));
                String golden = System.getProperty("golden.dir");
                if (golden != null) {
                    cmd.add("-Dgolden.dir=" + golden);
                }
                cmd.addAll(jvmArgs);
                cmd.add("-cp");
                cmd.add(System.getProperty("java.class.path"));
                cmd.add(main.getName());
                cmd.addAll(args);
                ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
                Map<String, String> e = pb.environment();
                e.put("THP_MEM_ALLOC_ENABLE", "1");
                e.put("RANK", Integer.toString(r));
                e.put("WORLD_SIZE", Integer.toString(worldSize));
                e.put("LOCAL_RANK", Integer.toString(r));
                e.put("LOCAL_WORLD_SIZE", Integer.toString(worldSize));
                e.put("MASTER_ADDR", "127.0.0.1");
                e.put("MASTER_PORT", Integer.toString(port));
                e.putAll(env);
                Process p = pb.start();
                StringBuffer out = new StringBuffer();
                Thread reader = new Thread(() -> drain(p, out), "rank-" + r + "-output");
                reader.setDaemon(true);
                reader.start();
                processes.add(p);
                outputs.add(out);
                readers.add(reader);
            }
            return ranks;
        } catch (IOException e) {
            ranks.close();
            throw new UncheckedIOException("cannot start the ranks of " + main.getName(), e);
        }
    }

    /** @return the MASTER_PORT the ranks were given */
    public int masterPort() {
        return masterPort;
    }

    /** @return the number of ranks */
    public int worldSize() {
        return processes.size();
    }

    /**
     * @param rank a rank
     * @return its process id
     */
    public long pid(int rank) {
        return processes.get(rank).pid();
    }

    /**
     * Waits until a line of {@code rank}'s output satisfies {@code line}.
     *
     * @param rank the rank
     * @param line the condition
     * @param deadline how long to wait
     * @throws AssertionError (after destroying every rank) when the line does not come in time or the rank ends
     *     without it
     */
    public void awaitLine(int rank, Predicate<String> line, Duration deadline) {
        long end = System.nanoTime() + deadline.toNanos();
        while (true) {
            if (outputs.get(rank).toString().lines().anyMatch(line)) {
                return;
            }
            boolean ended = !processes.get(rank).isAlive();
            if (ended && !readers.get(rank).isAlive() && !outputs.get(rank).toString().lines().anyMatch(line)) {
                String all = describe();
                close();
                throw new AssertionError("rank " + rank + " ended without the awaited line\n" + all);
            }
            if (System.nanoTime() > end) {
                String all = describe();
                close();
                throw new AssertionError("rank " + rank + ": the awaited line did not come within " + deadline + "\n"
                        + all);
            }
            sleep(10);
        }
    }

    /**
     * Sends SIGKILL to a rank.
     *
     * @param rank the rank
     * @return {@link System#nanoTime()} just before the signal
     */
    public long kill(int rank) {
        long t = System.nanoTime();
        processes.get(rank).destroyForcibly(); // SIGKILL on Linux
        return t;
    }

    /**
     * Waits for every rank to end.
     *
     * @param deadline how long to wait for all of them together
     * @return the outcomes in rank order
     * @throws AssertionError (after destroying every rank) when some rank still runs at the deadline
     */
    public List<Outcome> await(Duration deadline) {
        long end = System.nanoTime() + deadline.toNanos();
        long[] exitNanos = new long[processes.size()];
        boolean[] done = new boolean[processes.size()];
        int remaining = processes.size();
        while (remaining > 0) {
            for (int r = 0; r < processes.size(); r++) {
                if (!done[r] && !processes.get(r).isAlive()) {
                    done[r] = true;
                    exitNanos[r] = System.nanoTime();
                    remaining--;
                }
            }
            if (remaining == 0) {
                break;
            }
            if (System.nanoTime() > end) {
                close();
                throw new AssertionError("ranks still running after " + deadline + " (destroyed)\n" + describe());
            }
            sleep(5);
        }
        List<Outcome> outcomes = new ArrayList<>();
        for (int r = 0; r < processes.size(); r++) {
            joinReader(r);
            outcomes.add(new Outcome(r, processes.get(r).exitValue(), outputs.get(r).toString(), exitNanos[r]));
        }
        return outcomes;
    }

    /** @return every rank's output so far, each under a header, for failure messages */
    public String describe() {
        StringBuilder sb = new StringBuilder();
        for (int r = 0; r < processes.size(); r++) {
            Process p = processes.get(r);
            sb.append("----- rank ").append(r).append(p.isAlive() ? " (running)" : " (exit " + p.exitValue() + ")")
                    .append(" -----\n").append(outputs.get(r)).append('\n');
        }
        return sb.toString();
    }

    /**
     * @param outcomes the outcomes of {@link #await}
     * @return their outputs, each under a header, for failure messages
     */
    public static String describe(List<Outcome> outcomes) {
        StringBuilder sb = new StringBuilder();
        for (Outcome o : outcomes) {
            sb.append("----- rank ").append(o.rank()).append(" (exit ").append(o.exitCode()).append(") -----\n")
                    .append(o.output()).append('\n');
        }
        return sb.toString();
    }

    /** Destroys (SIGKILL) every rank still running and waits briefly for them. */
    @Override
    public void close() {
        for (Process p : processes) {
            if (p.isAlive()) {
                p.destroyForcibly();
            }
        }
        for (Process p : processes) {
            try {
                p.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** @return a TCP port that is free on 127.0.0.1 right now */
    public static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * @param output a rank's output
     * @return the values of its {@code KEY=value} lines that start with {@code prefix} (e.g. "RESULT ")
     */
    public static Map<String, String> keyValues(String output, String prefix) {
        Map<String, String> out = new HashMap<>();
        output.lines().filter(l -> l.startsWith(prefix)).forEach(l -> {
            String kv = l.substring(prefix.length());
            int eq = kv.indexOf('=');
            if (eq > 0) {
                out.put(kv.substring(0, eq), kv.substring(eq + 1));
            }
        });
        return out;
    }

    private void joinReader(int r) {
        try {
            readers.get(r).join(TimeUnit.SECONDS.toMillis(10));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void drain(Process p, StringBuffer out) {
        try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(),
                StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                out.append(line).append('\n');
            }
        } catch (IOException e) {
            out.append("[output reader failed: ").append(e).append("]\n");
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
