package io.github.cogvideox4j.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import io.github.cogvideox4j.core.kernel.KernelPack;
import java.io.IOException;
import java.util.Locale;

/**
 * Peak extra resident memory of the fused attention ({@link KernelPack#scaledDotProductAttention}) at
 * CogVideoX-5B's full-clip length, 17,776 tokens (226 text + 13·60·90/4 video), head dim 64, fp32, B=1:
 * <ul>
 *   <li>forward with H=48 heads (all 5B heads), processed in chunks of heads ({@code --head-chunk}); the
 *       chunk outputs are kept, so the peak includes the {@code [1,H,S,64]} output;</li>
 *   <li>forward + backward with H=2 under a GradientCollector (backward through {@code JniUtils.backward}
 *       with an explicit upstream gradient); the peak includes the output and dq/dk/dv.</li>
 * </ul>
 * "Peak extra" is the rise of VmHWM over VmRSS after resetting VmHWM by writing 5 to
 * {@code /proc/self/clear_refs} (docs/djl-engine.md §3); inputs are allocated before the reset and excluded.
 * For comparison it prints the size of the score tensor naive attention would materialise, 4·H·S² bytes
 * (autograd keeps it, and the backward needs about three such tensors).
 *
 * <p>Options (all optional): {@code --tokens=17776 --forward-heads=48 --head-chunk=8 --backward-heads=2
 * --reps=1}; a value of 0 heads skips that part. Expect minutes at the defaults (SDPA forward ≈1 s per head,
 * fwd+bwd ≈5 s per head at 17,776 tokens on 2 cores). Run (from the project root):
 * <pre>{@code
 * mvn -q -B -pl cogvideox-bench -am package dependency:build-classpath -DskipTests \
 *     -DincludeScope=runtime -Dmdep.outputFile=target/classpath.txt
 * THP_MEM_ALLOC_ENABLE=1 java -Dai.djl.offline=true \
 *     -cp cogvideox-bench/target/classes:$(cat cogvideox-bench/target/classpath.txt) \
 *     io.github.cogvideox4j.bench.AttentionMemoryBench
 * # smoke run (seconds): ... AttentionMemoryBench --tokens=4096 --forward-heads=0 --backward-heads=2
 * }</pre>
 * Linux only (reads {@code /proc/self/status}).
 */
public final class AttentionMemoryBench {
    private static final int HEAD_DIM = 64;
    private static final double MB = 1024.0 * 1024.0;

    private AttentionMemoryBench() {}

    /**
     * Runs the measurements and prints one line per repetition plus the environment.
     *
     * @param args {@code --name=value} options, see the class Javadoc
     * @throws IOException if {@code /proc/self} cannot be read or written
     */
    public static void main(String[] args) throws IOException {
        int tokens = intOption(args, "tokens", 17_776);
        int forwardHeads = intOption(args, "forward-heads", 48);
        int headChunk = intOption(args, "head-chunk", 8);
        int backwardHeads = intOption(args, "backward-heads", 2);
        int reps = intOption(args, "reps", 1);
        System.out.println("# " + BenchEnvironment.describe());
        System.out.printf(Locale.ROOT, "# tokens=%d headDim=%d forwardHeads=%d headChunk=%d backwardHeads=%d reps=%d%n",
                tokens, HEAD_DIM, forwardHeads, headChunk, backwardHeads, reps);
        Engine.getInstance().setRandomSeed(42);
        try (KernelPack pack = KernelPack.load()) {
            if (forwardHeads > 0) {
                for (int r = 0; r < reps; r++) {
                    forward(pack, tokens, forwardHeads, Math.max(1, Math.min(headChunk, forwardHeads)));
                }
            }
            if (backwardHeads > 0) {
                for (int r = 0; r < reps; r++) {
                    forwardBackward(pack, tokens, backwardHeads);
                }
            }
        }
    }

    private static void forward(KernelPack pack, int tokens, int heads, int chunk) throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            Shape shape = new Shape(1, heads, tokens, HEAD_DIM);
            NDArray q = m.randomNormal(shape);
            NDArray k = m.randomNormal(shape);
            NDArray v = m.randomNormal(shape);
            long base = ProcMemory.resetPeakKb();
            long t0 = System.nanoTime();
            NDList outs = new NDList();
            for (int h = 0; h < heads; h += chunk) {
                NDIndex idx = new NDIndex(":, {}:{}", h, Math.min(heads, h + chunk));
                try (NDManager step = m.newSubManager()) {
                    NDArray qc = q.get(idx);
                    qc.attach(step);
                    NDArray kc = k.get(idx);
                    kc.attach(step);
                    NDArray vc = v.get(idx);
                    vc.attach(step);
                    NDArray out = pack.scaledDotProductAttention(qc, kc, vc);
                    out.attach(m); // kept, like a layer keeps its attention output
                    outs.add(out);
                }
            }
            double ms = (System.nanoTime() - t0) / 1e6;
            long peak = ProcMemory.peakKb();
            report("forward", heads, tokens, ms, base, peak, 1);
            outs.close();
        }
    }

    private static void forwardBackward(KernelPack pack, int tokens, int heads) throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            Shape shape = new Shape(1, heads, tokens, HEAD_DIM);
            NDArray q = m.randomNormal(shape);
            NDArray k = m.randomNormal(shape);
            NDArray v = m.randomNormal(shape);
            NDArray upstream = m.randomNormal(shape);
            q.setRequiresGradient(true);
            k.setRequiresGradient(true);
            v.setRequiresGradient(true);
            long base = ProcMemory.resetPeakKb();
            long t0 = System.nanoTime();
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray out = pack.scaledDotProductAttention(q, k, v);
                JniUtils.backward((PtNDArray) out, (PtNDArray) upstream, false, false);
                out.close();
            }
            double ms = (System.nanoTime() - t0) / 1e6;
            long peak = ProcMemory.peakKb();
            report("fwd+bwd", heads, tokens, ms, base, peak, 4); // out, dq, dk, dv
        }
    }

    private static void report(String what, int heads, int tokens, double ms, long baseKb, long peakKb, int arrays) {
        double tensorMb = (double) heads * tokens * HEAD_DIM * Float.BYTES / MB;
        double naiveScoresMb = 4.0 * heads * (double) tokens * tokens / MB;
        System.out.printf(Locale.ROOT,
                "%-8s H=%-2d S=%d d=%d: %.0f ms; peak extra RSS %.1f MB (includes %d result array(s) of %.1f MB);"
                        + " naive attention's score tensor alone: %.1f MB%n",
                what, heads, tokens, HEAD_DIM, ms, (peakKb - baseKb) / 1024.0, arrays, tensorMb, naiveScoresMb);
    }

    private static final java.util.Set<String> OPTIONS =
            java.util.Set.of("tokens", "forward-heads", "head-chunk", "backward-heads", "reps");

    private static int intOption(String[] args, String name, int defaultValue) {
        return Integer.parseInt(BenchOptions.option(args, OPTIONS, name, Integer.toString(defaultValue)));
    }
}
