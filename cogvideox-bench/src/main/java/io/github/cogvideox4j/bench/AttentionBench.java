package io.github.cogvideox4j.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.kernel.KernelPack;
import io.github.cogvideox4j.core.kernel.ReferenceKernels;
import java.util.Collection;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.CommandLineOptionException;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.OptionsBuilder;

/**
 * Attention forward, B=1, fp32, head dim 64: the fused kernel ({@link KernelPack#scaledDotProductAttention},
 * torch SDPA through TorchScript) against the naive DJL composition ({@link ReferenceKernels#naiveAttention})
 * and against plain GEMMs of the same FLOPs, 4·H·S²·d, so that each result can be read as a multiple of what
 * the machine's GEMM needs:
 * <ul>
 *   <li>{@code gemmSingle} — one batched {@code [H,S,S]·[H,S,2d]} product: the FLOPs with a small output and
 *       no large allocation inside the timed region (the reference for the "x GEMM" column);</li>
 *   <li>{@code gemmPair} — {@code [H,S,d]·[H,d,S]} then {@code [H,S,S]·[H,S,d]}: naive attention without
 *       scale and softmax, including the allocation of the H·S² scores (naive's floor).</li>
 * </ul>
 *
 * <p>Sizes ({@code tokens} parameter): 1474 tokens with H=48 — CogVideoX-5B's 48 heads at a small clip
 * (226 text + 1248 video tokens); 4096 tokens with only H=8 (instead of 48) to keep a run short on the
 * shared 2-core machine — per-head cost is what matters, and the naive path would need ≈6 GB at H=48.
 *
 * <p>Run (from the project root; the full run takes several minutes and should not be run on the shared
 * machine while others work):
 * <pre>{@code
 * mvn -q -B -pl cogvideox-bench -am package dependency:build-classpath -DskipTests \
 *     -DincludeScope=runtime -Dmdep.outputFile=target/classpath.txt
 * THP_MEM_ALLOC_ENABLE=1 java -Dai.djl.offline=true \
 *     -cp cogvideox-bench/target/classes:$(cat cogvideox-bench/target/classpath.txt) \
 *     io.github.cogvideox4j.bench.AttentionBench            # add JMH options, e.g. -p tokens=1474
 * # smoke run (seconds): ... AttentionBench -f 0 -wi 0 -i 1 -r 1 -p tokens=1474
 * }</pre>
 * {@link #main} runs JMH with the given command-line options, then prints the environment
 * ({@link BenchEnvironment}), GFLOP/s and the ratios to the GEMM. Forks inherit the environment, so
 * {@code THP_MEM_ALLOC_ENABLE} and the MKL switch must be set on the launching JVM.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Dai.djl.offline=true", "-Xmx2g"})
@Warmup(iterations = 2, time = 3)
@Measurement(iterations = 5, time = 4)
@Threads(1)
public class AttentionBench {
    /** Real CogVideoX head dim. */
    static final int HEAD_DIM = 64;

    /** Sequence length (text + video tokens). */
    @Param({"1474", "4096"})
    public int tokens;

    private KernelPack pack;
    private NDManager manager;
    private NDArray q;
    private NDArray k;
    private NDArray v;
    private NDArray gemmA;
    private NDArray gemmB;
    private NDArray gemmC;
    private NDArray squareA;
    private NDArray wideB;

    /**
     * Heads used for a token count: 48 (CogVideoX-5B) at 1474 tokens, 8 at 4096 (kept short, see class doc).
     *
     * @param tokens the sequence length
     * @return the number of heads
     */
    public static int headsFor(int tokens) {
        return tokens <= 1474 ? 48 : 8;
    }

    /**
     * FLOPs of one attention forward's two GEMMs, 4·H·S²·d (what the GEMM benchmark performs).
     *
     * @param tokens the sequence length S
     * @return the FLOP count
     */
    public static double flops(int tokens) {
        return 4.0 * headsFor(tokens) * (double) tokens * tokens * HEAD_DIM;
    }

    /** Allocates the inputs and loads the kernel pack; prints the environment once per trial. */
    @Setup(Level.Trial)
    public void setUp() {
        System.out.println("# " + BenchEnvironment.describe());
        Engine.getInstance().setRandomSeed(42);
        int h = headsFor(tokens);
        pack = KernelPack.load();
        manager = NDManager.newBaseManager();
        Shape shape = new Shape(1, h, tokens, HEAD_DIM);
        q = manager.randomNormal(shape);
        k = manager.randomNormal(shape);
        v = manager.randomNormal(shape);
        gemmA = manager.randomNormal(new Shape(h, tokens, HEAD_DIM));
        gemmB = manager.randomNormal(new Shape(h, HEAD_DIM, tokens));
        gemmC = manager.randomNormal(new Shape(h, tokens, HEAD_DIM));
        squareA = manager.randomNormal(new Shape(h, tokens, tokens));
        wideB = manager.randomNormal(new Shape(h, tokens, 2 * HEAD_DIM));
    }

    /** Frees the inputs and the pack. */
    @TearDown(Level.Trial)
    public void tearDown() {
        manager.close();
        pack.close();
    }

    /** Fused SDPA through the TorchScript kernel pack. */
    @Benchmark
    public void fused() {
        pack.scaledDotProductAttention(q, k, v).close();
    }

    /** softmax(q·kᵀ/√d)·v from DJL ops (materialises the H·S² scores). */
    @Benchmark
    public void naive() {
        ReferenceKernels.naiveAttention(q, k, v).close();
    }

    /** One batched GEMM with the attention's FLOPs: [H,S,S]·[H,S,2d] → [H,S,2d]. */
    @Benchmark
    public void gemmSingle() {
        squareA.matMul(wideB).close();
    }

    /** Two batched GEMMs with the attention's FLOPs: [H,S,d]·[H,d,S] → [H,S,S], then ·[H,S,d]. */
    @Benchmark
    public void gemmPair() {
        NDArray scores = gemmA.matMul(gemmB);
        scores.matMul(gemmC).close();
        scores.close();
    }

    /**
     * Runs the benchmark with JMH command-line options, then prints GFLOP/s and ratios to the GEMM.
     *
     * @param args JMH options (e.g. {@code -p tokens=1474 -f 0 -wi 0 -i 1 -r 1}); the include pattern
     *     defaults to this class
     * @throws RunnerException if JMH fails
     * @throws CommandLineOptionException if the options cannot be parsed
     */
    public static void main(String[] args) throws RunnerException, CommandLineOptionException {
        CommandLineOptions cli = new CommandLineOptions(args);
        ChainedOptionsBuilder options = new OptionsBuilder().parent(cli);
        if (cli.getIncludes().isEmpty()) {
            options.include(AttentionBench.class.getName() + "\\.");
        }
        Collection<RunResult> results = new Runner(options.build()).run();
        System.out.println(summary(results));
    }

    /**
     * A table of ms/op, GFLOP/s (at 4·H·S²·d) and time relative to {@code gemmSingle} (or {@code gemmPair} if
     * only that ran), per token count.
     *
     * @param results JMH results of this class
     * @return the printable table, starting with the environment line
     */
    static String summary(Collection<RunResult> results) {
        Map<Integer, Map<String, Double>> msByTokens = new TreeMap<>();
        for (RunResult r : results) {
            String label = r.getParams().getBenchmark();
            String method = label.substring(label.lastIndexOf('.') + 1);
            int t = Integer.parseInt(r.getParams().getParam("tokens"));
            double ms = r.getPrimaryResult().getScore();
            msByTokens.computeIfAbsent(t, x -> new TreeMap<>()).put(method, ms);
        }
        StringBuilder sb = new StringBuilder();
        sb.append("# ").append(BenchEnvironment.describe()).append('\n');
        sb.append(String.format(Locale.ROOT, "%-7s %-3s %-14s %10s %9s %10s%n",
                "tokens", "H", "benchmark", "ms/op", "GFLOP/s", "x GEMM"));
        for (Map.Entry<Integer, Map<String, Double>> e : msByTokens.entrySet()) {
            int t = e.getKey();
            Double gemm = e.getValue().getOrDefault("gemmSingle", e.getValue().get("gemmPair"));
            for (Map.Entry<String, Double> m : e.getValue().entrySet()) {
                double ms = m.getValue();
                sb.append(String.format(Locale.ROOT, "%-7d %-3d %-14s %10.1f %9.1f %10s%n",
                        t, headsFor(t), m.getKey(), ms, flops(t) / (ms * 1e6),
                        gemm == null ? "-" : String.format(Locale.ROOT, "%.2f", ms / gemm)));
            }
        }
        return sb.toString();
    }
}
