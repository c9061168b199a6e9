package io.github.cogvideox4j.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.dist.ProcessGroup;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.schedule.CogVideoXDdimScheduler;
import io.github.cogvideox4j.core.schedule.SchedulerConfig;
import io.github.cogvideox4j.core.schedule.TrainingInput;
import io.github.cogvideox4j.lora.LoraAdapter;
import io.github.cogvideox4j.lora.LoraConfig;
import io.github.cogvideox4j.lora.train.FineTuner;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Data-parallel scaling of a training step: the same step (forward + backward of the objective, gradient all-reduce,
 * clipping, AdamW) on {@link TrainingBenchCase} {@code bench-5b-l2-small}, timed on 1 rank and on 2 ranks, each rank
 * one torch thread (so the two ranks use the machine's two cores, as two GPUs would each use their own). Every rank
 * runs a micro-batch of 1: 2 ranks do twice the work of one step per step.
 *
 * <p>Printed, from one run: the best and median step time per world size, the <em>scaling efficiency</em>
 * {@code t(1 rank) / t(2 ranks)} (1.0 = perfect weak scaling: twice the samples in the same time) and the sample
 * throughput ratio {@code 2 t(1) / t(2)}. Modes: {@code lora} (rank 64 on to_q/to_k/to_v/to_out.0; the all-reduce
 * moves a few MB) and {@code full} (every parameter; the all-reduce moves the whole gradient, ZeRO-1 sharding).
 *
 * <p>Options: {@code --mode=lora|full --steps=6 --warmup=2 --case=bench-5b-l2-small}. Run from the project root:
 * <pre>{@code
 * mvn -q -B -pl cogvideox-bench -am package dependency:build-classpath -DskipTests \
 *     -DincludeScope=runtime -Dmdep.outputFile=target/classpath.txt
 * CP=cogvideox-bench/target/classes:$(cat cogvideox-bench/target/classpath.txt)
 * bin/cogvideox-java -cp $CP io.github.cogvideox4j.bench.DataParallelScalingBench --mode=lora
 * }</pre>
 */
public final class DataParallelScalingBench {
    private static final Set<String> OPTIONS = Set.of("mode", "steps", "warmup", "case");
    private static final List<String> ONE_THREAD = List.of("-Xmx6g", "-Dai.djl.pytorch.num_threads=1",
            "-Dai.djl.pytorch.num_interop_threads=1");

    private DataParallelScalingBench() {}

    /**
     * @param args {@code --name=value} options (see the class comment)
     * @throws Exception if a rank fails
     */
    public static void main(String[] args) throws Exception {
        if (System.getenv("RANK") != null) {
            rank(args);
            return;
        }
        String mode = BenchOptions.option(args, OPTIONS, "mode", "lora");
        System.out.println("DataParallelScalingBench: " + mode + " on " + BenchOptions.option(args, OPTIONS, "case",
                "bench-5b-l2-small") + ", 1 torch thread per rank, micro-batch 1 per rank; " + BenchEnvironment
                .describe());
        double[] best = new double[3];
        for (int ranks : new int[] {1, 2}) {
            java.nio.file.Path result = java.nio.file.Files.createTempFile("scaling", ".txt");
            List<String> jvm = new java.util.ArrayList<>(ONE_THREAD);
            jvm.add("-Dbench.result=" + result);
            int code = LocalRanks.run(DataParallelScalingBench.class, ranks, jvm, args, Duration.ofMinutes(30));
            if (code != 0) {
                System.exit(code);
            }
            best[ranks] = Double.parseDouble(java.nio.file.Files.readString(result).trim());
            java.nio.file.Files.delete(result);
        }
        System.out.printf(Locale.ROOT, "scaling efficiency t(1)/t(2) = %.2f; sample throughput 2 ranks / 1 rank = "
                + "%.2f (best step times %.0f ms and %.0f ms; 1.0 and 2.0 are ideal)%n", best[1] / best[2],
                2 * best[1] / best[2], best[1], best[2]);
    }

    private static void rank(String[] args) throws Exception {
        String mode = BenchOptions.option(args, OPTIONS, "mode", "lora");
        int steps = Integer.parseInt(BenchOptions.option(args, OPTIONS, "steps", "6"));
        int warmup = Integer.parseInt(BenchOptions.option(args, OPTIONS, "warmup", "2"));
        TrainingBenchCase c = TrainingBenchCase.named(BenchOptions.option(args, OPTIONS, "case",
                "bench-5b-l2-small"));
        CogVideoXConfig config = c.config();
        try (ProcessGroup group = ProcessGroup.fromEnvironment(ProcessGroup.Options.builder()
                        .timeout(Duration.ofMinutes(10)).build());
                NDManager root = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(config, root, 42)) {
            Engine.getInstance().setRandomSeed(1000 + group.rank());          // each rank its own sample
            NDArray latents = root.randomNormal(c.latentShape());
            NDArray noise = root.randomNormal(c.latentShape());
            NDArray text = root.randomNormal(new Shape(c.batch(), config.maxTextSeqLength(), config.textEmbedDim()));
            NDArray t = EngineArrays.create(root, new long[] {500}, new Shape(1));
            TrainingInput input = TrainingInput.of(latents, text, t, noise);
            LoraAdapter lora = "full".equals(mode) ? null : LoraAdapter.inject(model, LoraConfig.of(64, 64));
            FineTuner.Builder b = FineTuner.builder(model,
                    new CogVideoXDdimScheduler(SchedulerConfig.released(SchedulerConfig.DDIM_CLASS, 1.0)))
                    .processGroup(group).lora(lora);
            double[] ms = new double[steps];
            long trainable = (lora != null ? lora.namedParameters() : model.namedParameters()).values().stream()
                    .mapToLong(NDArray::size).sum();
            try (FineTuner tuner = b.build()) {
                for (int i = 0; i < warmup + steps; i++) {
                    group.barrier();
                    long t0 = System.nanoTime();
                    tuner.step(List.of(input), c.name(), List.of());
                    long t1 = System.nanoTime();
                    if (i >= warmup) {
                        ms[i - warmup] = (t1 - t0) / 1e6;
                    }
                }
            } finally {
                if (lora != null) {
                    lora.close();
                }
            }
            if (group.isCoordinator()) {
                double[] sorted = ms.clone();
                Arrays.sort(sorted);
                System.out.printf(Locale.ROOT, "ranks %d | step best %.0f ms, median %.0f ms | %,d trainable | "
                                + "global batch %d%n", group.worldSize(), sorted[0], sorted[sorted.length / 2],
                        trainable, group.worldSize());
                java.nio.file.Files.writeString(java.nio.file.Path.of(System.getProperty("bench.result")),
                        Double.toString(sorted[0]));
            }
        }
    }
}
