package io.github.cogvideox4j.bench;

import io.github.cogvideox4j.lora.LoraExporter;
import io.github.cogvideox4j.lora.cli.CogVideoXCli;
import io.github.cogvideox4j.lora.train.CheckpointStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Kill-and-resume soak of the command-line trainer: {@code cogvideox train} (the built-in tiny demo with a few
 * overrides) runs in child JVMs that are killed with SIGKILL at random moments and started again on the same output
 * folder, which resumes from the newest complete checkpoint; every trial must end with a LoRA file whose bytes
 * (SHA-256) equal those of an uninterrupted run.
 *
 * <p>First one uninterrupted reference run (its wall time {@code T} bounds the kill moments). Then {@code --trials}
 * trials, each on a fresh folder: {@code --kills} times, start the trainer (resuming) and send SIGKILL after a delay
 * drawn uniformly from {@code [0, T)} by a {@code Random(--seed)}; when a child ends before its kill (a miss, recorded),
 * the trial starts again on an empty folder with the next delay. Then the trainer runs to the end, and its LoRA file's
 * hash is compared with the reference's. For every kill it prints the delay, the newest complete checkpoint at that
 * moment, whether a half-written checkpoint or a LoRA file's temporary was lying there, and where the next start
 * resumed from. Ends with the count of trials whose LoRA matched; exits 1 if any did not.
 *
 * <p>Options: {@code --trials=20 --kills=1 --seed=1 --steps=16 --checkpoint-every=1 --work=target/kill-resume-soak}.
 * The kill moments depend on the machine's speed, the schedule of delays does not (same seed, same delays). Run
 * (project root; the classpath must hold the CLI's picocli, which this module's runtime scope has):
 * <pre>{@code
 * nice -n 15 bin/cogvideox-java -Dai.djl.offline=true -cp $CP io.github.cogvideox4j.bench.KillResumeSoak --trials=20
 * }</pre>
 */
public final class KillResumeSoak {
    private static final Set<String> OPTIONS = Set.of("trials", "kills", "seed", "steps", "checkpoint-every", "work");
    private static final long RUN_TIMEOUT_MINUTES = 30;

    private KillResumeSoak() {}

    /**
     * Runs the reference and the trials and prints one line per kill.
     *
     * @param args {@code --name=value} options, see the class documentation
     * @throws Exception if a child cannot be started or a file cannot be read
     */
    public static void main(String[] args) throws Exception {
        int trials = Integer.parseInt(option(args, "trials", "20"));
        int kills = Integer.parseInt(option(args, "kills", "1"));
        long seed = Long.parseLong(option(args, "seed", "1"));
        int steps = Integer.parseInt(option(args, "steps", "16"));
        int every = Integer.parseInt(option(args, "checkpoint-every", "1"));
        Path work = Path.of(option(args, "work", "target/kill-resume-soak")).toAbsolutePath();
        Files.createDirectories(work);
        System.out.println("# " + BenchEnvironment.describe());
        System.out.printf(Locale.ROOT, "# cogvideox train (tiny demo), %d steps, checkpoint every %d; %d trials x %d"
                + " kill(s), seed %d; work %s%n", steps, every, trials, kills, seed, work);

        Path reference = work.resolve("reference");
        deleteRecursively(reference);
        long t0 = System.nanoTime();
        Process ref = start(reference, steps, every);
        finish(ref, reference);
        long refMillis = Math.max(1, (System.nanoTime() - t0) / 1_000_000);
        String expected = sha256(reference.resolve(LoraExporter.WEIGHT_NAME));
        System.out.printf(Locale.ROOT, "reference: uninterrupted run, %s %s (kill delays drawn from [0, %d) ms)%n",
                LoraExporter.WEIGHT_NAME, expected, refMillis);

        Random random = new Random(seed);
        int matched = 0;
        int kill = 0;
        for (int trial = 1; trial <= trials; trial++) {
            Path out = work.resolve(String.format(Locale.ROOT, "trial-%02d", trial));
            deleteRecursively(out);
            int landed = 0;
            String resumedFrom = "-";
            while (landed < kills) {
                long delay = (long) (random.nextDouble() * refMillis);
                Process p = start(out, steps, every);
                boolean ended = p.waitFor(delay, TimeUnit.MILLISECONDS);
                if (ended) {
                    System.out.printf(Locale.ROOT, "trial %2d: delay %6d ms: the run ended before the kill (miss),"
                            + " exit %d; the trial starts again on an empty folder%n", trial, delay, p.exitValue());
                    if (p.exitValue() != 0) {
                        throw new IllegalStateException("the trainer on " + out + " exited " + p.exitValue());
                    }
                    deleteRecursively(out);
                    landed = 0;
                    continue;
                }
                p.destroyForcibly(); // SIGKILL: no shutdown hook, no cleanup
                if (!p.waitFor(1, TimeUnit.MINUTES)) {
                    throw new IllegalStateException("a killed trainer did not exit: " + out);
                }
                landed++;
                kill++;
                resumedFrom = resumedFrom(out);
                List<String> leftovers = leftovers(out);
                System.out.printf(Locale.ROOT, "kill %2d (trial %2d): delay %6d ms; this start resumed from %s;"
                                + " at the kill: newest complete checkpoint %s, leftovers %s%n", kill, trial, delay,
                        resumedFrom, newestCheckpoint(out), leftovers);
            }
            if (!Files.exists(out.resolve(LoraExporter.WEIGHT_NAME))) {
                finish(start(out, steps, every), out);
            }
            String actual = sha256(out.resolve(LoraExporter.WEIGHT_NAME));
            boolean same = actual.equals(expected);
            matched += same ? 1 : 0;
            System.out.printf(Locale.ROOT, "trial %2d: %d kill(s); final start resumed from %s; LoRA %s: %s%n", trial,
                    landed, resumedFrom(out), actual, same ? "identical" : "DIFFERENT");
        }
        System.out.printf(Locale.ROOT, "%d kills; %d of %d trials ended with a LoRA file identical to the uninterrupted"
                + " run's%n", kill, matched, trials);
        if (matched != trials) {
            System.exit(1);
        }
    }

    private static Process start(Path out, int steps, int every) throws IOException {
        Files.createDirectories(out.getParent());
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        // The trainer's INFO lines ("resumed from ...") on; this module's own logback.xml (WARN) is first on the path.
        Path logback = out.getParent().resolve("logback-trainer.xml");
        if (!Files.exists(logback)) {
            Files.writeString(logback, "<configuration><appender name=\"E\" class=\"ch.qos.logback.core.ConsoleAppender\">"
                    + "<target>System.err</target><encoder><pattern>%d{HH:mm:ss.SSS} %-5level %logger{20} - %msg%n"
                    + "</pattern></encoder></appender><logger name=\"ai.djl\" level=\"WARN\"/>"
                    + "<root level=\"INFO\"><appender-ref ref=\"E\"/></root></configuration>\n");
        }
        List<String> cmd = new ArrayList<>(List.of(java, "-Dai.djl.offline=true",
                "-Dlogback.configurationFile=" + logback,
                "-Dai.djl.pytorch.num_threads=1", "-Dai.djl.pytorch.num_interop_threads=1", "-cp",
                System.getProperty("java.class.path"), CogVideoXCli.class.getName(), "train",
                "--set", "output_dir=" + out, "--set", "steps=" + steps, "--set", "checkpoint_every=" + every,
                "--set", "validation_every=0", "--set", "data.synthetic.samples=12", "--set", "lora.rank=4"));
        Path log = out.resolveSibling(out.getFileName() + ".log");
        Files.writeString(log, "# start\n", StandardOpenOption.CREATE,
                StandardOpenOption.APPEND);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        pb.environment().put("THP_MEM_ALLOC_ENABLE", "1");
        return pb.start();
    }

    private static void finish(Process p, Path out) throws InterruptedException {
        if (!p.waitFor(RUN_TIMEOUT_MINUTES, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new IllegalStateException("the trainer on " + out + " did not finish in " + RUN_TIMEOUT_MINUTES
                    + " minutes");
        }
        if (p.exitValue() != 0) {
            throw new IllegalStateException("the trainer on " + out + " exited " + p.exitValue() + "; see "
                    + out.resolveSibling(out.getFileName() + ".log"));
        }
    }

    /** The checkpoint the last start of {@code out} resumed from, from its log ("resumed from ..."), or "fresh". */
    private static String resumedFrom(Path out) throws IOException {
        Path log = out.resolveSibling(out.getFileName() + ".log");
        if (!Files.exists(log)) {
            return "fresh";
        }
        List<String> lines = Files.readAllLines(log);
        String last = "fresh";
        for (String line : lines) {
            if (line.equals("# start")) {
                last = "fresh";
            }
            int i = line.indexOf("resumed from");
            if (i >= 0) {
                String rest = line.substring(i + "resumed from".length()).trim();
                int cp = rest.indexOf(CheckpointStore.PREFIX);
                last = cp >= 0 ? rest.substring(cp).split("[\\s,;)]")[0] : rest;
            }
        }
        return last;
    }

    private static String newestCheckpoint(Path out) throws IOException {
        Path dir = out.resolve("checkpoints");
        if (!Files.isDirectory(dir)) {
            return "none";
        }
        // Read-only: CheckpointStore.open would delete a crashed save's temporary, which is the trainer's job.
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().matches(CheckpointStore.PREFIX + "\\d+")
                            && Files.isRegularFile(p.resolve(CheckpointStore.MANIFEST_FILE)))
                    .map(p -> p.getFileName().toString()).max(String::compareTo).orElse("none");
        }
    }

    /** Half-written things a kill can leave: temporary checkpoint folders and temporary files (names start "."). */
    private static List<String> leftovers(Path out) throws IOException {
        List<String> found = new ArrayList<>();
        for (Path dir : List.of(out, out.resolve("checkpoints"))) {
            if (Files.isDirectory(dir)) {
                try (Stream<Path> s = Files.list(dir)) {
                    s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".") || n.contains("tmp"))
                            .forEach(found::add);
                }
            }
        }
        return found;
    }

    private static String sha256(Path file) throws IOException, NoSuchAlgorithmException {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file)));
    }

    private static void deleteRecursively(Path p) throws IOException {
        if (!Files.exists(p)) {
            Files.deleteIfExists(p.resolveSibling(p.getFileName() + ".log"));
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(q);
            }
        }
        Files.deleteIfExists(p.resolveSibling(p.getFileName() + ".log"));
    }

    private static String option(String[] args, String name, String defaultValue) {
        return BenchOptions.option(args, OPTIONS, name, defaultValue);
    }
}
