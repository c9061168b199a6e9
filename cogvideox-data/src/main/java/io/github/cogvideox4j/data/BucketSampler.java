package io.github.cogvideox4j.data;

import com.google.common.base.Preconditions;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.BitSet;
import java.util.AbstractList;
import java.util.RandomAccess;
import java.util.List;

/**
 * Plans the batches of every epoch: seeded, resumable, never mixing buckets or images with videos.
 *
 * <p>Epoch {@code e} is a pure function of (samples, config, e):
 * <ol>
 *   <li>samples are grouped by (bucket, image or video); groups are ordered by (video before image, frames, height,
 *       width) and samples inside a group by dataset index, so the input order does not matter;</li>
 *   <li>a SplitMix64 stream seeded from {@code (seed, e)} shuffles each group, which is cut into batches of
 *       {@code batchSize} (the remainder is dropped or kept as one smaller batch, per {@link DropLastPolicy});</li>
 *   <li>the same stream shuffles the order of all batches together (a global shuffle: buckets interleave at random,
 *       unlike the reference samplers that walk the dataset in order).</li>
 * </ol>
 * Every sample appears exactly once per epoch, or in {@link #droppedSamples(int)}. Resuming at
 * {@code (epoch, position)} ({@link #resume}) gives exactly the rest of the same sequence.
 *
 * <p>Data parallel: the sampler is not sharded. A data-parallel run plans global batches ({@code batchSize} = the
 * global batch) and every rank takes its slice of each (see {@link SamplerConfig}), so the sequence depends only on
 * the seed and the global batch size.
 *
 * <p>Thread safety: immutable; methods may be called from any thread.
 */
public final class BucketSampler {
    private final SamplerConfig config;
    /** Group keys in canonical order. */
    private final Bucket[] groupBuckets;
    private final boolean[] groupImage;
    /** CSR: group g's samples are members[groupStart[g] .. groupStart[g+1]), ascending. */
    private final int[] groupStart;
    private final int[] members;
    private final int batchesPerEpoch;
    private final int droppedPerEpoch;

    /**
     * @param samples every sample with its bucket and kind; indices unique; not empty
     * @param config batch size, seed, drop-last policy and shard
     * @throws IllegalArgumentException on duplicate sample indices or an empty list
     */
    public BucketSampler(List<BucketedSample> samples, SamplerConfig config) {
        this(indices(samples), buckets(samples), images(samples), true, config);
    }

    /**
     * The allocation-free form for large datasets: sample {@code i} has dataset index {@code i}.
     *
     * @param bucketOfSample the bucket of every sample, not empty, no nulls
     * @param isImage whether each sample is an image (same length)
     * @param config batch size, seed, drop-last policy and shard
     * @return the sampler
     * @throws IllegalArgumentException if the arrays are empty or differ in length
     */
    public static BucketSampler of(Bucket[] bucketOfSample, boolean[] isImage, SamplerConfig config) {
        Preconditions.checkArgument(bucketOfSample.length == isImage.length,
                "%s buckets but %s image flags", bucketOfSample.length, isImage.length);
        int[] indices = new int[bucketOfSample.length];
        for (int i = 0; i < indices.length; i++) {
            indices[i] = i;
        }
        return new BucketSampler(indices, bucketOfSample, isImage, false, config);
    }

    private static int[] indices(List<BucketedSample> samples) {
        Preconditions.checkArgument(samples != null, "samples is null");
        return samples.stream().mapToInt(BucketedSample::sampleIndex).toArray();
    }

    private static Bucket[] buckets(List<BucketedSample> samples) {
        return samples.stream().map(BucketedSample::bucket).toArray(Bucket[]::new);
    }

    private static boolean[] images(List<BucketedSample> samples) {
        boolean[] out = new boolean[samples.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = samples.get(i).image();
        }
        return out;
    }

    private BucketSampler(int[] indexOf, Bucket[] bucketOf, boolean[] imageOf, boolean checkUnique,
            SamplerConfig config) {
        this.config = Preconditions.checkNotNull(config, "config");
        int n = indexOf.length;
        Preconditions.checkArgument(n > 0, "no samples to sample from");
        GroupTable table = new GroupTable();
        int[] groupOf = new int[n];
        BitSet seen = checkUnique ? new BitSet() : null;
        for (int i = 0; i < n; i++) {
            int idx = indexOf[i];
            if (checkUnique) {
                Preconditions.checkArgument(idx >= 0, "sample index %s is negative", idx);
                Preconditions.checkArgument(!seen.get(idx), "sample index %s appears twice", idx);
                seen.set(idx);
            }
            Bucket bucket = bucketOf[i];
            if (bucket == null) {
                throw new IllegalArgumentException("sample " + idx + " has no bucket");
            }
            groupOf[i] = table.groupOf(bucket, imageOf[i]);
        }
        List<Bucket> keys = table.keys;
        List<Boolean> keyImage = table.keyImage;
        int[] counts = table.counts;
        int groups = keys.size();
        Integer[] order = new Integer[groups];
        for (int g = 0; g < groups; g++) {
            order[g] = g;
        }
        Arrays.sort(order, (a, b) -> {
            int c = Boolean.compare(keyImage.get(a), keyImage.get(b));
            if (c != 0) {
                return c;
            }
            Bucket x = keys.get(a);
            Bucket y = keys.get(b);
            c = Integer.compare(x.frames(), y.frames());
            if (c == 0) {
                c = Integer.compare(x.height(), y.height());
            }
            return c != 0 ? c : Integer.compare(x.width(), y.width());
        });
        int[] rankOfGroup = new int[groups];
        this.groupBuckets = new Bucket[groups];
        this.groupImage = new boolean[groups];
        this.groupStart = new int[groups + 1];
        for (int r = 0; r < groups; r++) {
            int g = order[r];
            rankOfGroup[g] = r;
            groupBuckets[r] = keys.get(g);
            groupImage[r] = keyImage.get(g);
            groupStart[r + 1] = groupStart[r] + counts[g];
        }
        this.members = new int[n];
        int[] fill = Arrays.copyOf(groupStart, groups);
        for (int i = 0; i < n; i++) {
            members[fill[rankOfGroup[groupOf[i]]]++] = indexOf[i];
        }
        for (int r = 0; r < groups; r++) {
            sortIfNeeded(members, groupStart[r], groupStart[r + 1]);
        }
        int b = config.batchSize();
        int total = 0;
        for (int r = 0; r < groups; r++) {
            int size = groupStart[r + 1] - groupStart[r];
            total += size / b + (config.dropLast() == DropLastPolicy.KEEP_PARTIAL && size % b != 0 ? 1 : 0);
        }
        this.batchesPerEpoch = total;
        this.droppedPerEpoch = report().droppedPerEpoch();
    }

    private static void sortIfNeeded(int[] a, int from, int to) {
        for (int i = from + 1; i < to; i++) {
            if (a[i - 1] > a[i]) {
                Arrays.sort(a, from, to);
                return;
            }
        }
    }

    /** @return the settings */
    public SamplerConfig config() {
        return config;
    }

    /** @return number of samples */
    public int sampleCount() {
        return members.length;
    }

    /** @return batches (optimizer steps) per epoch; the same for every epoch */
    public int stepsPerEpoch() {
        return batchesPerEpoch;
    }

    /**
     * The batches of one epoch, in order.
     *
     * @param epoch epoch number, non-negative
     * @return an unmodifiable list of {@link #stepsPerEpoch()} batches
     */
    public List<BatchPlan> epoch(int epoch) {
        return resume(epoch, 0);
    }

    /**
     * The rest of an epoch from a saved position: identical to {@code epoch(epoch).subList(position, ...)}.
     *
     * @param epoch epoch number, non-negative
     * @param position the next step to run, in {@code [0, stepsPerEpoch()]}
     * @return an unmodifiable list of {@code stepsPerEpoch() - position} batches
     */
    public List<BatchPlan> resume(int epoch, int position) {
        Preconditions.checkArgument(position >= 0 && position <= batchesPerEpoch,
                "position %s out of [0, %s]", position, batchesPerEpoch);
        return new PlanList(plan(epoch), epoch, position);
    }

    /** The batches of one epoch from a position: a read-only view over the plan's primitive arrays. */
    private final class PlanList extends AbstractList<BatchPlan> implements RandomAccess {
        private final Plan plan;
        private final int epoch;
        private final int from;

        PlanList(Plan plan, int epoch, int from) {
            this.plan = plan;
            this.epoch = epoch;
            this.from = from;
        }

        @Override
        public BatchPlan get(int i) {
            java.util.Objects.checkIndex(i, size());
            int step = from + i;
            int k = plan.order[step];
            int g = plan.batchGroup[k];
            return new BatchPlan(epoch, step, groupBuckets[g], groupImage[g], plan.perm, plan.batchOffset[k],
                    plan.batchSize[k]);
        }

        @Override
        public int size() {
            return batchesPerEpoch - from;
        }
    }

    /**
     * Samples not planned in an epoch (each bucket's remainder under {@link DropLastPolicy#DROP_PARTIAL}).
     *
     * @param epoch epoch number, non-negative
     * @return dataset indices, ascending
     */
    public int[] droppedSamples(int epoch) {
        Plan plan = plan(epoch);
        int[] out = Arrays.copyOf(plan.dropped, plan.droppedCount);
        Arrays.sort(out);
        return out;
    }

    /** @return the per-bucket report (counts, batches, drops, steps per epoch) */
    public BucketReport report() {
        int b = config.batchSize();
        boolean keep = config.dropLast() == DropLastPolicy.KEEP_PARTIAL;
        List<BucketReport.Row> rows = new ArrayList<>();
        int droppedPartial = 0;
        for (int g = 0; g < groupBuckets.length; g++) {
            int size = groupStart[g + 1] - groupStart[g];
            int rem = size % b;
            rows.add(new BucketReport.Row(groupBuckets[g], groupImage[g], size, size / b, keep ? rem : 0,
                    keep ? 0 : rem));
            if (!keep) {
                droppedPartial += rem;
            }
        }
        return new BucketReport(rows, members.length, b, config.dropLast(), batchesPerEpoch, droppedPartial);
    }

    /** (bucket, kind) -> dense group id: open addressing over the three sizes and the kind, no boxing per sample. */
    private static final class GroupTable {
        final List<Bucket> keys = new ArrayList<>();
        final List<Boolean> keyImage = new ArrayList<>();
        int[] counts = new int[16];
        private int[] slots = new int[64]; // group id + 1, 0 = empty
        private Bucket[] slotBucket = new Bucket[64];
        private boolean[] slotImage = new boolean[64];

        int groupOf(Bucket b, boolean image) {
            int mask = slots.length - 1;
            int h = (int) SplitMix64.mix64(((long) b.frames() * 0x9E3779B1L + b.height()) * 0x85EBCA77L + b.width()
                    + (image ? 0x27D4EB2FL : 0));
            for (int i = h & mask; ; i = (i + 1) & mask) {
                int v = slots[i];
                if (v == 0) {
                    int g = keys.size();
                    keys.add(b);
                    keyImage.add(image);
                    if (g == counts.length) {
                        counts = Arrays.copyOf(counts, 2 * g);
                    }
                    counts[g]++;
                    slots[i] = g + 1;
                    slotBucket[i] = b;
                    slotImage[i] = image;
                    if (2 * keys.size() > slots.length) {
                        grow();
                    }
                    return g;
                }
                Bucket sb = slotBucket[i];
                if (slotImage[i] == image && (sb == b || sb.frames() == b.frames() && sb.height() == b.height()
                        && sb.width() == b.width())) {
                    counts[v - 1]++;
                    return v - 1;
                }
            }
        }

        private void grow() {
            int[] oldSlots = slots;
            Bucket[] oldBuckets = slotBucket;
            boolean[] oldImages = slotImage;
            slots = new int[oldSlots.length * 2];
            slotBucket = new Bucket[slots.length];
            slotImage = new boolean[slots.length];
            int mask = slots.length - 1;
            for (int j = 0; j < oldSlots.length; j++) {
                if (oldSlots[j] == 0) {
                    continue;
                }
                Bucket b = oldBuckets[j];
                int h = (int) SplitMix64.mix64(((long) b.frames() * 0x9E3779B1L + b.height()) * 0x85EBCA77L
                        + b.width() + (oldImages[j] ? 0x27D4EB2FL : 0));
                int i = h & mask;
                while (slots[i] != 0) {
                    i = (i + 1) & mask;
                }
                slots[i] = oldSlots[j];
                slotBucket[i] = b;
                slotImage[i] = oldImages[j];
            }
        }
    }

    /** The whole epoch, in primitive arrays. */
    private static final class Plan {
        int[] perm;
        int[] batchOffset;
        int[] batchSize;
        int[] batchGroup;
        /** Batch ids in shuffled order. */
        int[] order;
        int[] dropped;
        int droppedCount;
    }

    private Plan plan(int epoch) {
        Preconditions.checkArgument(epoch >= 0, "epoch must be non-negative, got %s", epoch);
        SplitMix64 rng = new SplitMix64(SplitMix64.mix(config.seed(), epoch));
        int b = config.batchSize();
        boolean keep = config.dropLast() == DropLastPolicy.KEEP_PARTIAL;
        Plan p = new Plan();
        p.perm = members.clone();
        p.batchOffset = new int[batchesPerEpoch];
        p.batchSize = new int[batchesPerEpoch];
        p.batchGroup = new int[batchesPerEpoch];
        p.dropped = new int[droppedPerEpoch];
        int nb = 0;
        for (int g = 0; g < groupBuckets.length; g++) {
            int from = groupStart[g];
            int to = groupStart[g + 1];
            rng.shuffle(p.perm, from, to);
            int pos = from;
            for (; pos + b <= to; pos += b) {
                p.batchOffset[nb] = pos;
                p.batchSize[nb] = b;
                p.batchGroup[nb++] = g;
            }
            if (pos < to) {
                if (keep) {
                    p.batchOffset[nb] = pos;
                    p.batchSize[nb] = to - pos;
                    p.batchGroup[nb++] = g;
                } else {
                    System.arraycopy(p.perm, pos, p.dropped, p.droppedCount, to - pos);
                    p.droppedCount += to - pos;
                }
            }
        }
        p.order = new int[nb];
        for (int i = 0; i < nb; i++) {
            p.order[i] = i;
        }
        rng.shuffle(p.order, 0, nb);
        return p;
    }

    @Override
    public String toString() {
        return "BucketSampler[" + members.length + " samples, " + groupBuckets.length + " groups, " + config + "]";
    }
}
