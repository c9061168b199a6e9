package io.github.cogvideox4j.lora.cli;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.config.CogVideoXVariant;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.schedule.CogVideoXDpmScheduler;
import io.github.cogvideox4j.core.schedule.SchedulerConfig;
import io.github.cogvideox4j.data.Bucket;
import io.github.cogvideox4j.data.BucketSampler;
import io.github.cogvideox4j.data.SamplerConfig;
import io.github.cogvideox4j.lora.LoraAdapter;
import io.github.cogvideox4j.lora.LoraConfig;
import io.github.cogvideox4j.lora.train.AdamW;
import io.github.cogvideox4j.lora.train.CheckpointStore;
import io.github.cogvideox4j.lora.train.FineTuner;
import io.github.cogvideox4j.lora.train.StepResult;
import io.github.cogvideox4j.lora.train.SyntheticLatentDataset;
import io.github.cogvideox4j.lora.train.TrainingListener;
import io.github.cogvideox4j.lora.train.TrainingRun;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code cogvideox train}: the README's main job. Without options it fine-tunes a LoRA on the built-in tiny default —
 * a random model with the CogVideoX1.5-5B-I2V structure (OFS and slice RoPE on) and a learnable synthetic latent dataset
 * over three buckets — prints progress, exports the LoRA and checks that the loss fell.
 */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Fine-tune a LoRA (default: the built-in tiny CogVideoX1.5-I2V demo).")
final class TrainCommand implements Callable<Integer> {
    @Option(names = "--output", defaultValue = "runs/demo", description = "output folder (default: ${DEFAULT-VALUE})")
    private Path output;

    @Option(names = "--steps", defaultValue = "300", description = "optimizer steps (default: ${DEFAULT-VALUE})")
    private int steps;

    @Option(names = "--seed", defaultValue = "42", description = "seed (default: ${DEFAULT-VALUE})")
    private long seed;

    @Option(names = "--rank", defaultValue = "16", description = "LoRA rank (default: ${DEFAULT-VALUE})")
    private int rank;

    @Option(names = "--lr", defaultValue = "5e-3", description = "learning rate (default: ${DEFAULT-VALUE})")
    private double lr;

    @Option(names = "--fresh", description = "delete the output folder's checkpoints first (else the run resumes)")
    private boolean fresh;

    @Override
    public Integer call() throws Exception {
        PrintStream out = System.out;
        CogVideoXConfig config = CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_1_5_5B_I2V);
        List<Bucket> buckets = List.of(new Bucket(3, 8, 12), new Bucket(3, 12, 8), new Bucket(5, 8, 8));
        // 48 training samples and 6 held-out ones (indices 48..53, two per bucket)
        SyntheticLatentDataset data = new SyntheticLatentDataset(config, buckets, 54, 4, seed);
        BucketSampler sampler = new BucketSampler(data.samples().subList(0, 48), SamplerConfig.of(2, seed));
        List<int[]> heldOut = List.of(new int[] {48, 51}, new int[] {49, 52}, new int[] {50, 53});
        Files.createDirectories(output);
        if (fresh) {
            deleteCheckpoints(output.resolve("checkpoints"));
        }
        out.printf("CogVideoX4J train: tiny %s, random weights, LoRA r%d on attention, feed-forward and proj_out; %d synthetic samples in %d latent "
                + "buckets %s; %d steps; MKL vendor switch %s%n", config.variant(), rank, 48, buckets.size(), buckets, steps,
                MklSwitch.describe());
        out.println(sampler.report().format());
        Engine.getInstance().setRandomSeed((int) seed);
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(config, manager, seed);
                LoraAdapter lora = LoraAdapter.inject(model, LoraConfig.of(rank, rank).withTargetModules(List.of(
                        "to_q", "to_k", "to_v", "to_out.0", "ff.net.0.proj", "ff.net.2", "proj_out")).withInitSeed(seed))) {
            ConsoleProgress progress = new ConsoleProgress(out, steps);
            try (FineTuner tuner = FineTuner.builder(model,
                            new CogVideoXDpmScheduler(SchedulerConfig.released(SchedulerConfig.DPM_CLASS, 1.0)))
                    .lora(lora)
                    .optimizer(AdamW.builder().learningRate(lr).betas(0.9, 0.95).epsilon(1e-8).weightDecay(1e-4)
                            .build())
                    .maxGradNorm(1.0).seed(seed).listener(progress).build()) {
                List<StepResult> results = TrainingRun.builder(tuner, sampler, data).totalSteps(steps)
                        .checkpoints(CheckpointStore.open(output.resolve("checkpoints"), 2), 50)
                        .validation(heldOut, 50).outputDir(output).description("tiny CogVideoX1.5-I2V LoRA demo").build().run();
                Path loraFile = output.resolve("pytorch_lora_weights.safetensors");
                lora.save(loraFile);
                out.printf("exported %s%n", loraFile);
                return progress.summary(results) ? 0 : 1;
            }
        }
    }

    private static void deleteCheckpoints(Path dir) throws java.io.IOException {
        if (Files.isDirectory(dir)) {
            try (var walk = Files.walk(dir)) {
                for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
    }

    /** Prints a line every few steps and the loss summary at the end. */
    private static final class ConsoleProgress implements TrainingListener {
        private final PrintStream out;
        private final long total;
        private final long start = System.nanoTime();

        ConsoleProgress(PrintStream out, long total) {
            this.out = out;
            this.total = total;
        }

        @Override
        public void onStep(StepResult r) {
            if (r.step() % 25 == 0 || r.step() == total) {
                out.printf("step %4d/%d  loss %.4f  grad norm %.3f  lr %.1e  bucket %s  %d ms%n", r.step(), total,
                        r.loss(), r.gradNorm(), r.learningRate(), r.bucket(), r.millis());
            }
        }

        @Override
        public void onValidation(long step, double loss) {
            out.printf("step %4d  held-out loss %.4f (fixed timesteps and noise)%n", step, loss);
            validation.add(loss);
        }

        private final java.util.List<Double> validation = new java.util.ArrayList<>();

        boolean summary(List<StepResult> results) {
            if (results.size() < 40) {
                out.printf("ran %d steps (resumed run); loss %.4f at the end%n", results.size(),
                        results.isEmpty() ? Double.NaN : results.get(results.size() - 1).loss());
                return true;
            }
            double first = mean(results.subList(0, 20));
            double last = mean(results.subList(results.size() - 20, results.size()));
            out.printf("mean loss of the first 20 steps %.4f, of the last 20 steps %.4f (%.0f%% lower) in %.1f s%n", first,
                    last, 100 * (1 - last / first), (System.nanoTime() - start) / 1e9);
            if (validation.size() >= 2) {
                out.printf("held-out loss %.4f after the first validation, %.4f at the end%n", validation.get(0),
                        validation.get(validation.size() - 1));
            }
            return last < first;
        }

        private static double mean(List<StepResult> rs) {
            return rs.stream().mapToDouble(StepResult::loss).average().orElse(Double.NaN);
        }
    }
}
