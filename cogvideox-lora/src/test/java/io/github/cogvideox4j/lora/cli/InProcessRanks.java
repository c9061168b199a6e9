package io.github.cogvideox4j.lora.cli;

import ai.djl.ndarray.NDArray;
import io.github.cogvideox4j.core.dist.ProcessGroup;
import io.github.cogvideox4j.core.dist.ProcessGroupException;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * The ranks of a group as threads of one JVM, for testing code that only needs {@link ProcessGroup#barrier()}: a
 * {@link CyclicBarrier} in place of the engine. The collectives that move data are not supported. A barrier waits
 * at most two minutes; {@link #abort()} breaks it for the ranks still waiting (call it when a rank fails).
 */
final class InProcessRanks {
    private final int world;
    private final CyclicBarrier barrier;

    InProcessRanks(int world) {
        this.world = world;
        this.barrier = new CyclicBarrier(world);
    }

    /** Makes every rank waiting in (or later entering) the barrier fail. */
    void abort() {
        barrier.reset();
    }

    ProcessGroup rank(int rank) {
        return new ProcessGroup() {
            @Override
            public int rank() {
                return rank;
            }

            @Override
            public int worldSize() {
                return world;
            }

            @Override
            public int localRank() {
                return rank;
            }

            @Override
            public void allReduce(ReduceOp op, NDArray... inPlace) {
                throw new UnsupportedOperationException("allReduce");
            }

            @Override
            public void allReduce(ReduceOp op, double[] values) {
                throw new UnsupportedOperationException("allReduce");
            }

            @Override
            public void broadcast(int root, NDArray... inPlace) {
                throw new UnsupportedOperationException("broadcast");
            }

            @Override
            public void reduceScatter(ReduceOp op, NDArray input, NDArray output) {
                throw new UnsupportedOperationException("reduceScatter");
            }

            @Override
            public void allGather(NDArray input, NDArray output) {
                throw new UnsupportedOperationException("allGather");
            }

            @Override
            public void barrier() {
                try {
                    barrier.await(2, TimeUnit.MINUTES);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new ProcessGroupException("rank " + rank + ": interrupted in a barrier", -1, e);
                } catch (BrokenBarrierException | TimeoutException e) {
                    throw new ProcessGroupException("rank " + rank + ": barrier broken or timed out", -1, e);
                }
            }

            @Override
            public void close() {}
        };
    }
}
