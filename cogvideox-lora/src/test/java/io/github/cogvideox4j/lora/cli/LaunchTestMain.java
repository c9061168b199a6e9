package io.github.cogvideox4j.lora.cli;

import io.github.cogvideox4j.core.io.AtomicFiles;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;

/**
 * A stand-in rank for the launcher tests (started by {@code LaunchCommand} in place of {@link CogVideoXCli}): it sets
 * itself up as a rank as the CLI does, then behaves as its first argument says.
 *
 * <ul>
 *   <li>{@code env}: prints the torchrun-style variables and the JVM options, exits 0;
 *   <li>{@code lines N}: prints N long lines to stdout and N to stderr, from two threads at once, exits 0;
 *   <li>{@code fail R STATUS DIR [stubborn]}: writes its pid to DIR; rank R waits until every rank has, then exits
 *       with STATUS; the others sleep (until stopped; with {@code stubborn} their shutdown hook never ends, so
 *       SIGTERM does not stop them);
 *   <li>{@code sleep DIR}: writes its pid to DIR and sleeps (until stopped);
 *   <li>{@code log}: logs one INFO and one WARN line through SLF4J, exits 0.
 * </ul>
 */
public final class LaunchTestMain {
    private static final long SLEEP_SECONDS = 120;

    private LaunchTestMain() {}

    /**
     * @param args the behaviour and its arguments
     * @throws Exception if the behaviour fails
     */
    public static void main(String[] args) throws Exception {
        Map<String, String> env = System.getenv();
        RankRuntime.setUp(env);
        int rank = Integer.parseInt(env.getOrDefault("RANK", "0"));
        switch (args[0]) {
            case "env" -> {
                for (String name : List.of("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK",
                        "MASTER_ADDR", "MASTER_PORT", "THP_MEM_ALLOC_ENABLE", RankRuntime.TIMEOUT_ENV)) {
                    System.out.println("env " + name + "=" + env.get(name));
                }
                System.out.println("jvm " + String.join(" ", ManagementFactory.getRuntimeMXBean().getInputArguments()));
                System.out.println("offline=" + System.getProperty("ai.djl.offline"));
            }
            case "lines" -> {
                int n = Integer.parseInt(args[1]);
                String tail = "x".repeat(300);
                Thread err = new Thread(() -> {
                    for (int i = 0; i < n; i++) {
                        System.err.println("rank " + rank + " err " + i + " " + tail);
                    }
                });
                err.start();
                for (int i = 0; i < n; i++) {
                    System.out.println("rank " + rank + " out " + i + " " + tail);
                }
                err.join();
            }
            case "fail" -> {
                int failing = Integer.parseInt(args[1]);
                Path dir = Path.of(args[3]);
                writePid(dir, rank);
                if (rank == failing) {
                    int world = Integer.parseInt(env.get("WORLD_SIZE"));
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                    while (pidFiles(dir) < world && System.nanoTime() < deadline) {
                        Thread.sleep(20);
                    }
                    System.err.println("rank " + rank + " fails now");
                    System.exit(Integer.parseInt(args[2]));
                }
                if (args.length > 4 && args[4].equals("stubborn")) {
                    neverEndingShutdownHook();
                }
                Thread.sleep(TimeUnit.SECONDS.toMillis(SLEEP_SECONDS));
            }
            case "sleep" -> {
                writePid(Path.of(args[1]), rank);
                Thread.sleep(TimeUnit.SECONDS.toMillis(SLEEP_SECONDS));
            }
            case "log" -> {
                Logger log = LoggerFactory.getLogger(LaunchTestMain.class);
                log.info("info from rank {}", rank);
                log.warn("warning from rank {}", rank);
            }
            default -> throw new IllegalArgumentException("unknown behaviour " + args[0]);
        }
        System.exit(0);
    }

    /** SIGTERM starts the JVM's shutdown, which then never ends: only SIGKILL stops this rank. */
    private static void neverEndingShutdownHook() {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                Thread.sleep(TimeUnit.SECONDS.toMillis(SLEEP_SECONDS));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }));
    }

    private static void writePid(Path dir, int rank) throws IOException {
        AtomicFiles.write(dir.resolve("rank-" + rank + ".pid"),
                Long.toString(ProcessHandle.current().pid()).getBytes(StandardCharsets.UTF_8));
    }

    private static long pidFiles(Path dir) throws IOException {
        try (var files = Files.list(dir)) {
            return files.filter(f -> f.getFileName().toString().endsWith(".pid")).count();
        }
    }

    /** A launcher process of its own (for the tests that terminate the launcher): {@code launch} with this main. */
    public static final class Launcher {
        private Launcher() {}

        /**
         * @param args the launch options and the rank's arguments
         */
        public static void main(String[] args) {
            System.exit(new CommandLine(new LaunchCommand(LaunchTestMain.class.getName())).execute(args));
        }
    }
}
