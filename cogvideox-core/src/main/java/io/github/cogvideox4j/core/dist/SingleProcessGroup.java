package io.github.cogvideox4j.core.dist;

import ai.djl.ndarray.NDArray;
import com.google.common.base.Preconditions;

/** The world of one process: collectives leave their arrays as they are. Stateless and thread-safe. */
final class SingleProcessGroup implements ProcessGroup {
    static final SingleProcessGroup INSTANCE = new SingleProcessGroup();

    private SingleProcessGroup() {}

    @Override
    public int rank() {
        return 0;
    }

    @Override
    public int worldSize() {
        return 1;
    }

    @Override
    public int localRank() {
        return 0;
    }

    @Override
    public void allReduce(ReduceOp op, NDArray... inPlace) {
        Preconditions.checkNotNull(op, "op");
    }

    @Override
    public void allReduce(ReduceOp op, double[] values) {
        Preconditions.checkNotNull(op, "op");
        Preconditions.checkNotNull(values, "values");
    }

    @Override
    public void broadcast(int root, NDArray... inPlace) {
        Preconditions.checkArgument(root == 0, "root %s out of [0, 1)", root);
    }

    @Override
    public void reduceScatter(ReduceOp op, NDArray input, NDArray output) {
        Preconditions.checkArgument(input.size() == output.size(), "reduceScatter over 1 rank: input has %s "
                + "elements, output %s", input.size(), output.size());
        output.set(input.toByteBuffer());
    }

    @Override
    public void allGather(NDArray input, NDArray output) {
        Preconditions.checkArgument(input.size() == output.size(), "allGather over 1 rank: input has %s "
                + "elements, output %s", input.size(), output.size());
        output.set(input.toByteBuffer());
    }

    @Override
    public void barrier() {}

    @Override
    public void close() {}

    @Override
    public String toString() {
        return "ProcessGroup[single]";
    }
}
