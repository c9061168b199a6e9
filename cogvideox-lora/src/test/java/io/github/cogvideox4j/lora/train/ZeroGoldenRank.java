package io.github.cogvideox4j.lora.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.cogvideox4j.core.dist.ProcessGroup;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.schedule.CogVideoXDpmScheduler;
import io.github.cogvideox4j.core.schedule.TrainingInput;
import io.github.cogvideox4j.core.testing.Golden;
import io.github.cogvideox4j.core.testing.Tolerance;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * One rank of {@link ZeroGoldenReplayTest}: replays the golden {@code full_t2v_2b} training steps with the ZeRO-1
 * sharded AdamW state. Rank {@code r} of {@code W} takes samples {@code [r·2/W, (r+1)·2/W)} of the golden batch of 2
 * with the golden's stored draws; the group averages the gradients, each rank updates its shards, the parameters are
 * all-gathered. After every step every rank checks the loss and pre-clip norm (rtol 1e-4) and every parameter (atol
 * 1e-6; {@code attn1.norm_k.bias} 4e-3) against the golden; after the last step it all-gathers the moment shards and
 * checks them as the golden README says (exp_avg 1e-4 of the tensor's max + 1e-7, exp_avg_sq rtol 1e-3 + 1e-12).
 * Prints {@code RESULT key=value} lines and exits 0, or prints the failure and exits 1.
 */
public final class ZeroGoldenRank {
    private static final ObjectMapper JSON = new ObjectMapper();

    private ZeroGoldenRank() {}

    /**
     * @param args {@code [bucket elements]}
     */
    public static void main(String[] args) {
        int code = 1;
        try (ProcessGroup group = ProcessGroup.fromEnvironment(ProcessGroup.Options.builder()
                .timeout(Duration.ofSeconds(120)).build())) {
            replay(group, Long.parseLong(args[0]));
            code = 0;
        } catch (Throwable t) {
            t.printStackTrace(System.out);
        }
        System.out.flush();
        System.exit(code);
    }

    private static void replay(ProcessGroup group, long bucketElements) throws Exception {
        Path dir = Golden.path("train", "full_t2v_2b");
        JsonNode training = JSON.readTree(dir.resolve("case.json").toFile()).get("training");
        JsonNode opt = training.get("optimizer");
        int batch = training.get("batch_size").asInt();
        int world = group.worldSize();
        if (batch % world != 0) {
            throw new IllegalArgumentException("the golden batch of " + batch + " cannot be split over " + world);
        }
        int per = batch / world;
        int first = group.rank() * per;
        double maxParamErr = 0;
        double maxNormKBiasErr = 0;
        double maxLossRel = 0;
        double maxAvgErr = 0;
        double maxSqErr = 0;
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.load(dir, manager);
                SafetensorsReader golden = SafetensorsReader.open(dir.resolve("steps.safetensors"));
                FineTuner tuner = FineTuner.builder(model, CogVideoXDpmScheduler.fromConfig(
                                Golden.path("scheduler", "dpm_2b_config", "scheduler_config.json")))
                        .optimizer(AdamW.builder().learningRate(opt.get("lr").asDouble())
                                .betas(opt.get("betas").get(0).asDouble(), opt.get("betas").get(1).asDouble())
                                .epsilon(opt.get("eps").asDouble()).weightDecay(opt.get("weight_decay").asDouble())
                                .build())
                        .maxGradNorm(training.get("grad_clipping").get("max_grad_norm").asDouble())
                        .processGroup(group).bucketElements(bucketElements).build()) {
            ShardedAdamW sharded = tuner.shardedOptimizer().orElseThrow(() -> new AssertionError(
                    "a full fine-tune on " + world + " ranks must shard the optimizer state"));
            int steps = training.get("steps").asInt();
            for (int k = 1; k <= steps; k++) {
                try (NDManager step = manager.newSubManager()) {
                    String p = "step" + k + ".";
                    TrainingInput in = TrainingInput.of(mine(golden, p + "latents", first, per, step),
                            mine(golden, p + "prompt_embeds", first, per, step),
                            mine(golden, p + "timesteps", first, per, step),
                            mine(golden, p + "noise", first, per, step));
                    StepResult r = tuner.step(List.of(in), "golden", List.of("rank " + group.rank() + " step " + k));
                    double refLoss = golden.read(p + "loss", step).getDouble();
                    double refNorm = golden.readFloats(p + "grad_norm_preclip")[0];
                    check(!r.skipped(), p + " was skipped");
                    check(Math.abs(r.loss() - refLoss) <= 1e-4 * Math.abs(refLoss), p + "loss " + r.loss() + " vs "
                            + refLoss);
                    check(Math.abs(r.gradNorm() - refNorm) <= 1e-4 * refNorm, p + "grad norm " + r.gradNorm()
                            + " vs " + refNorm);
                    maxLossRel = Math.max(maxLossRel, Math.abs(r.loss() - refLoss) / Math.abs(refLoss));
                    for (Map.Entry<String, NDArray> e : tuner.trainable().entrySet()) {
                        String name = e.getKey();
                        boolean normK = name.endsWith("attn1.norm_k.bias");   // zero gradient, rounding noise
                        double err = Tolerance.assertClose(p + "param." + name, e.getValue().toFloatArray(),
                                golden.readFloats(p + "param." + name), normK ? 4e-3 : 1e-6, 0);
                        if (normK) {
                            maxNormKBiasErr = Math.max(maxNormKBiasErr, err);
                        } else {
                            maxParamErr = Math.max(maxParamErr, err);
                        }
                    }
                    if (k == steps) {
                        float[][] moments = gatherMoments(sharded, group, step);
                        FlatLayout layout = sharded.layout();
                        for (int i = 0; i < layout.parameterCount(); i++) {
                            String name = layout.names().get(i);
                            String avg = p + "adam.exp_avg." + name;
                            if (!golden.contains(avg)) {
                                continue;
                            }
                            int from = Math.toIntExact(layout.offset(i));
                            int to = Math.toIntExact(from + layout.numel(i));
                            maxAvgErr = Math.max(maxAvgErr, Tolerance.assertCloseToMax(avg,
                                    java.util.Arrays.copyOfRange(moments[0], from, to), golden.readFloats(avg),
                                    1e-4, 1e-7));
                            String sq = p + "adam.exp_avg_sq." + name;
                            maxSqErr = Math.max(maxSqErr, Tolerance.assertClose(sq,
                                    java.util.Arrays.copyOfRange(moments[1], from, to), golden.readFloats(sq),
                                    1e-12, 1e-3));
                        }
                    }
                }
            }
            System.out.printf("RESULT max_param_err=%s%nRESULT max_norm_k_bias_err=%s%nRESULT max_loss_rel=%s%n"
                    + "RESULT max_exp_avg_err=%s%nRESULT max_exp_avg_sq_err=%s%nRESULT moment_bytes=%d%n"
                    + "RESULT trainable_elements=%d%nRESULT buckets=%d%n", maxParamErr, maxNormKBiasErr, maxLossRel,
                    maxAvgErr, maxSqErr, sharded.momentBytes(),
                    sharded.layout().totalElements(), sharded.layout().bucketCount());
        }
    }

    /** This rank's samples {@code [first, first + count)} of a golden batch tensor. */
    private static NDArray mine(SafetensorsReader golden, String name, int first, int count, NDManager m) {
        NDArray all = golden.read(name, m);
        NDArray part = all.get(new NDIndex().addSliceDim(first, first + count));
        part.attach(m);
        return part;
    }

    /** Every rank's moment shards gathered into the whole flat moments (padding dropped). */
    private static float[][] gatherMoments(ShardedAdamW sharded, ProcessGroup group, NDManager m) {
        FlatLayout layout = sharded.layout();
        float[][] out = new float[2][Math.toIntExact(layout.totalElements())];
        Map<String, NDArray> shards = sharded.shardTensors();
        for (int k = 0; k < layout.bucketCount(); k++) {
            for (int second = 0; second < 2; second++) {
                NDArray whole = m.zeros(new ai.djl.ndarray.types.Shape(layout.paddedLength(k)));
                group.allGather(shards.get(ShardedAdamW.tensorName(second == 1, k)), whole);
                float[] values = whole.toFloatArray();
                System.arraycopy(values, 0, out[second], Math.toIntExact(layout.bucketStart(k)),
                        Math.toIntExact(layout.bucketLength(k)));
            }
        }
        return out;
    }

    private static void check(boolean ok, String what) {
        if (!ok) {
            throw new AssertionError(what);
        }
    }
}
