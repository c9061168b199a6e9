package io.github.cogvideox4j.bench;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Starts a bench main as N local ranks (child JVMs with torchrun-style variables on a free loopback port), relays
 * their output, and stops them all when one fails or the deadline passes. Used by the multi-rank bench mains.
 */
final class LocalRanks {
    private LocalRanks() {}

    /**
     * @param main the class whose {@code main} each rank runs (it sees {@code RANK} set)
     * @param ranks how many ranks
     * @param jvmOptions extra JVM options of every rank (e.g. the torch thread count)
     * @param args the arguments of every rank
     * @param deadline how long all ranks together may run
     * @return 0 when every rank exited 0, else the first failure's exit code (1 on the deadline)
     * @throws IOException if a rank cannot be started
     * @throws InterruptedException if interrupted while waiting
     */
    static int run(Class<?> main, int ranks, List<String> jvmOptions, String[] args, Duration deadline)
            throws IOException, InterruptedException {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        List<Process> processes = new ArrayList<>();
        try {
            for (int r = 0; r < ranks; r++) {
                List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                        .toString(), "-Dai.djl.offline=true"));
                cmd.addAll(jvmOptions);
                cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), main.getName()));
                cmd.addAll(Arrays.asList(args));
                ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                        .redirectOutput(ProcessBuilder.Redirect.INHERIT);
                Map<String, String> env = pb.environment();
                env.put("THP_MEM_ALLOC_ENABLE", "1");
                env.put("RANK", Integer.toString(r));
                env.put("WORLD_SIZE", Integer.toString(ranks));
                env.put("LOCAL_RANK", Integer.toString(r));
                env.put("LOCAL_WORLD_SIZE", Integer.toString(ranks));
                env.put("MASTER_ADDR", "127.0.0.1");
                env.put("MASTER_PORT", Integer.toString(port));
                processes.add(pb.start());
            }
            long end = System.nanoTime() + deadline.toNanos();
            for (Process p : processes) {
                long left = end - System.nanoTime();
                if (!p.waitFor(Math.max(0, left), TimeUnit.NANOSECONDS)) {
                    System.err.println(main.getSimpleName() + ": a rank still runs after " + deadline
                            + "; stopping all");
                    return 1;
                }
                if (p.exitValue() != 0) {
                    System.err.println(main.getSimpleName() + ": a rank exited with " + p.exitValue()
                            + "; stopping all");
                    return p.exitValue();
                }
            }
            return 0;
        } finally {
            for (Process p : processes) {
                p.destroyForcibly();
            }
        }
    }
}
