package io.github.cogvideox4j.lora.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * The two forms a checkpoint keeps AdamW moments in, both readable by flat position ({@link FlatMoments}), so a run
 * can resume at any world size from a state saved at any other:
 * <ul>
 *   <li>{@link #replicated}: whole per-parameter tensors {@code adam.exp_avg.<name>} / {@code adam.exp_avg_sq.<name>}
 *       in the checkpoint's tensor file (one process, or plain data parallel, where every rank holds the same
 *       state and rank 0 saves it);</li>
 *   <li>{@link #sharded}: ZeRO-1 shards, one file per rank of the saving run, each holding that rank's flat range of
 *       every bucket of the saved {@link FlatLayout}; only the runs a read needs are mapped.</li>
 * </ul>
 *
 * <p>Thread safety: confined to the restoring thread.
 */
final class SavedMoments {
    /** Checkpoint tensor names of the replicated moments. */
    static final String EXP_AVG = "adam.exp_avg.";
    static final String EXP_AVG_SQ = "adam.exp_avg_sq.";

    private SavedMoments() {}

    /**
     * @param tensors a checkpoint's tensors (moments named {@code adam.exp_avg.<name>}; a parameter without them
     *     reads as zeros, as a parameter that never stepped)
     * @param layout the current parameters' layout (names and sizes must match the saved moments)
     * @param where the checkpoint, for messages
     * @return the moments by flat position
     */
    static FlatMoments replicated(Map<String, NDArray> tensors, FlatLayout layout, Path where) {
        for (int i = 0; i < layout.parameterCount(); i++) {
            String name = layout.names().get(i);
            for (String prefix : new String[] {EXP_AVG, EXP_AVG_SQ}) {
                NDArray a = tensors.get(prefix + name);
                if (a != null && a.size() != layout.numel(i)) {
                    throw new CheckpointException(where + ", tensor '" + prefix + name + "': " + a.size()
                            + " elements, but the parameter has " + layout.numel(i));
                }
            }
        }
        return new FlatMoments() {
            @Override
            public void read(boolean second, long from, float[] dst, int offset, int length) {
                layout.forEachPiece(from, from + length, (p, pOff, fOff, len) -> {
                    NDArray a = tensors.get((second ? EXP_AVG_SQ : EXP_AVG) + layout.names().get(p));
                    int at = Math.toIntExact(offset + fOff - from);
                    if (a == null) {
                        java.util.Arrays.fill(dst, at, Math.toIntExact(at + len), 0f);
                        return;
                    }
                    try (NDManager scope = a.getManager().newSubManager()) {
                        NDArray flat = a.reshape(-1);
                        flat.attach(scope);
                        NDArray piece = flat.get(new NDIndex().addSliceDim(pOff, pOff + len));
                        piece.attach(scope);
                        float[] values = piece.toFloatArray();
                        System.arraycopy(values, 0, dst, at, values.length);
                    }
                });
            }

            @Override
            public void close() {}
        };
    }

    /**
     * @param dir the checkpoint folder
     * @param saved the layout that wrote the shards (its world size is the saving run's)
     * @param shardFiles the file of every saving rank, by rank
     * @return the moments by flat position; close it to release the files
     */
    static FlatMoments sharded(Path dir, FlatLayout saved, String[] shardFiles) {
        return new FlatMoments() {
            private final Map<Integer, SafetensorsReader> readers = new HashMap<>();

            @Override
            public void read(boolean second, long from, float[] dst, int offset, int length) {
                long to = from + length;
                long at = from;
                while (at < to) {
                    int k = Math.toIntExact(at / saved.bucketElements());
                    long s = saved.shardLength(k);
                    int r = Math.toIntExact((at - saved.bucketStart(k)) / s);
                    long shardStart = saved.shardStart(k, r);
                    long end = Math.min(to, shardStart + saved.shardRealLength(k, r));
                    reader(r).readFloats(ShardedAdamW.tensorName(second, k), at - shardStart, dst,
                            Math.toIntExact(offset + at - from), Math.toIntExact(end - at));
                    at = end;
                }
            }

            private SafetensorsReader reader(int rank) {
                return readers.computeIfAbsent(rank, r -> {
                    if (shardFiles[r] == null) {
                        throw new CheckpointException(dir + ": the manifest names no optimizer shard of rank " + r
                                + " of " + saved.worldSize());
                    }
                    try {
                        return SafetensorsReader.open(dir.resolve(shardFiles[r]));
                    } catch (IOException e) {
                        throw new UncheckedIOException(dir.resolve(shardFiles[r]) + ": " + e.getMessage(), e);
                    }
                });
            }

            @Override
            public void close() {
                readers.values().forEach(SafetensorsReader::close);
                readers.clear();
            }
        };
    }
}
