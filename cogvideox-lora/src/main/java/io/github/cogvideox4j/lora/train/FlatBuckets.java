package io.github.cogvideox4j.lora.train;

import static com.google.common.base.Preconditions.checkArgument;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The flat FLOAT32 buffers the collectives work on, and the copies between them and the parameters (or their
 * gradients) that a {@link FlatLayout} describes. One helper for both data-parallel modes: the replicated all-reduce
 * and the ZeRO-1 reduce-scatter / all-gather.
 *
 * <p>Copies run in the engine ({@code buffer[a:b] = array.flat[c:d]}), never through Java arrays. Buffers are
 * allocated once per distinct length in this object's manager and reused every step; {@link #close()} frees them.
 *
 * <p>Thread safety: not thread-safe; the training thread only.
 */
final class FlatBuckets implements AutoCloseable {
    private final FlatLayout layout;
    private final NDManager manager;
    /** Reused buffers by (slot, length): slot 0 holds whole buckets, slot 1 one rank's shard of a bucket. */
    private final Map<List<Long>, NDArray> buffers = new HashMap<>();

    FlatBuckets(FlatLayout layout, NDManager parent) {
        this.layout = layout;
        this.manager = parent.newSubManager();
    }

    FlatLayout layout() {
        return layout;
    }

    /** The manager this object's long-lived arrays live in. */
    NDManager manager() {
        return manager;
    }

    /**
     * @param slot which buffer (0: whole buckets, 1: shards), so that two buffers in use together never alias
     * @param length its elements
     * @return a reused FLOAT32 buffer (zeros when first made; one per slot and length)
     */
    NDArray buffer(int slot, long length) {
        return buffers.computeIfAbsent(List.of((long) slot, length),
                key -> manager.zeros(new Shape(length), DataType.FLOAT32));
    }

    /** @return a new FLOAT32 array of zeros owned by this object (for state that lives as long as it does) */
    NDArray zeros(long length) {
        return manager.zeros(new Shape(length), DataType.FLOAT32);
    }

    /**
     * Flat 1-D views of the arrays (parameters or gradients), checked to be FLOAT32 with the layout's sizes.
     *
     * @param arrays in layout order
     * @param what "parameter" or "gradient", for messages
     * @param scope owns the views
     * @return the views (same storage)
     */
    List<NDArray> flatViews(List<NDArray> arrays, String what, NDManager scope) {
        checkArgument(arrays.size() == layout.parameterCount(), "%s %ss for a layout of %s parameters",
                arrays.size(), what, layout.parameterCount());
        List<NDArray> out = new ArrayList<>(arrays.size());
        for (int i = 0; i < arrays.size(); i++) {
            NDArray a = arrays.get(i);
            if (a.getDataType() != DataType.FLOAT32) {
                throw new IllegalArgumentException("the " + what + " of " + layout.names().get(i) + " is "
                        + a.getDataType() + ": the collectives reduce FLOAT32 only (train in fp32 master weights)");
            }
            checkArgument(a.size() == layout.numel(i), "the %s of %s has %s elements, the layout %s", what,
                    layout.names().get(i), a.size(), layout.numel(i));
            NDArray v = a.reshape(-1);
            v.attach(scope);
            out.add(v);
        }
        return out;
    }

    /**
     * Copies the flat range {@code [from, to)} of the arrays into {@code buffer} starting at element
     * {@code at}, and zeros the buffer from {@code at + (to - from)} to its end (the padding).
     */
    void gather(List<NDArray> flat, long from, long to, NDArray buffer, long at, NDManager scope) {
        layout.forEachPiece(from, to, (p, pOff, fOff, len) -> {
            long b = at + fOff - from;
            NDArray piece = flat.get(p).get(new NDIndex().addSliceDim(pOff, pOff + len));
            piece.attach(scope);
            buffer.set(new NDIndex().addSliceDim(b, b + len), piece);
        });
        long end = at + (to - from);
        if (end < buffer.size()) {
            buffer.set(new NDIndex().addSliceDim(end, buffer.size()), 0f);
        }
    }

    /** Copies {@code buffer[at, at + (to - from))} back into the flat range {@code [from, to)} of the arrays. */
    void scatter(NDArray buffer, long at, long from, long to, List<NDArray> flat, NDManager scope) {
        layout.forEachPiece(from, to, (p, pOff, fOff, len) -> {
            long b = at + fOff - from;
            NDArray piece = buffer.get(new NDIndex().addSliceDim(b, b + len));
            piece.attach(scope);
            flat.get(p).set(new NDIndex().addSliceDim(pOff, pOff + len), piece);
        });
    }

    /**
     * @return the sum of squares of {@code buffer[from, to)} (FP32 sums added in double), 0 for an empty range
     */
    static double sumOfSquares(NDArray buffer, long from, long to, NDManager scope) {
        if (to <= from) {
            return 0;
        }
        NDArray part = buffer.get(new NDIndex().addSliceDim(from, to));
        part.attach(scope);
        NDArray sq = part.square();
        sq.attach(scope);
        NDArray sum = sq.sum();
        sum.attach(scope);
        return sum.getFloat();
    }

    @Override
    public void close() {
        buffers.clear();
        manager.close();
    }
}
