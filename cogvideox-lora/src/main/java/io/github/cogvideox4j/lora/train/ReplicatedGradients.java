package io.github.cogvideox4j.lora.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.github.cogvideox4j.core.dist.ProcessGroup;
import io.github.cogvideox4j.lora.NoGrad;
import java.util.ArrayList;
import java.util.List;

/**
 * Plain data parallel: every rank keeps all parameters and the whole optimizer state; the gradients are averaged
 * over the ranks in flat buckets ({@link FlatLayout}) and written back into the parameters' gradients, so that the
 * same AdamW update runs on every rank.
 *
 * <p>Per bucket: the gradients are copied into one reused FLOAT32 buffer, all-reduced (average) in place, and copied
 * back. {@link #reduce} also returns this rank's part of the squared global norm — the sum of squares of its shard
 * range of every reduced bucket — so that the caller can sum it over the ranks with one more all-reduce: every rank
 * then holds the same norm bit for bit and takes the same clip and skip decisions.
 *
 * <p>Thread safety: not thread-safe; the training thread only.
 */
final class ReplicatedGradients implements AutoCloseable {
    private final ProcessGroup group;
    private final FlatBuckets buckets;

    ReplicatedGradients(ProcessGroup group, FlatLayout layout, NDManager parent) {
        this.group = group;
        this.buckets = new FlatBuckets(layout, parent);
    }

    /**
     * Averages the parameters' gradients over the ranks, in place.
     *
     * @param parameters the trainable parameters, in layout order
     * @return this rank's share of the squared norm of the averaged gradients
     */
    double reduce(List<NDArray> parameters) {
        FlatLayout layout = buckets.layout();
        double sumSq = 0;
        try (NoGrad ignored = NoGrad.enter(); NDManager scope = buckets.manager().newSubManager()) {
            List<NDArray> grads = new ArrayList<>(parameters.size());
            for (NDArray p : parameters) {
                grads.add(Gradients.of(p, scope));
            }
            List<NDArray> flat = buckets.flatViews(grads, "gradient", scope);
            for (int k = 0; k < layout.bucketCount(); k++) {
                long start = layout.bucketStart(k);
                long end = start + layout.bucketLength(k);
                NDArray buffer = buckets.buffer(0, layout.paddedLength(k));
                buckets.gather(flat, start, end, buffer, 0, scope);
                group.allReduce(ProcessGroup.ReduceOp.AVERAGE, buffer);
                long mine = layout.shardStart(k, group.rank()) - start;
                sumSq += FlatBuckets.sumOfSquares(buffer, mine, mine + layout.shardRealLength(k, group.rank()),
                        scope);
                buckets.scatter(buffer, 0, start, end, flat, scope);
            }
        }
        return sumSq;
    }

    @Override
    public void close() {
        buckets.close();
    }
}
