package io.github.cogvideox4j.lora.train;

import static com.google.common.base.Preconditions.checkArgument;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.github.cogvideox4j.core.dist.ProcessGroup;
import io.github.cogvideox4j.lora.NoGrad;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * AdamW with ZeRO-1 sharded optimizer state: every rank keeps the moments of only its shard of every bucket of a
 * {@link FlatLayout} (about {@code 1/W} of them), and updates only those parameters.
 *
 * <p>One step, after the local backward:
 * <ol>
 *   <li>{@link #reduce}: per bucket, the gradients are copied into a reused flat buffer (padded with zeros to a
 *       multiple of {@code W}) and reduce-scattered (average): rank {@code r} receives the averaged gradient of its
 *       shard, kept until the update. Returns this rank's sum of squares, which the caller all-reduces into the
 *       global norm (identical on every rank) for clipping and the non-finite decision;</li>
 *   <li>{@link #apply}: per bucket, the shard's gradient is scaled by the clip coefficient, the shard's parameters
 *       are updated with {@link AdamW}'s element-wise math (the same code as a whole-parameter update, so one rank's
 *       shard moves exactly as the same elements of an unsharded AdamW would), the updated shards are all-gathered
 *       and copied back into every rank's parameters; the gradients are cleared.</li>
 * </ol>
 * Memory per rank: moments {@code 8 · Σ shardLength} bytes ({@link #momentBytes()}), the gradient shards
 * {@code 4 · Σ shardLength}, and two reused buffers of one bucket. Weights are FP32 (the full fine-tune keeps FP32
 * master weights and runs BF16 only inside the GEMMs), so there is no separate master copy to shard. The parameters'
 * own gradients stay whole: DJL's autograd accumulates them into every parameter, so gradient sharding (ZeRO-2) is not
 * available here.
 *
 * <p>Thread safety: not thread-safe; the training thread only. Ownership: the moments and buffers live in this
 * object's manager; {@link #close()} frees them.
 */
public final class ShardedAdamW implements AutoCloseable {
    private final AdamW adamW;
    private final ProcessGroup group;
    private final FlatLayout layout;
    private final FlatBuckets buckets;
    private final NDArray[] gradShards;
    private final NDArray[] expAvg;
    private final NDArray[] expAvgSq;

    ShardedAdamW(AdamW adamW, ProcessGroup group, FlatLayout layout, NDManager parent) {
        checkArgument(layout.worldSize() == group.worldSize(), "layout for %s ranks, group of %s",
                layout.worldSize(), group.worldSize());
        this.adamW = adamW;
        this.group = group;
        this.layout = layout;
        this.buckets = new FlatBuckets(layout, parent);
        int n = layout.bucketCount();
        this.gradShards = new NDArray[n];
        this.expAvg = new NDArray[n];
        this.expAvgSq = new NDArray[n];
        for (int k = 0; k < n; k++) {
            gradShards[k] = buckets.zeros(layout.shardLength(k));
            expAvg[k] = buckets.zeros(layout.shardLength(k));
            expAvgSq[k] = buckets.zeros(layout.shardLength(k));
        }
    }

    /** @return the layout (its world size is the group's) */
    public FlatLayout layout() {
        return layout;
    }

    /** @return bytes of this rank's AdamW moments ({@code exp_avg} and {@code exp_avg_sq}, FP32, padding included) */
    public long momentBytes() {
        return 2L * Float.BYTES * layout.shardElements();
    }

    /** @return bytes of this rank's reduced gradient shards kept between reduce and update */
    public long gradientShardBytes() {
        return (long) Float.BYTES * layout.shardElements();
    }

    /**
     * Reduce-scatters the gradients bucket by bucket (average over the ranks).
     *
     * @param parameters the trainable parameters, in layout order
     * @return this rank's sum of squares of its averaged gradient shards
     */
    double reduce(List<NDArray> parameters) {
        double sumSq = 0;
        try (NoGrad ignored = NoGrad.enter(); NDManager scope = buckets.manager().newSubManager()) {
            List<NDArray> grads = new ArrayList<>(parameters.size());
            for (NDArray p : parameters) {
                grads.add(Gradients.of(p, scope));
            }
            List<NDArray> flat = buckets.flatViews(grads, "gradient", scope);
            for (int k = 0; k < layout.bucketCount(); k++) {
                long start = layout.bucketStart(k);
                NDArray buffer = buckets.buffer(0, layout.paddedLength(k));
                buckets.gather(flat, start, start + layout.bucketLength(k), buffer, 0, scope);
                group.reduceScatter(ProcessGroup.ReduceOp.AVERAGE, buffer, gradShards[k]);
                sumSq += FlatBuckets.sumOfSquares(gradShards[k], 0, gradShards[k].size(), scope);
            }
        }
        return sumSq;
    }

    /**
     * Clips, updates this rank's shards, all-gathers the parameters and clears the gradients.
     *
     * @param parameters the trainable parameters, in layout order (updated in place on every rank)
     * @param clipCoefficient the factor for the gradient shards when it is below 1 (1: no clipping)
     */
    void apply(List<NDArray> parameters, float clipCoefficient) {
        long t = adamW.beginStep();
        int rank = group.rank();
        try (NoGrad ignored = NoGrad.enter(); NDManager scope = buckets.manager().newSubManager()) {
            List<NDArray> flat = buckets.flatViews(parameters, "parameter", scope);
            for (int k = 0; k < layout.bucketCount(); k++) {
                long s = layout.shardLength(k);
                long mine = layout.shardStart(k, rank);
                long real = layout.shardRealLength(k, rank);
                // this rank's parameters (padding: zeros, which the update keeps at zero)
                NDArray shard = buckets.buffer(1, s);
                buckets.gather(flat, mine, mine + real, shard, 0, scope);
                if (clipCoefficient < 1f) {
                    gradShards[k].muli(clipCoefficient);
                }
                try (NDManager step = scope.newSubManager()) {
                    adamW.update(shard, gradShards[k], expAvg[k], expAvgSq[k], t, step);
                }
                NDArray whole = buckets.buffer(0, layout.paddedLength(k));
                group.allGather(shard, whole);
                long start = layout.bucketStart(k);
                buckets.scatter(whole, 0, start, start + layout.bucketLength(k), flat, scope);
            }
        }
        parameters.forEach(Gradients::clear);
    }

    /**
     * @return this rank's moments as checkpoint tensors: {@code exp_avg.bucket-<k>} and {@code exp_avg_sq.bucket-<k>}
     *     (FLOAT32, {@code [shardLength(k)]}); live arrays, not copies — read them before the next step
     */
    public Map<String, NDArray> shardTensors() {
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (int k = 0; k < layout.bucketCount(); k++) {
            out.put(tensorName(false, k), expAvg[k]);
            out.put(tensorName(true, k), expAvgSq[k]);
        }
        return out;
    }

    /**
     * @param second the second moment
     * @param bucket a bucket
     * @return the name of that moment's shard tensor in a rank's shard file
     */
    static String tensorName(boolean second, int bucket) {
        return (second ? "exp_avg_sq" : "exp_avg") + ".bucket-" + String.format(Locale.ROOT, "%05d", bucket);
    }

    /**
     * Replaces this rank's moments with its part of a saved state, read by flat position (a state saved at any
     * world size).
     *
     * @param source the saved moments
     */
    void load(FlatMoments source) {
        int rank = group.rank();
        for (int k = 0; k < layout.bucketCount(); k++) {
            int s = Math.toIntExact(layout.shardLength(k));
            int real = Math.toIntExact(layout.shardRealLength(k, rank));
            long from = layout.shardStart(k, rank);
            for (boolean second : new boolean[] {false, true}) {
                float[] values = new float[s];
                source.read(second, from, values, 0, real);
                (second ? expAvgSq : expAvg)[k].set(FloatBuffer.wrap(values));
            }
        }
    }

    @Override
    public void close() {
        buckets.close();
    }
}
