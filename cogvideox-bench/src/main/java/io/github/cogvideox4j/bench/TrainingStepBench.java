package io.github.cogvideox4j.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.kernel.KernelPack;
import io.github.cogvideox4j.core.model.CogVideoXBlock;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.model.ComputePrecision;
import io.github.cogvideox4j.core.model.ForwardProbe;
import io.github.cogvideox4j.core.schedule.CogVideoXDdimScheduler;
import io.github.cogvideox4j.core.schedule.CogVideoXObjective;
import io.github.cogvideox4j.core.schedule.SchedulerConfig;
import io.github.cogvideox4j.core.schedule.TrainingInput;
import io.github.cogvideox4j.lora.LoraAdapter;
import io.github.cogvideox4j.lora.LoraConfig;
import io.github.cogvideox4j.lora.train.Gradients;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.Set;

/**
 * Time, peak memory and FLOP rate of one CogVideoX training step (forward + backward of the objective, no optimizer)
 * on the two {@link TrainingBenchCase fixed bench cases}, for every {@link TrainingStepMode}: full fine-tune and LoRA
 * rank 128 on {@code to_q, to_k, to_v, to_out.0} (alpha 128), each in fp32 with and without block checkpointing. The
 * bf16 mixed-precision rows run the model with {@code ComputePrecision.BF16}.
 *
 * <p><b>The step.</b> Fixed random inputs (seed 42): latents and noise {@code [1, 13, 16, h, w]}, prompt embeddings
 * {@code [1, 226, 4096]}, one timestep. Without checkpointing the step is
 * {@link CogVideoXObjective#loss} under a {@code GradientCollector} and {@code backward}; with checkpointing it is the
 * same loss (add_noise, v-prediction to x0 via get_velocity, weighted MSE in float64) computed by
 * {@link CogVideoXTransformer#forwardBackwardWithRecompute}. Both print the loss so the two paths can be compared.
 * Gradients are cleared (outside the timed region) after every repetition.
 *
 * <p><b>Measured.</b> Wall time: the best (minimum) of {@code --reps} repetitions after {@code --warmup} warm-up steps,
 * with median and maximum printed too. The best, not the median, is the headline because the project's 2-core machines
 * are shared: another process's burst makes libtorch's two intra-op threads wait for each other, and single steps then
 * take up to 10× longer (seen: 0.75 s and 6.1 s for the same step in one run); the best repetition is the one least
 * disturbed. The GEMM rates are best-of too, so the ratio compares like with like. Peak extra RSS: the largest rise of VmHWM over the RSS right before a repetition (VmHWM reset via
 * {@code /proc/self/clear_refs}; inputs and the already-allocated parameter gradients are excluded; a lower bound,
 * see {@link ProcMemory}). FLOPs: {@link TrainingFlops#step} (matrix products only). The FLOP rate is reported as a
 * ratio to a plain fp32 2048³ GEMM measured in the same run, before and after each case (the ratio uses the mean of
 * the two best-of-5 rates; their spread shows the machine's noise), and the rate of the block's own largest GEMM shape,
 * {@code [S, D] x [D, 4D]}, is printed as well.
 *
 * <p><b>Memory numbers need {@code MALLOC_MMAP_THRESHOLD_=131072}</b> in the environment: with glibc's default, freed
 * tensors stay resident and later steps reuse those pages, so VmHWM hardly rises (a smoke run showed 11 MB for one
 * block's forward + backward, against 181 MB with the fixed threshold, where every large tensor is mapped and
 * unmapped). The fixed threshold costs page faults, so take times from a run without it and memory from a run with
 * it; the bench prints which one it was.
 *
 * <p><b>Per-block figures</b> (for the real-size extrapolation, see {@code docs/training-cost.md}): on the LoRA model,
 * one block's forward without recording, one block's forward + backward under a collector (what the recompute loop
 * does per block), and the fused attention alone ({@link KernelPack#scaledDotProductAttention} forward and forward +
 * backward on {@code [B, H, S, 64]}). The bench then prints an <em>extrapolation</em> to CogVideoX-5B at 49 x 480 x 720
 * (17,550 video + 226 text tokens, 42 blocks of 48 heads): attention time scaled by S²·D, the rest of the block by
 * S·D², block activation memory by S·D, plus the analytic memory of weights, LoRA state and checkpoints.
 *
 * <p>Options: {@code --case=all|bench-5b-l2-small|bench-5b-l2 --warmup=1 --reps=3 --rank=128 --block=true
 * --modes=all|FULL_FP32,LORA_FP32_CKPT,...}. Run (project root; about 45 s for the small case and 140 s for the large one
 * on one thread). On a shared machine use one torch thread: with two, another process's load makes single steps up
 * to 10x slower; the GEMM reference then runs on one thread too, so the ratios stay comparable:
 * <pre>{@code
 * mvn -q -B -pl cogvideox-bench -am package dependency:build-classpath -DskipTests \
 *     -DincludeScope=runtime -Dmdep.outputFile=target/classpath.txt
 * CP=cogvideox-bench/target/classes:$(cat cogvideox-bench/target/classpath.txt)
 * nice -n -5 bin/cogvideox-java -Dai.djl.pytorch.num_threads=1 -Dai.djl.pytorch.num_interop_threads=1 \
 *     -Dai.djl.offline=true -cp $CP io.github.cogvideox4j.bench.TrainingStepBench --case=bench-5b-l2-small
 * }</pre>
 * Linux only (reads {@code /proc/self}).
 */
public final class TrainingStepBench {
    private static final int SEED = 42;
    private static final int HEAD_DIM = 64;
    private static final double MB = 1024.0;            // kB per MB
    private static final double GIB = 1024.0 * 1024 * 1024;
    private static final Set<String> OPTIONS = Set.of("case", "warmup", "reps", "rank", "block", "modes");

    private TrainingStepBench() {}

    /** One measured row. */
    private record Row(String caseName, TrainingStepMode mode, long tokens, double medianMs, double minMs,
            double maxMs, double peakExtraMb, double flops, double loss, double gemmRate) {}

    /** Per-block timings and memory of one case, for the extrapolation. */
    private record BlockFigures(TrainingBenchCase benchCase, Timing fwd, Timing fwdBwd, Timing sdpaFwd,
            Timing sdpaFwdBwd) {
        double fwdMs() {
            return fwd.minMs();
        }

        double fwdBwdMs() {
            return fwdBwd.minMs();
        }

        double fwdBwdPeakMb() {
            return fwdBwd.peakExtraMb();
        }

        double sdpaFwdMs() {
            return sdpaFwd.minMs();
        }

        double sdpaFwdBwdMs() {
            return sdpaFwdBwd.minMs();
        }
    }

    /** Timing summary of repeated runs. */
    private record Timing(double medianMs, double minMs, double maxMs, double peakExtraMb) {}

    /**
     * Runs the bench and prints the environment, the step table, the per-block figures and the extrapolation.
     *
     * @param args {@code --name=value} options, see the class documentation
     * @throws IOException if {@code /proc/self} cannot be read or written
     */
    public static void main(String[] args) throws IOException {
        String caseOption = option(args, "case", "all");
        int warmup = Integer.parseInt(option(args, "warmup", "1"));
        int reps = Integer.parseInt(option(args, "reps", "3"));
        int rank = Integer.parseInt(option(args, "rank", "128"));
        boolean block = Boolean.parseBoolean(option(args, "block", "true"));
        String modesOption = option(args, "modes", "all");
        List<TrainingStepMode> modes = "all".equals(modesOption) ? List.of(TrainingStepMode.values())
                : Arrays.stream(modesOption.split(",")).map(TrainingStepMode::valueOf).toList();
        List<TrainingBenchCase> cases = "all".equals(caseOption) ? TrainingBenchCase.all()
                : List.of(TrainingBenchCase.named(caseOption));

        System.out.println("# " + BenchEnvironment.describe());
        System.out.println("# MALLOC_MMAP_THRESHOLD_=" + System.getenv().getOrDefault("MALLOC_MMAP_THRESHOLD_", "<unset>")
                + "; warmup=" + warmup + " reps=" + reps + " LoRA rank=" + rank + " alpha=" + rank
                + " targets=" + LoraConfig.DEFAULT_TARGETS);
        System.out.println("# bench model config.json: " + TrainingBenchCase.benchModel().toJson().replaceAll("\\s+", " "));
        Engine.getInstance().setRandomSeed(SEED);

        CogVideoXObjective objective = CogVideoXObjective.of(
                new CogVideoXDdimScheduler(SchedulerConfig.released(SchedulerConfig.DDIM_CLASS, 1.0)));
        List<Row> rows = new ArrayList<>();
        List<BlockFigures> blocks = new ArrayList<>();
        for (TrainingBenchCase c : cases) {
            runCase(c, objective, modes, rank, warmup, reps, block, rows, blocks);
        }

        System.out.println();
        System.out.println("| case | mode | tokens | best ms (median, max) | peak extra RSS MB | step GFLOP | GFLOP/s"
                + " | / fp32 GEMM | loss |");
        System.out.println("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        for (Row r : rows) {
            double rate = r.flops() / (r.minMs() / 1e3);
            System.out.printf(Locale.ROOT, "| %s | %s | %,d | %.0f (%.0f, %.0f) | %.0f | %.1f | %.1f | %.2f | %.6f |%n",
                    r.caseName(), r.mode(), r.tokens(), r.minMs(), r.medianMs(), r.maxMs(), r.peakExtraMb(),
                    r.flops() / 1e9, rate / 1e9, rate / r.gemmRate(), r.loss());
        }
        if (!blocks.isEmpty()) {
            System.out.println();
            System.out.println("| case | tokens | block fwd ms, best (median-max) | block fwd+bwd ms (LoRA)"
                    + " | block fwd+bwd peak extra MB | SDPA fwd ms | SDPA fwd+bwd ms |");
            System.out.println("| --- | --- | --- | --- | --- | --- | --- |");
            for (BlockFigures b : blocks) {
                System.out.printf(Locale.ROOT, "| %s | %,d | %.0f (%.0f-%.0f) | %.0f (%.0f-%.0f) | %.0f | %.0f (%.0f-%.0f)"
                                + " | %.0f (%.0f-%.0f) |%n", b.benchCase().name(), b.benchCase().tokens(),
                        b.fwd().minMs(), b.fwd().medianMs(), b.fwd().maxMs(), b.fwdBwd().minMs(),
                        b.fwdBwd().medianMs(), b.fwdBwd().maxMs(), b.fwdBwd().peakExtraMb(), b.sdpaFwd().minMs(),
                        b.sdpaFwd().medianMs(), b.sdpaFwd().maxMs(), b.sdpaFwdBwd().minMs(),
                        b.sdpaFwdBwd().medianMs(), b.sdpaFwdBwd().maxMs());
            }
            for (BlockFigures b : blocks) {
                extrapolate(b, rank);
            }
        }
    }

    private static void runCase(TrainingBenchCase c, CogVideoXObjective objective, List<TrainingStepMode> modes,
            int rank, int warmup, int reps, boolean block, List<Row> rows, List<BlockFigures> blocks)
            throws IOException {
        CogVideoXConfig config = c.config();
        System.out.printf(Locale.ROOT, "# case %s: latent %s, %,d video + %d text = %,d tokens, D=%d, %d heads, %d"
                        + " blocks%n", c.name(), c.latentShape(), c.videoTokens(), config.maxTextSeqLength(),
                c.tokens(), config.innerDim(), config.numAttentionHeads(), config.numLayers());
        double gemmBefore = gemmRate(2048, 2048, 2048, 5);
        double shaped = gemmRate(c.tokens(), config.innerDim(), 4L * config.innerDim(), 5);
        System.out.printf(Locale.ROOT, "# fp32 GEMM 2048^3 before the case: %.1f GFLOP/s (best of 5); [%d, %d] x [%d, %d]:"
                + " %.1f GFLOP/s (best of 5)%n", gemmBefore / 1e9, c.tokens(), config.innerDim(), config.innerDim(),
                4 * config.innerDim(), shaped / 1e9);
        List<Row> caseRows = new ArrayList<>();
        try (NDManager root = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(config, root, SEED)) {
            Engine.getInstance().setRandomSeed(SEED);
            NDArray latents = root.randomNormal(c.latentShape());
            NDArray noise = root.randomNormal(c.latentShape());
            NDArray text = root.randomNormal(new Shape(c.batch(), config.maxTextSeqLength(), config.textEmbedDim()));
            long[] t = new Random(SEED).longs(c.batch(), 0, 1000).toArray();
            NDArray timesteps = EngineArrays.create(root, t, new Shape(c.batch()));
            Inputs in = new Inputs(latents, noise, text, timesteps);
            LoraAdapter lora = null;
            for (boolean loraPhase : new boolean[] {false, true}) {
                if (loraPhase && (block || modes.stream().anyMatch(TrainingStepMode::lora))) {
                    lora = LoraAdapter.inject(model, LoraConfig.of(rank, rank));
                }
                for (TrainingStepMode mode : modes) {
                    if (mode.lora() != loraPhase) {
                        continue;
                    }
                    double flops = TrainingFlops.step(config, c.batch(), c.videoTokens(), mode.lora() ? rank : 0,
                            mode.checkpointed());
                    Collection<NDArray> trainable = mode.lora() ? lora.namedParameters().values()
                            : model.namedParameters().values();
                    double[] loss = new double[1];
                    Timing timing = repeat(warmup, reps, root, s -> loss[0] = runStep(mode, model, objective, in, s),
                            trainable);
                    caseRows.add(new Row(c.name(), mode, c.tokens(), timing.medianMs(), timing.minMs(),
                            timing.maxMs(), timing.peakExtraMb(), flops, loss[0], Double.NaN));
                    System.out.printf(Locale.ROOT, "#   %-15s best %6.0f ms (median %6.0f)  peak extra %7.0f MB  loss"
                            + " %.6f%n", mode, timing.minMs(), timing.medianMs(), timing.peakExtraMb(), loss[0]);
                }
            }
            if (block) {
                blocks.add(blockFigures(c, model, lora, warmup, reps));
            }
            if (lora != null) {
                lora.close();
            }
        }
        double gemmAfter = gemmRate(2048, 2048, 2048, 5);
        double gemm = (gemmBefore + gemmAfter) / 2;
        System.out.printf(Locale.ROOT, "# fp32 GEMM 2048^3 after the case: %.1f GFLOP/s; the ratios use the mean, %.1f%n",
                gemmAfter / 1e9, gemm / 1e9);
        for (Row r : caseRows) {
            rows.add(new Row(r.caseName(), r.mode(), r.tokens(), r.medianMs(), r.minMs(), r.maxMs(), r.peakExtraMb(),
                    r.flops(), r.loss(), gemm));
        }
    }

    /** The fixed inputs of one case, in the case's manager (copied into each repetition's manager). */
    private record Inputs(NDArray latents, NDArray noise, NDArray text, NDArray timesteps) {}

    /** The body of a repetition; arrays it makes belong to the given per-repetition manager. */
    @FunctionalInterface
    private interface Body {
        void run(NDManager step) throws IOException;
    }

    /**
     * One training step (forward + backward, no optimizer) in {@code s}; returns the loss value.
     */
    private static double runStep(TrainingStepMode mode, CogVideoXTransformer model, CogVideoXObjective objective,
            Inputs in, NDManager s) {
        NDArray x0 = copy(in.latents(), s);
        NDArray noise = copy(in.noise(), s);
        NDArray text = copy(in.text(), s);
        NDArray t = copy(in.timesteps(), s);
        // bf16 mixed precision: bf16 GEMMs for every Linear (kernel pack), fp32 master weights and LoRA
        model.setComputePrecision(mode.bf16() ? ComputePrecision.BF16 : ComputePrecision.FP32);
        if (!mode.checkpointed()) {
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray loss = objective.loss(model, TrainingInput.of(x0, text, t, noise));
                gc.backward(loss);
                return loss.getDouble();
            }
        }
        return objective.lossAndBackward(model, TrainingInput.of(x0, text, t, noise)).getDouble();
    }

    private static NDArray copy(NDArray a, NDManager s) {
        NDArray c = a.duplicate();
        c.attach(s);
        return c;
    }

    /** Warm-up, then timed repetitions, each in its own sub-manager; gradients cleared after each (untimed). */
    private static Timing repeat(int warmup, int reps, NDManager root, Body body, Collection<NDArray> trainable)
            throws IOException {
        double[] ms = new double[reps];
        double peakMb = 0;
        for (int i = -warmup; i < reps; i++) {
            long base = ProcMemory.resetPeakKb();
            long t0 = System.nanoTime();
            try (NDManager s = root.newSubManager()) {
                body.run(s);
            }
            double elapsed = (System.nanoTime() - t0) / 1e6;
            long peak = ProcMemory.peakKb();
            for (NDArray p : trainable) {
                if (p.hasGradient()) {
                    Gradients.clear(p);
                }
            }
            if (i >= 0) {
                ms[i] = elapsed;
                peakMb = Math.max(peakMb, (peak - base) / MB);
            }
        }
        double[] sorted = ms.clone();
        Arrays.sort(sorted);
        return new Timing(sorted[reps / 2], sorted[0], sorted[reps - 1], peakMb);
    }

    private static BlockFigures blockFigures(TrainingBenchCase c, CogVideoXTransformer model, LoraAdapter lora,
            int warmup, int reps) throws IOException {
        CogVideoXConfig config = c.config();
        CogVideoXBlock block = model.transformerBlocks().get(0);
        long b = c.batch();
        long n = c.videoTokens();
        long l = config.maxTextSeqLength();
        long d = config.innerDim();
        int h = config.numAttentionHeads();
        Collection<NDArray> trainable = lora == null ? List.of() : lora.namedParameters().values();
        try (NDManager m = NDManager.newBaseManager(); KernelPack pack = KernelPack.load()) {
            Engine.getInstance().setRandomSeed(SEED);
            NDArray v = m.randomNormal(new Shape(b, n, d));
            NDArray txt = m.randomNormal(new Shape(b, l, d));
            NDArray emb = m.randomNormal(new Shape(b, config.timeEmbedDim()));
            NDArray cos = m.randomUniform(-1, 1, new Shape(n, config.attentionHeadDim()));
            NDArray sin = m.randomUniform(-1, 1, new Shape(n, config.attentionHeadDim()));
            NDArray gv = m.randomNormal(new Shape(b, n, d)).mul(1e-3);
            NDArray gc = m.randomNormal(new Shape(b, l, d)).mul(1e-3);
            Timing fwd = repeat(warmup, reps, m, s -> {
                NDList out = block.forward(copy(v, s), copy(txt, s), copy(emb, s), cos, sin, ForwardProbe.NONE);
                out.attach(s);
            }, trainable);
            Timing fwdBwd = repeat(warmup, reps, m, s -> {
                NDArray xv = copy(v, s);
                NDArray xc = copy(txt, s);
                NDArray xe = copy(emb, s);
                for (NDArray a : new NDArray[] {xv, xc, xe}) {
                    a.setRequiresGradient(true);
                }
                try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                    NDList out = block.forward(xv, xc, xe, cos, sin, ForwardProbe.NONE);
                    collector.backward(out.get(0).mul(gv).sum().add(out.get(1).mul(gc).sum()));
                }
            }, trainable);
            Shape qkv = new Shape(b, h, n + l, HEAD_DIM);
            NDArray q = m.randomNormal(qkv);
            NDArray k = m.randomNormal(qkv);
            NDArray val = m.randomNormal(qkv);
            NDArray up = m.randomNormal(qkv);
            Timing sdpa = repeat(warmup, reps, m, s -> pack.scaledDotProductAttention(q, k, val).attach(s),
                    List.of());
            Timing sdpaBwd = repeat(warmup, reps, m, s -> {
                NDArray xq = copy(q, s);
                NDArray xk = copy(k, s);
                NDArray xv = copy(val, s);
                for (NDArray a : new NDArray[] {xq, xk, xv}) {
                    a.setRequiresGradient(true);
                }
                try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                    collector.backward(pack.scaledDotProductAttention(xq, xk, xv).mul(up).sum());
                }
            }, List.of());
            System.out.printf(Locale.ROOT, "#   block (best): fwd %.0f ms, fwd+bwd %.0f ms (peak extra %.0f MB); SDPA"
                            + " [%d,%d,%d,%d] fwd %.0f ms, fwd+bwd %.0f ms%n", fwd.minMs(), fwdBwd.minMs(),
                    fwdBwd.peakExtraMb(), b, h, n + l, HEAD_DIM, sdpa.minMs(), sdpaBwd.minMs());
            return new BlockFigures(c, fwd, fwdBwd, sdpa, sdpaBwd);
        }
    }

    /**
     * Prints the extrapolation of a LoRA + checkpointing step of CogVideoX-5B at 49 x 480 x 720 from one case's
     * per-block figures. Time per block = (block fwd + block fwd+bwd) split into attention (SDPA fwd + fwd+bwd),
     * scaled by S²·D, and the rest, scaled by S·D². Memory = bf16 weights + fp32 LoRA params, grads, Adam moments +
     * checkpointed block inputs + one block's activations (measured peak, scaled by S·D) + two upstream gradients.
     */
    private static void extrapolate(BlockFigures f, int rank) {
        TrainingBenchCase c = f.benchCase();
        long sBench = c.tokens();
        long dBench = c.config().innerDim();
        long s5 = 17_550 + 226;
        long d5 = 3072;
        int layers = 42;
        double sRatio = (double) s5 / sBench;
        double dRatio = (double) d5 / dBench;
        double attention = f.sdpaFwdMs() + f.sdpaFwdBwdMs();
        double rest = f.fwdMs() + f.fwdBwdMs() - attention;
        double attention5 = attention * sRatio * sRatio * dRatio;
        double rest5 = rest * sRatio * dRatio * dRatio;
        double stepS = layers * (attention5 + rest5) / 1e3;
        double weights = 5_570_283_072.0 * 2 / GIB;
        double loraParams = (double) layers * 4 * rank * 2 * d5;
        double loraState = loraParams * 4 * 4 / GIB;                       // param, grad, m, v in fp32
        double ckptFp32 = (double) layers * s5 * d5 * 4 / GIB;
        double activations = f.fwdBwdPeakMb() / 1024.0 * sRatio * dRatio;  // GiB, fp32
        double upstream = 2.0 * s5 * d5 * 4 / GIB;
        double fp32Total = weights + loraState + ckptFp32 + activations + upstream;
        double bf16Total = weights + loraState + ckptFp32 / 2 + activations / 2 + upstream;
        System.out.println();
        System.out.printf(Locale.ROOT, "# EXTRAPOLATION (not measured) from %s (S=%,d, D=%d) to CogVideoX-5B at 49x480x720"
                + " (S=%,d, D=%d, %d blocks), LoRA r%d (%,.0f params), checkpointing, B=1:%n", c.name(), sBench, dBench,
                s5, d5, layers, rank, loraParams);
        System.out.printf(Locale.ROOT, "#   per block measured: attention %.0f ms + rest %.0f ms; scaled: attention"
                + " x%.1f -> %.1f s, rest x%.1f -> %.1f s%n", attention, rest, sRatio * sRatio * dRatio,
                attention5 / 1e3, sRatio * dRatio * dRatio, rest5 / 1e3);
        System.out.printf(Locale.ROOT, "#   step time (fp32, this machine): %.0f s = %.1f min (42 x %.1f s)%n", stepS,
                stepS / 60, (attention5 + rest5) / 1e3);
        System.out.printf(Locale.ROOT, "#   memory GiB: frozen weights bf16 %.2f + LoRA param/grad/Adam m,v fp32 %.2f +"
                + " checkpoints %.2f (fp32; %.2f bf16) + one block's activations %.2f (fp32, scaled from %.0f MB;"
                + " ~%.2f bf16) + 2 upstream grads %.2f = %.1f (fp32 checkpoints) / %.1f (bf16)%n", weights,
                loraState, ckptFp32, ckptFp32 / 2, activations, f.fwdBwdPeakMb(), activations / 2, upstream,
                fp32Total, bf16Total);
    }

    private static double gemmRate(long m, long k, long n, int reps) {
        return GemmReference.rate(m, k, n, reps);
    }

    private static String option(String[] args, String name, String defaultValue) {
        return BenchOptions.option(args, OPTIONS, name, defaultValue);
    }
}
