package io.github.cogvideox4j.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.config.CogVideoXVariant;
import io.github.cogvideox4j.core.kernel.KernelPack;
import io.github.cogvideox4j.core.model.BasePrecision;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.model.ComputePrecision;
import io.github.cogvideox4j.core.model.TransformerInput;
import io.github.cogvideox4j.core.schedule.CogVideoXDdimScheduler;
import io.github.cogvideox4j.core.schedule.CogVideoXObjective;
import io.github.cogvideox4j.core.schedule.SchedulerConfig;
import io.github.cogvideox4j.core.schedule.TrainingInput;
import io.github.cogvideox4j.data.Bucket;
import io.github.cogvideox4j.lora.LoraAdapter;
import io.github.cogvideox4j.lora.LoraConfig;
import io.github.cogvideox4j.lora.train.MemoryPlan;
import io.github.cogvideox4j.lora.train.TrainingConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * One training step (or one checkpoint-storing forward) of a CogVideoX transformer at its real width and a released
 * resolution, with random weights of the released shapes and a chosen number of blocks, and the process's peak
 * resident memory next to {@link MemoryPlan}'s plan for the same run (issue 12, docs/training-cost.md "Real size").
 *
 * <p>The model is the released variant's config with {@code num_layers} replaced: the real stem (patch embedding,
 * time embedding), the real head and {@code --layers} blocks of the real width. Its Linear weights are random and held
 * as bf16 ({@code --base=bf16}) or int8 codes ({@code --base=int8}); the LoRA (on the attention projections, alpha =
 * rank) and every other parameter are fp32; compute is {@link ComputePrecision#BF16} ({@code --compute=bf16}, block
 * checkpoints in bf16) or {@link ComputePrecision#FP32} ({@code --compute=fp32}: the bf16 weights are widened per
 * GEMM, checkpoints and activations fp32; the choice on a CPU without a native bf16 GEMM, see
 * {@link io.github.cogvideox4j.core.kernel.CpuFeatures}).
 *
 * <ul>
 *   <li>{@code --mode=step}: one LoRA step with gradient checkpointing (forward storing the block checkpoints, then
 *       per-block recompute and backward; no optimizer), batch 1.</li>
 *   <li>{@code --mode=forward}: a forward pass without autograd that keeps every block's output hidden states as bf16
 *       copies, exactly what the checkpointed forward of a step keeps; it confirms the plan's checkpoint term for
 *       the whole 42-block model without the time of its backward.</li>
 * </ul>
 *
 * <p>Measured: RSS after the model is built (weights, the LoRA and the inputs), the RSS high-water mark of the step
 * (VmHWM, reset right before it), wall time, and an RSS timeline (the largest reading of each 5 s, sampled every
 * 100 ms), which tells in which phase the peak falls. Printed: all of them, the plan's components and the plan /
 * measured ratio. For memory figures without glibc's retention of freed heap pages, run with
 * {@code MALLOC_MMAP_THRESHOLD_=131072} (docs/training-cost.md, "Stops 24-25: token chunks").
 *
 * <p>Options: {@code --variant=COGVIDEOX_5B --layers=1 --rank=128 --base=bf16|int8 --compute=bf16|fp32
 * --frames=49 --height=480 --width=720 --mode=step|forward --segment=1 --chunks=1} ({@code --segment}: blocks per checkpoint,
 * {@code gradient_checkpointing_segment}; {@code --chunks}: token chunks per block backward,
 * {@code gradient_checkpointing_chunks}). Run from the project root (a 5B block step at
 * 49x480x720 takes several minutes):
 * <pre>
 * CP=cogvideox-bench/target/classes:$(cat cogvideox-bench/target/classpath.txt)
 * bin/cogvideox-java -Dai.djl.offline=true -cp $CP io.github.cogvideox4j.bench.RealSizeStepBench --layers=2
 * </pre>
 */
public final class RealSizeStepBench {
    private static final Set<String> OPTIONS =
            Set.of("variant", "layers", "rank", "base", "compute", "frames", "height", "width", "mode", "segment",
                    "chunks");
    private static final int SEED = 42;
    private static final double GIB = 1024.0 * 1024.0;  // kB per GiB

    private RealSizeStepBench() {}

    /**
     * Builds the model, runs the step or the forward and prints the figures.
     *
     * @param args {@code --name=value} options, see the class documentation
     * @throws IOException if {@code /proc/self} cannot be read or written
     */
    public static void main(String[] args) throws IOException {
        CogVideoXVariant variant = CogVideoXVariant.valueOf(option(args, "variant", "COGVIDEOX_5B"));
        int layers = Integer.parseInt(option(args, "layers", "1"));
        int segment = Integer.parseInt(option(args, "segment", "1"));
        if (segment < 1) {
            throw new IllegalArgumentException("--segment: blocks per checkpoint, at least 1; got " + segment);
        }
        int chunks = Integer.parseInt(option(args, "chunks", "1"));
        if (chunks < 1) {
            throw new IllegalArgumentException("--chunks: token chunks per block backward, at least 1; got " + chunks);
        }
        int rank = Integer.parseInt(option(args, "rank", "128"));
        BasePrecision base = BasePrecision.valueOf(option(args, "base", "bf16").toUpperCase(Locale.ROOT));
        ComputePrecision compute = ComputePrecision.valueOf(option(args, "compute", "bf16").toUpperCase(Locale.ROOT));
        int frames = Integer.parseInt(option(args, "frames", "49"));
        int height = Integer.parseInt(option(args, "height", "480"));
        int width = Integer.parseInt(option(args, "width", "720"));
        boolean step = switch (option(args, "mode", "step")) {
            case "step" -> true;
            case "forward" -> false;
            default -> throw new IllegalArgumentException("--mode must be step or forward");
        };
        if (base == BasePrecision.FP32) {
            throw new IllegalArgumentException("--base must be bf16 or int8 (an fp32 real-size base does not fit)");
        }
        CogVideoXConfig config = CogVideoXConfig.released(variant).withNumLayers(layers);
        if (config.isImageToVideo()) {
            throw new IllegalArgumentException("--variant: a text-to-video variant (COGVIDEOX_5B, COGVIDEOX_1_5_5B)");
        }
        int temporal = config.temporalCompressionRatio();
        Bucket latent = new Bucket((frames - 1) / temporal + 1, height / 8, width / 8);
        long tokens = MemoryPlan.tokens(config, latent);
        System.out.println("# " + BenchEnvironment.describe());
        System.out.printf(Locale.ROOT, "# %s, %d block(s) of D=%d (%d heads), %dx%dx%d -> latent %s, %,d tokens; LoRA"
                        + " r%d on %s; base %s; %s compute; mode %s%n", variant, layers, config.innerDim(),
                config.numAttentionHeads(), frames, height, width, latent, tokens, rank, LoraConfig.DEFAULT_TARGETS,
                base, compute, step ? "step (gradient checkpointing, " + segment + " block(s) per checkpoint, " + chunks
                        + " token chunk(s))"
                        : "forward storing bf16 checkpoints");

        MemoryPlan plan = MemoryPlan.of(TrainingConfig.builder()
                .model(TrainingConfig.ModelSource.ofPath(Path.of("random-weights")))
                .lora(TrainingConfig.LoraSettings.of(rank, rank)).batchSize(1).gradientCheckpointing(true)
                .gradientCheckpointingSegment(segment).gradientCheckpointingChunks(chunks)
                .mixedPrecision(compute).basePrecision(base).build(), config, List.of(latent));
        System.out.print("# " + plan.format().replace("\n", "\n# "));
        System.out.println();

        long startKb = ProcMemory.rssKb();
        try (NDManager root = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(config, root, SEED, DataType.BFLOAT16)) {
            model.setRequiresGradient(false);
            if (base == BasePrecision.INT8) {
                model.quantizeBaseWeightsToInt8(); // layer by layer: each bf16 weight is freed once its codes exist
            }
            model.setComputePrecision(compute);
            LoraAdapter lora = step ? LoraAdapter.inject(model, LoraConfig.of(rank, rank)) : null;
            Engine.getInstance().setRandomSeed(SEED);
            Shape latentShape = new Shape(1, latent.frames(), config.inChannels(), latent.height(), latent.width());
            NDArray x0 = root.randomNormal(latentShape);
            // CogVideoX1.5 (patch_size_t 2) pads the latent frames to a multiple of patch_size_t: the objective
            // prepends copies of frame 0 to x0 and takes noise of the padded shape, and the forward sees that shape
            int pt = config.patchSizeT() == null ? 1 : config.patchSizeT();
            long paddedFrames = (latent.frames() + pt - 1) / pt * pt;
            NDArray noise = root.randomNormal(new Shape(1, paddedFrames, config.inChannels(), latent.height(),
                    latent.width()));
            NDArray text = root.randomNormal(new Shape(1, config.maxTextSeqLength(), config.textEmbedDim()));
            NDArray t = EngineArrays.create(root, new long[] {500}, new Shape(1));
            long builtKb = ProcMemory.resetPeakKb();
            long t0 = System.nanoTime();
            double loss = Double.NaN;
            int kept = 0;
            RssTimeline timeline = new RssTimeline(100, 5);
            try (NDManager s = root.newSubManager(); timeline) {
                if (step) {
                    CogVideoXObjective objective = CogVideoXObjective.of(
                            new CogVideoXDdimScheduler(SchedulerConfig.released(SchedulerConfig.DDIM_CLASS, 1.0)));
                    loss = objective.lossAndBackward(model, TrainingInput.of(x0, text, t, noise), segment,
                            chunks)
                            .getDouble();
                } else {
                    List<NDArray> checkpoints = new ArrayList<>();
                    try (KernelPack pack = KernelPack.load()) {
                        model.forward(TransformerInput.of(noise, text, t), (name, a) -> {
                            if (name.startsWith("transformer_blocks.") && !name.contains(".attn1.")) {
                                NDArray c = pack.toBf16(a);
                                c.attach(s);
                                checkpoints.add(c);
                            }
                        }).close();
                    }
                    kept = checkpoints.size();
                }
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            long peakKb = ProcMemory.peakKb();
            if (lora != null) {
                lora.close();
            }
            double measured = peakKb / GIB;
            double planned = plan.peakBytes() / (GIB * 1024);
            System.out.printf(Locale.ROOT, "# RSS: %.3f GiB at start, %.3f GiB built (weights %.3f GiB by the model's"
                            + " count), peak %.3f GiB during the %s (%.3f GiB above the built RSS); %.0f s; loss %.6f;"
                            + " %d bf16 checkpoints kept%n", startKb / GIB, builtKb / GIB,
                    model.weightBytes() / (GIB * 1024), measured, step ? "step" : "forward",
                    (peakKb - builtKb) / GIB, seconds, loss, kept);
            System.out.println("# RSS timeline, GiB (largest reading of each 5 s from the step's start): "
                    + timeline.format());
            System.out.println("| variant | blocks | tokens | rank | base | compute | mode | built RSS GiB"
                    + " | peak RSS GiB | planned peak GiB | plan / measured | s |");
            System.out.println("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
            System.out.printf(Locale.ROOT, "| %s | %d | %,d | %d | %s | %s | %s | %.3f | %.3f | %.3f | %+.1f%% | %.0f"
                            + " |%n", variant, layers, tokens, rank, base, compute,
                    step ? "step" + (segment == 1 ? "" : ", segment " + segment)
                            + (chunks == 1 ? "" : ", chunks " + chunks) : "forward",
                    builtKb / GIB, measured, planned, 100 * (planned / measured - 1), seconds);
        }
    }

    private static String option(String[] args, String name, String defaultValue) {
        return BenchOptions.option(args, OPTIONS, name, defaultValue);
    }
}
