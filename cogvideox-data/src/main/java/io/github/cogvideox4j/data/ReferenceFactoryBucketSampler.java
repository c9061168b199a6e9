package io.github.cogvideox4j.data;

import com.google.common.base.Preconditions;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * A faithful port of the cogvideox-factory {@code BucketSampler} ({@code training/cogvideox/dataset.py}; CogVideo's
 * {@code finetune/datasets/bucket_sampler.py} has the same loop), bugs included, for users who must reproduce a run.
 * Prefer {@link BucketSampler}.
 *
 * <p>Behaviour: the per-bucket lists live in the sampler and persist between epochs. Each epoch walks the dataset in
 * order, appends each item to its bucket, and yields a bucket (shuffled inside if {@code shuffle}) when it reaches the
 * batch size; the yielded bucket is re-created, which moves its key to the end of the dict order. At the end of the
 * walk: with {@code dropLast} the leftovers stay in the sampler (they start the next epoch's buckets); without it,
 * the leftovers are yielded in the current dict order <em>only when {@code shuffle}</em> (the yield sits inside
 * {@code if self.shuffle:}), so {@code shuffle=false} behaves like {@code dropLast=true} and an item can appear twice
 * in one batch of a later epoch. There is no global shuffle. The in-batch shuffles use {@link java.util.Random}, not
 * Python's generator: batch membership and batch order match the reference, the order inside a shuffled batch does
 * not.
 *
 * <p>Thread safety: not thread-safe (stateful, like the reference).
 */
public final class ReferenceFactoryBucketSampler {
    private final List<Bucket> items;
    private final int batchSize;
    private final boolean shuffle;
    private final boolean dropLast;
    private final Random random;
    private final LinkedHashMap<Bucket, List<Integer>> buckets = new LinkedHashMap<>();

    /**
     * @param resolutions the dataset's resolutions, in its order ({@code h} outer, {@code w}, {@code f} inner)
     * @param items the bucket of dataset item {@code k}, in dataset order
     * @param batchSize batch size, positive
     * @param shuffle {@code shuffle}
     * @param dropLast {@code drop_last}
     * @param seed seed of the in-batch shuffles
     * @throws IllegalArgumentException if an item's bucket is not a resolution (the reference raises a KeyError)
     */
    public ReferenceFactoryBucketSampler(List<Bucket> resolutions, List<Bucket> items, int batchSize, boolean shuffle,
            boolean dropLast, long seed) {
        Preconditions.checkArgument(batchSize > 0, "batchSize must be positive, got %s", batchSize);
        for (Bucket r : resolutions) {
            buckets.put(r, new ArrayList<>());
        }
        for (int k = 0; k < items.size(); k++) {
            Preconditions.checkArgument(buckets.containsKey(items.get(k)),
                    "item %s has bucket %s, which is not among the resolutions (the reference raises KeyError)", k,
                    items.get(k));
        }
        this.items = List.copyOf(items);
        this.batchSize = batchSize;
        this.shuffle = shuffle;
        this.dropLast = dropLast;
        this.random = new Random(seed);
    }

    /** @return {@code len(sampler)} = {@code ceil(items / batchSize)} (whatever is actually yielded) */
    public int length() {
        return (items.size() + batchSize - 1) / batchSize;
    }

    /**
     * Runs one {@code __iter__} pass and returns its batches (item ids); advances the sampler's state.
     *
     * @return the batches, in yield order
     */
    public List<int[]> nextEpoch() {
        List<int[]> out = new ArrayList<>();
        for (int k = 0; k < items.size(); k++) {
            Bucket key = items.get(k);
            List<Integer> list = buckets.get(key);
            list.add(k);
            if (list.size() == batchSize) {
                yieldAndReset(key, list, out);
            }
        }
        if (dropLast) {
            return out;
        }
        for (Map.Entry<Bucket, List<Integer>> e : new ArrayList<>(buckets.entrySet())) {
            if (e.getValue().isEmpty()) {
                continue;
            }
            if (shuffle) {
                yieldAndReset(e.getKey(), e.getValue(), out);
            }
        }
        return out;
    }

    private void yieldAndReset(Bucket key, List<Integer> list, List<int[]> out) {
        if (shuffle) {
            Collections.shuffle(list, random);
        }
        out.add(list.stream().mapToInt(Integer::intValue).toArray());
        buckets.remove(key);
        buckets.put(key, new ArrayList<>());
    }
}
