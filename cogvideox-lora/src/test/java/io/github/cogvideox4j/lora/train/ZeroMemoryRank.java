package io.github.cogvideox4j.lora.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import io.github.cogvideox4j.core.dist.ProcessGroup;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One rank of {@link ZeroMemoryTest}: {@code N} FP32 parameters in 8 tensors with gradients, then a ZeRO-1
 * {@link ShardedAdamW} over them and one reduce/update step. Prints the moment bytes of this rank from the shard
 * layout and the resident-set growth ({@code VmRSS}) of the parameters with their gradients and of the sharded
 * optimizer state (moments, gradient shards and the reused bucket buffers), as {@code RESULT key=value} lines.
 */
public final class ZeroMemoryRank {
    private ZeroMemoryRank() {}

    /**
     * @param args {@code [N]}
     */
    public static void main(String[] args) {
        int code = 1;
        try (ProcessGroup group = ProcessGroup.fromEnvironment(ProcessGroup.Options.builder()
                .timeout(Duration.ofSeconds(120)).build())) {
            measure(group, Long.parseLong(args[0]));
            code = 0;
        } catch (Throwable t) {
            t.printStackTrace(System.out);
        }
        System.out.flush();
        System.exit(code);
    }

    private static void measure(ProcessGroup group, long n) throws IOException {
        try (NDManager manager = NDManager.newBaseManager()) {
            long rss0 = rssKb();
            Map<String, NDArray> params = new LinkedHashMap<>();
            for (int i = 0; i < 8; i++) {
                NDArray p = manager.ones(new Shape(n / 8));
                p.setRequiresGradient(true);
                params.put("w" + i, p);
            }
            try (GradientCollector gc = Engine.getInstance().newGradientCollector(); NDManager s = manager.newSubManager()) {
                NDArray loss = null;
                for (NDArray p : params.values()) {
                    NDArray term = p.sum();
                    term.attach(s);
                    loss = loss == null ? term : loss.add(term);
                }
                gc.backward(loss);
            }
            long rss1 = rssKb();
            FlatLayout layout = FlatLayout.of(params, FlatLayout.DEFAULT_BUCKET_ELEMENTS, group.worldSize());
            try (AdamW adamW = AdamW.builder().build();
                    ShardedAdamW sharded = new ShardedAdamW(adamW, group, layout, manager)) {
                List<NDArray> list = new ArrayList<>(params.values());
                double sumSq = sharded.reduce(list);
                double[] total = {sumSq};
                group.allReduce(ProcessGroup.ReduceOp.SUM, total);
                sharded.apply(list, 1f);
                long rss2 = rssKb();
                System.out.printf("RESULT elements=%d%nRESULT moment_bytes=%d%nRESULT gradient_shard_bytes=%d%n"
                        + "RESULT rss_params_and_grads_kb=%d%nRESULT rss_sharded_optimizer_kb=%d%n"
                        + "RESULT grad_norm_squared=%s%n", layout.totalElements(), sharded.momentBytes(),
                        sharded.gradientShardBytes(), rss1 - rss0, rss2 - rss1, total[0]);
            }
        }
    }

    private static long rssKb() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("\\D+", ""));
            }
        }
        throw new IOException("no VmRSS in /proc/self/status");
    }
}
