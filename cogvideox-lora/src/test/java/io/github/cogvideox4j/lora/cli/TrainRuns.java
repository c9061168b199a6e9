package io.github.cogvideox4j.lora.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.testing.Ranks;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * {@code cogvideox train} runs of the built-in default with small overrides, as child JVMs: alone, as the ranks of a
 * group ({@link Ranks}: torchrun-style variables on loopback), or under {@code cogvideox launch}; and the weights
 * they end with. Every child gets {@code THP_MEM_ALLOC_ENABLE=1} and {@code -Dai.djl.offline=true}.
 */
final class TrainRuns {
    /** A small run of the built-in default: 6 steps over 12 synthetic samples (3 buckets of 4), rank-4 LoRA. */
    static final List<String> SMALL = List.of("steps=6", "data.synthetic.samples=12", "lora.rank=4",
            "validation_every=0");
    /** Collective timeout of the multi-rank runs: seconds, so that a lost rank fails the others quickly. */
    static final String TIMEOUT = "distributed.timeout_seconds=30";
    private static final Duration DEADLINE = Duration.ofMinutes(5);

    private TrainRuns() {}

    /** {@code train --set output_dir=<out> --set k=v...} with the small run's keys, then {@code sets} (later wins). */
    static List<String> trainArgs(Path out, List<String> sets) {
        List<String> args = new ArrayList<>(List.of("train", "--set", "output_dir=" + out));
        Map<String, String> merged = new LinkedHashMap<>();
        for (String kv : SMALL) {
            merged.put(kv.substring(0, kv.indexOf('=')), kv);
        }
        for (String kv : sets) {
            merged.put(kv.substring(0, kv.indexOf('=')), kv);
        }
        merged.values().forEach(kv -> {
            args.add("--set");
            args.add(kv);
        });
        return args;
    }

    /** One process; fails the test unless it exits 0. Returns its output. */
    static String alone(Path out, String... sets) throws IOException, InterruptedException {
        Exit exit = exit(out, sets);
        assertThat(exit.code()).as(exit.output()).isZero();
        return exit.output();
    }

    /**
     * How one process ended.
     *
     * @param code its exit status
     * @param output what it printed (stdout and stderr)
     */
    record Exit(int code, String output) {}

    /** One process, whatever its exit status; fails the test only if it does not end in time. */
    static Exit exit(Path out, String... sets) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(java(), "-Dai.djl.offline=true", "-cp",
                System.getProperty("java.class.path"), CogVideoXCli.class.getName()));
        cmd.addAll(trainArgs(out, List.of(sets)));
        Path log = out.resolveSibling(out.getFileName() + ".log");
        Process p = start(cmd, log);
        assertThat(p.waitFor(DEADLINE.toSeconds(), TimeUnit.SECONDS)).as("the run ends in time").isTrue();
        return new Exit(p.exitValue(), Files.readString(log));
    }

    /** {@code world} ranks of one group (started, not awaited): the caller awaits or kills them. */
    static Ranks ranks(int world, Path out, String... sets) {
        List<String> all = new ArrayList<>(List.of(sets));
        all.add(0, TIMEOUT);
        return Ranks.start(CogVideoXCli.class, world, Map.of(), List.of("-Xmx1g"), trainArgs(out, all));
    }

    /** {@code world} ranks of one group; fails the test unless every rank exits 0. Returns their outcomes. */
    static List<Ranks.Outcome> together(int world, Path out, String... sets) {
        try (Ranks r = ranks(world, out, sets)) {
            List<Ranks.Outcome> outcomes = r.await(DEADLINE);
            assertThat(outcomes).as(Ranks.describe(outcomes)).allSatisfy(o -> assertThat(o.exitCode()).isZero());
            return outcomes;
        }
    }

    /** {@code cogvideox launch --nproc-per-node <world> -- train ...}; fails unless it exits 0. Returns its output. */
    static String launched(int world, Path out, String... sets) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(java(), "-Dai.djl.offline=true", "-Xmx1g", "-cp",
                System.getProperty("java.class.path"), CogVideoXCli.class.getName(), "launch", "--nproc-per-node",
                Integer.toString(world), "--master-port", Integer.toString(Ranks.freePort()), "--timeout-seconds",
                "60", "--"));
        cmd.addAll(trainArgs(out, List.of(sets)));
        Path log = out.resolveSibling(out.getFileName() + ".log");
        Process p = start(cmd, log);
        if (!p.waitFor(DEADLINE.toSeconds(), TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            throw new AssertionError("launch did not end within " + DEADLINE + "\n" + Files.readString(log));
        }
        String output = Files.readString(log);
        assertThat(p.exitValue()).as(output).isZero();
        return output;
    }

    /** @return every tensor of a safetensors file as floats, by name */
    static Map<String, float[]> tensors(Path file) throws IOException {
        Map<String, float[]> out = new LinkedHashMap<>();
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            for (String name : r.names()) {
                out.put(name, r.readFloats(name));
            }
        }
        return out;
    }

    /** @return the LoRA a run exported */
    static Map<String, float[]> lora(Path out) throws IOException {
        return tensors(out.resolve("pytorch_lora_weights.safetensors"));
    }

    /** @return the trainable weights of a run's checkpoint of {@code step} (the optimizer moments left out) */
    static Map<String, float[]> checkpointWeights(Path out, long step) throws IOException {
        Map<String, float[]> all = tensors(out.resolve("checkpoints").resolve(
                io.github.cogvideox4j.lora.train.CheckpointStore.folderName(step)).resolve("tensors.safetensors"));
        all.keySet().removeIf(k -> k.startsWith("adam."));
        return all;
    }

    /** @return the largest absolute difference between two sets of the same tensors */
    static double maxAbsDifference(Map<String, float[]> a, Map<String, float[]> b) {
        assertThat(b.keySet()).containsExactlyInAnyOrderElementsOf(a.keySet());
        double max = 0;
        for (Map.Entry<String, float[]> e : a.entrySet()) {
            float[] x = e.getValue();
            float[] y = b.get(e.getKey());
            assertThat(y).as(e.getKey()).hasSameSizeAs(x);
            for (int i = 0; i < x.length; i++) {
                max = Math.max(max, Math.abs(x[i] - y[i]));
            }
        }
        return max;
    }

    /** Asserts two sets of tensors are equal bit for bit. */
    static void assertBitIdentical(Map<String, float[]> expected, Map<String, float[]> actual) {
        assertThat(actual.keySet()).containsExactlyInAnyOrderElementsOf(expected.keySet());
        expected.forEach((k, v) -> assertThat(actual.get(k)).as(k).containsExactly(v));
    }

    private static Process start(List<String> cmd, Path log) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("THP_MEM_ALLOC_ENABLE", "1");
        return pb.start();
    }

    private static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }
}
