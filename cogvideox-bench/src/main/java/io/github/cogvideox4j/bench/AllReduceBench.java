package io.github.cogvideox4j.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.dist.ProcessGroup;
import io.github.cogvideox4j.core.dist.ProcessGroup.ReduceOp;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Bandwidth of the collective engine (Gloo over TCP through {@code GlooProcessGroup}) against a memcpy of the same
 * bytes, both measured in the same run.
 *
 * <p>The main starts {@code --ranks} local ranks (child JVMs with this JVM's java and class path, {@code
 * -Dai.djl.offline=true}, {@code THP_MEM_ALLOC_ENABLE=1} and the torchrun-style variables on 127.0.0.1 and a free
 * port), which form their group with {@link ProcessGroup#fromEnvironment(ProcessGroup.Options)}. For each size
 * ({@code --sizes} in MB of float32), every rank all-reduces (SUM, in place) one array {@code --warmup} times, then
 * {@code --reps} times, each repetition started by a barrier and timed on rank 0, and reduce-scatters (AVERAGE) it into
 * a part of {@code 1/W} of its elements the same number of times; then rank 0 times the same number of memcpys of the same bytes between two direct buffers ({@code ByteBuffer.put}, what the JVM lowers to memcpy).
 * Rank 0 prints min and median of both and the ratio all-reduce time / memcpy time (the best of each: the machines
 * are shared, the least disturbed repetition is the fairest comparison). The bus bandwidth is the all-reduce's
 * conventional figure {@code 2 (W-1)/W * bytes / time} (the bytes every rank sends and receives in a ring).
 *
 * <p>Options: {@code --ranks=2 --sizes=4,25,100 --reps=10 --warmup=2 --timeout=120s}. Run (project root):
 * <pre>{@code
 * mvn -q -B -pl cogvideox-bench -am package dependency:build-classpath -DskipTests \
 *     -DincludeScope=runtime -Dmdep.outputFile=target/classpath.txt
 * CP=cogvideox-bench/target/classes:$(cat cogvideox-bench/target/classpath.txt)
 * bin/cogvideox-java -Dai.djl.offline=true -cp $CP io.github.cogvideox4j.bench.AllReduceBench
 * }</pre>
 * Needs the Gloo shim (cogvideox-core built with {@code libgloo-dev} installed, see {@code bin/ensure-gloo}).
 */
public final class AllReduceBench {
    private static final Set<String> OPTIONS = Set.of("ranks", "sizes", "reps", "warmup", "timeout");

    private AllReduceBench() {}

    /**
     * @param args {@code --name=value} options (see the class comment)
     * @throws Exception when a rank fails (the exit code is then non-zero)
     */
    public static void main(String[] args) throws Exception {
        if (System.getenv("RANK") != null) {
            rank(args);
            return;
        }
        int ranks = Integer.parseInt(BenchOptions.option(args, OPTIONS, "ranks", "2"));
        Duration timeout = Duration.parse("PT" + BenchOptions.option(args, OPTIONS, "timeout", "120s"));
        System.out.println("AllReduceBench: " + ranks + " ranks on 127.0.0.1; " + BenchEnvironment.describe());
        int code = LocalRanks.run(AllReduceBench.class, ranks, List.of("-Xmx1g"), args, timeout.multipliedBy(5));
        if (code != 0) {
            System.exit(code);
        }
    }

    private static void rank(String[] args) {
        int reps = Integer.parseInt(BenchOptions.option(args, OPTIONS, "reps", "10"));
        int warmup = Integer.parseInt(BenchOptions.option(args, OPTIONS, "warmup", "2"));
        Duration timeout = Duration.parse("PT" + BenchOptions.option(args, OPTIONS, "timeout", "120s"));
        int[] sizes = Arrays.stream(BenchOptions.option(args, OPTIONS, "sizes", "4,25,100").split(","))
                .mapToInt(Integer::parseInt).toArray();
        try (ProcessGroup group = ProcessGroup.fromEnvironment(ProcessGroup.Options.builder().timeout(timeout)
                        .build());
                NDManager manager = NDManager.newBaseManager(Device.cpu())) {
            boolean speak = group.isCoordinator();
            int w = group.worldSize();
            if (speak) {
                System.out.println("engine: " + group + "; " + reps + " repetitions after " + warmup + " warm-up");
                System.out.printf(Locale.ROOT, "%8s | %10s %10s %12s %12s | %13s %10s | %10s %10s %10s | %8s%n",
                        "MB", "allreduce", "median", "algbw GB/s", "busbw GB/s", "reducescatter", "median", "memcpy",
                        "median", "GB/s", "ratio");
            }
            for (int mb : sizes) {
                long floats = (long) mb * (1 << 20) / Float.BYTES;
                try (NDManager sub = manager.newSubManager()) {
                    NDArray x = sub.ones(new Shape(floats));
                    double[] reduce = time(group, warmup, reps, () -> group.allReduce(ReduceOp.SUM, x));
                    long part = floats / w;
                    NDArray input = x.get(new NDIndex("0:{}", part * w));
                    NDArray output = sub.zeros(new Shape(part));
                    double[] scatter = time(group, warmup, reps,
                            () -> group.reduceScatter(ReduceOp.AVERAGE, input, output));
                    group.barrier();
                    if (!speak) {
                        continue;
                    }
                    double[] copy = memcpy(floats * Float.BYTES, warmup, reps);
                    double bytes = floats * (double) Float.BYTES;
                    double rMin = min(reduce);
                    double cMin = min(copy);
                    System.out.printf(Locale.ROOT, "%8d | %10.2f %10.2f %12.3f %12.3f | %13.2f %10.2f | %10.2f %10.2f "
                            + "%10.3f | %8.1f%n", mb, rMin, median(reduce), bytes / rMin / 1e6,
                            2.0 * (w - 1) / w * bytes / rMin / 1e6, min(scatter), median(scatter), cMin, median(copy),
                            bytes / cMin / 1e6, rMin / cMin);
                }
            }
            group.barrier(); // rank 0's last memcpy ends before anyone leaves
            if (speak) {
                System.out.println("times in ms; algbw = bytes / all-reduce time; busbw = 2(W-1)/W * bytes / time; "
                        + "reducescatter = the AVERAGE reduce-scatter of the same array into 1/W of it; ratio = best all-reduce time / best memcpy time of the same bytes (" + bytesNote() + ")");
            }
        }
    }

    /** Times {@code reps} calls of a collective after {@code warmup}, each started by a barrier: ms each. */
    private static double[] time(ProcessGroup group, int warmup, int reps, Runnable collective) {
        double[] times = new double[reps];
        for (int i = 0; i < warmup + reps; i++) {
            group.barrier();
            long t0 = System.nanoTime();
            collective.run();
            long t1 = System.nanoTime();
            if (i >= warmup) {
                times[i - warmup] = (t1 - t0) / 1e6;
            }
        }
        return times;
    }

    private static double[] memcpy(long bytes, int warmup, int reps) {
        ByteBuffer src = ByteBuffer.allocateDirect(Math.toIntExact(bytes)).order(ByteOrder.nativeOrder());
        ByteBuffer dst = ByteBuffer.allocateDirect(Math.toIntExact(bytes)).order(ByteOrder.nativeOrder());
        for (int i = 0; i < bytes; i += 4096) {
            src.put(i, (byte) i); // touch every page of both before timing
            dst.put(i, (byte) 0);
        }
        double[] times = new double[reps];
        for (int i = 0; i < warmup + reps; i++) {
            src.clear();
            dst.clear();
            long t0 = System.nanoTime();
            dst.put(src);
            long t1 = System.nanoTime();
            if (i >= warmup) {
                times[i - warmup] = (t1 - t0) / 1e6;
            }
        }
        return times;
    }

    private static String bytesNote() {
        return "1 MB = 2^20 bytes; GB/s = 10^9 bytes/s";
    }

    private static double min(double[] v) {
        return Arrays.stream(v).min().orElseThrow();
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
