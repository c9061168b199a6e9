package io.github.cogvideox4j.data;

import java.util.List;
import java.util.Locale;

/**
 * What a {@link BucketSampler} will do each epoch, per bucket: the report to read before training. All numbers are
 * the same for every epoch (which samples are dropped changes, how many does not). {@link #format()} renders it:
 * <pre>
 * kind   bucket (FxHxW)     samples   batches  partial  dropped
 * video  33x480x720              85        21        -        1
 * video  49x480x720             364        91        -        0
 * video  49x720x480             160        40        -        0
 * video  49x768x1360            143        35        -        3
 * image  1x480x720               51        12        -        3
 * image  1x768x1360              24         6        -        0
 * total                         827       205        -        7
 * batch size 4, drop-last DROP_PARTIAL, 2 ranks: 102 steps per epoch per rank; rank balancing drops 1 batch
 * (4 samples); dropped per epoch: 11 samples (1.33%)
 * </pre>
 * ("partial" is the size of the smaller batch kept under {@link DropLastPolicy#KEEP_PARTIAL}.)
 *
 * <p>Thread safety: immutable.
 *
 * @param rows one row per (bucket, kind), videos first, then by frames, height, width
 * @param samples all samples
 * @param batchSize samples per batch
 * @param dropLast the drop-last policy
 * @param worldSize ranks
 * @param batchesPerEpoch batches formed per epoch over all ranks, before rank balancing
 * @param rankBalanceBatches batches dropped per epoch so that every rank runs the same number of steps
 * @param rankBalanceSamples samples in those batches
 * @param droppedPerEpoch samples no rank sees per epoch (remainders plus rank balancing)
 * @param stepsPerEpoch steps per epoch of each rank
 */
public record BucketReport(List<Row> rows, int samples, int batchSize, DropLastPolicy dropLast, int worldSize,
        int batchesPerEpoch, int rankBalanceBatches, int rankBalanceSamples, int droppedPerEpoch, int stepsPerEpoch) {

    /** Copies the rows. */
    public BucketReport {
        rows = List.copyOf(rows);
    }

    /**
     * One (bucket, kind) group.
     *
     * @param bucket the bucket
     * @param image true for images
     * @param samples samples in the group
     * @param fullBatches full batches per epoch
     * @param partialBatchSize size of the kept smaller batch ({@link DropLastPolicy#KEEP_PARTIAL}), 0 if none
     * @param droppedRemainder samples dropped per epoch as the remainder ({@link DropLastPolicy#DROP_PARTIAL})
     */
    public record Row(Bucket bucket, boolean image, int samples, int fullBatches, int partialBatchSize,
            int droppedRemainder) {
        /** @return batches per epoch, the smaller one included */
        public int batches() {
            return fullBatches + (partialBatchSize > 0 ? 1 : 0);
        }
    }

    /** @return the table and summary shown in the class comment */
    public String format() {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%-6s %-16s %9s %9s %8s %8s%n", "kind", "bucket (FxHxW)", "samples",
                "batches", "partial", "dropped"));
        int batches = 0;
        int partials = 0;
        int remainders = 0;
        for (Row r : rows) {
            sb.append(String.format(Locale.ROOT, "%-6s %-16s %9d %9d %8s %8d%n", r.image() ? "image" : "video",
                    r.bucket(), r.samples(), r.batches(), r.partialBatchSize() > 0 ? r.partialBatchSize() : "-",
                    r.droppedRemainder()));
            batches += r.batches();
            partials += r.partialBatchSize() > 0 ? 1 : 0;
            remainders += r.droppedRemainder();
        }
        sb.append(String.format(Locale.ROOT, "%-6s %-16s %9d %9d %8s %8d%n", "total", "", samples, batches,
                "-", remainders));
        sb.append(String.format(Locale.ROOT, "batch size %d, drop-last %s, %d rank%s: %d steps per epoch per rank;",
                batchSize, dropLast, worldSize, worldSize == 1 ? "" : "s", stepsPerEpoch));
        if (partials > 0) {
            sb.append(String.format(Locale.ROOT, " %d smaller batch%s kept;", partials, partials == 1 ? "" : "es"));
        }
        if (rankBalanceBatches > 0) {
            sb.append(String.format(Locale.ROOT, " rank balancing drops %d batch%s (%d samples);", rankBalanceBatches,
                    rankBalanceBatches == 1 ? "" : "es", rankBalanceSamples));
        }
        sb.append(String.format(Locale.ROOT, " dropped per epoch: %d samples (%.2f%%)", droppedPerEpoch,
                samples == 0 ? 0.0 : 100.0 * droppedPerEpoch / samples));
        return sb.toString();
    }

    @Override
    public String toString() {
        return format();
    }
}
