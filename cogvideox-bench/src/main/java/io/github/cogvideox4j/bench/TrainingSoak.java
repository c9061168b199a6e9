package io.github.cogvideox4j.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.config.CogVideoXVariant;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.schedule.CogVideoXDdimScheduler;
import io.github.cogvideox4j.core.schedule.CogVideoXObjective;
import io.github.cogvideox4j.core.schedule.SchedulerConfig;
import io.github.cogvideox4j.core.schedule.TrainingInput;
import io.github.cogvideox4j.lora.LoraAdapter;
import io.github.cogvideox4j.lora.LoraConfig;
import io.github.cogvideox4j.lora.train.AdamW;
import io.github.cogvideox4j.lora.train.GradientClipper;
import java.io.IOException;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * Native-memory soak of a complete LoRA training loop on a tiny CogVideoX-5b-structured model
 * ({@link CogVideoXConfig#tiny tiny(COGVIDEOX_5B)}: 2 blocks of 2 heads x 16, 8 text tokens, latent
 * {@code [B, 3, 4, 8, 12]}): per step, in its own sub-manager, the objective's loss (fresh noise and timesteps, fixed
 * latents and prompt), backward (plain autograd, or block checkpointing with {@code --ckpt=true}), global-norm clipping
 * to 1.0 and an AdamW update (lr 1e-3); a {@code System.gc()} every 250 steps (docs/djl-engine.md §4).
 *
 * <p>Prints the process RSS (read right after a {@code System.gc()}, since uncollected Java garbage counts in the RSS
 * and makes a 90 MB saw-tooth at {@code -Xmx256m}), the Java heap's committed size and the RSS outside it (native
 * memory plus the JVM's own; the figure to watch for a native leak), and the number of arrays held by the model's manager (parameters and LoRA adapters) at
 * step 100, every {@code --report} steps and at the end, then the RSS growth from step 100 to the end and the mean loss
 * of the first and last 100 steps (the loss should fall: the latents are fixed).
 *
 * <p>Options: {@code --steps=2000 --rank=16 --batch=2 --ckpt=false --segment=1 --chunks=1 --report=500}
 * ({@code --segment}: blocks per checkpoint with {@code --ckpt=true}; 2 recomputes block 1's input from block 0's;
 * {@code --chunks}: token chunks per block backward with {@code --ckpt=true}). Run (project root, about 30 s; one torch thread, because
 * on a loaded 2-core machine two spinning intra-op threads turn millisecond steps into hundreds of milliseconds):
 * <pre>{@code
 * nice -n -5 bin/cogvideox-java -Xmx256m -Dai.djl.pytorch.num_threads=1 -Dai.djl.pytorch.num_interop_threads=1 \
 *     -Dai.djl.offline=true -cp $CP io.github.cogvideox4j.bench.TrainingSoak
 * }</pre>
 * Linux only (reads {@code /proc/self/status}).
 */
public final class TrainingSoak {
    private static final Set<String> OPTIONS = Set.of("steps", "rank", "batch", "ckpt", "segment", "chunks", "report");
    private static final int FIRST_REPORT = 100;

    private TrainingSoak() {}

    /**
     * Runs the loop and prints the readings.
     *
     * @param args {@code --name=value} options, see the class documentation
     * @throws IOException if {@code /proc/self/status} cannot be read
     */
    public static void main(String[] args) throws IOException {
        int steps = Integer.parseInt(option(args, "steps", "2000"));
        int rank = Integer.parseInt(option(args, "rank", "16"));
        int batch = Integer.parseInt(option(args, "batch", "2"));
        boolean ckpt = Boolean.parseBoolean(option(args, "ckpt", "false"));
        int segment = Integer.parseInt(option(args, "segment", "1"));
        if (segment < 1 || (segment > 1 && !ckpt)) {
            throw new IllegalArgumentException("--segment: at least 1, and above 1 only with --ckpt=true; got "
                    + segment);
        }
        int chunks = Integer.parseInt(option(args, "chunks", "1"));
        if (chunks < 1 || (chunks > 1 && !ckpt)) {
            throw new IllegalArgumentException("--chunks: at least 1, and above 1 only with --ckpt=true; got "
                    + chunks);
        }
        int report = Integer.parseInt(option(args, "report", "500"));
        System.out.println("# " + BenchEnvironment.describe());
        CogVideoXConfig config = CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_5B);
        System.out.printf(Locale.ROOT, "# tiny 5b-structured model D=%d, %d blocks; LoRA r%d; batch %d; %s; %d steps;"
                        + " -Xmx %d MB%n", config.innerDim(), config.numLayers(), rank, batch,
                ckpt ? "block checkpointing, segment " + segment + ", chunks " + chunks : "plain autograd", steps,
                Runtime.getRuntime().maxMemory() >> 20);
        CogVideoXObjective objective = CogVideoXObjective.of(
                new CogVideoXDdimScheduler(SchedulerConfig.released(SchedulerConfig.DDIM_CLASS, 1.0)));
        Random random = new Random(7);
        try (NDManager root = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(config, root, 7);
                LoraAdapter lora = LoraAdapter.inject(model, LoraConfig.of(rank, rank));
                AdamW adamW = AdamW.builder().learningRate(1e-3).build()) {
            Engine.getInstance().setRandomSeed(7);
            Shape latentShape = new Shape(batch, config.sampleLatentFrames(), config.outChannels(),
                    config.sampleHeight(), config.sampleWidth());
            NDArray latents = root.randomNormal(latentShape);
            NDArray text = root.randomNormal(new Shape(batch, config.maxTextSeqLength(), config.textEmbedDim()));
            Map<String, NDArray> trainable = lora.namedParameters();
            int arraysAtStart = root.getManagedArrays().size();
            long rssAtFirstReport = 0;
            double outsideHeapAtFirstReport = 0;
            double outsideHeapMin = Double.MAX_VALUE;
            double outsideHeapMax = 0;
            double firstLossSum = 0;
            double lastLossSum = 0;
            long t0 = System.nanoTime();
            for (int step = 1; step <= steps; step++) {
                double loss;
                try (NDManager s = root.newSubManager()) {
                    NDArray x0 = latents.duplicate();
                    x0.attach(s);
                    NDArray prompt = text.duplicate();
                    prompt.attach(s);
                    NDArray noise = s.randomNormal(latentShape);
                    NDArray t = EngineArrays.create(s, random.longs(batch, 0, 1000).toArray(), new Shape(batch));
                    if (ckpt) {
                        loss = objective.lossAndBackward(model, TrainingInput.of(x0, prompt, t, noise), segment,
                                chunks)
                                .getDouble();
                    } else {
                        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                            NDArray l = objective.loss(model, TrainingInput.of(x0, prompt, t, noise));
                            gc.backward(l);
                            loss = l.getDouble();
                        }
                    }
                    GradientClipper.clipGlobalNorm(trainable.values(), 1.0);
                    adamW.step(trainable);
                }
                if (step <= FIRST_REPORT) {
                    firstLossSum += loss;
                }
                if (step > steps - FIRST_REPORT) {
                    lastLossSum += loss;
                }
                if (step % 250 == 0) {
                    System.gc();
                }
                if (step == FIRST_REPORT || step % report == 0 || step == steps) {
                    System.gc(); // the Java heap's garbage is part of the RSS: read it after a collection
                    long rss = ProcMemory.rssKb();
                    if (step == FIRST_REPORT) {
                        rssAtFirstReport = rss;
                    }
                    double heapMb = Runtime.getRuntime().totalMemory() / 1048576.0;
                    if (step == FIRST_REPORT) {
                        outsideHeapAtFirstReport = rss / 1024.0 - heapMb;
                    }
                    outsideHeapMin = Math.min(outsideHeapMin, rss / 1024.0 - heapMb);
                    outsideHeapMax = Math.max(outsideHeapMax, rss / 1024.0 - heapMb);
                    System.out.printf(Locale.ROOT, "step %6d  RSS %8.1f MB (Java heap committed %6.1f MB, RSS outside it"
                                    + " %6.1f MB)  model-manager arrays %d (at start %d)  %.1f ms/step%n", step,
                            rss / 1024.0, heapMb, rss / 1024.0 - heapMb, root.getManagedArrays().size(),
                            arraysAtStart, (System.nanoTime() - t0) / 1e6 / step);
                }
            }
            System.gc();
            long rssEnd = ProcMemory.rssKb();
            double outsideHeapEnd = rssEnd / 1024.0 - Runtime.getRuntime().totalMemory() / 1048576.0;
            System.out.printf(Locale.ROOT, "RSS growth from step %d to %d: %.1f MB (%.2f KB/step); outside the Java heap:"
                            + " %.1f MB (%.2f KB/step)%n", FIRST_REPORT, steps, (rssEnd - rssAtFirstReport) / 1024.0,
                    (rssEnd - rssAtFirstReport) / (double) Math.max(1, steps - FIRST_REPORT),
                    outsideHeapEnd - outsideHeapAtFirstReport,
                    (outsideHeapEnd - outsideHeapAtFirstReport) * 1024 / Math.max(1, steps - FIRST_REPORT));
            System.out.printf(Locale.ROOT, "RSS outside the Java heap over all reports: min %.1f MB, max %.1f MB (a leak"
                    + " shows as a rising minimum; allocator retention as a bounded swing)%n", outsideHeapMin,
                    outsideHeapMax);
            int n = Math.min(FIRST_REPORT, steps);
            System.out.printf(Locale.ROOT, "mean loss: first %d steps %.4f, last %d steps %.4f%n", n,
                    firstLossSum / n, n, lastLossSum / n);
        }
    }

    private static String option(String[] args, String name, String defaultValue) {
        return BenchOptions.option(args, OPTIONS, name, defaultValue);
    }
}
