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
 * batch size 4, drop-last DROP_PARTIAL: 205 steps per epoch; dropped per epoch: 7 samples (0.85%)
 * </pre>
 * ("partial" is the size of the smaller batch kept under {@link DropLastPolicy#KEEP_PARTIAL}.) In a data-parallel run
 * the batch size is the global batch, which the ranks share.
 *
 * <p>Thread safety: immutable.
 *
 * @param rows one row per (bucket, kind), videos first, then by frames, height, width
 * @param samples all samples
 * @param batchSize samples per batch
 * @param dropLast the drop-last policy
 * @param stepsPerEpoch batches (optimizer steps) per epoch
 * @param droppedPerEpoch samples not planned per epoch (the remainders under {@link DropLastPolicy#DROP_PARTIAL})
 */
public record BucketReport(List<Row> rows, int samples, int batchSize, DropLastPolicy dropLast, int stepsPerEpoch,
        int droppedPerEpoch) {

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
        sb.append(String.format(Locale.ROOT, "batch size %d, drop-last %s: %d steps per epoch;", batchSize, dropLast,
                stepsPerEpoch));
        if (partials > 0) {
            sb.append(String.format(Locale.ROOT, " %d smaller batch%s kept;", partials, partials == 1 ? "" : "es"));
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
