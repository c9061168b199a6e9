package io.github.cogvideox4j.core.dist;

import ai.djl.ndarray.NDArray;
import com.google.common.base.Preconditions;
import java.time.Duration;

/**
 * A fixed group of {@link #worldSize()} processes ("ranks") that run collectives together: the one seam between the
 * training code and a collective engine (Gloo over TCP here; NCCL or Gloo-staged GPU tensors behind the same
 * interface, see {@code docs/distributed.md}).
 *
 * <p><b>Ranks.</b> Rank {@code 0} is the coordinator: it hosts the rendezvous store and is the only rank that speaks
 * (metrics, progress, exports). Ranks are numbered {@code 0 .. worldSize-1} across all machines; {@link #localRank()}
 * numbers the ranks of one machine.
 *
 * <p><b>Blocking.</b> Every collective blocks until all ranks have called it (in the same order, with arrays of the
 * same shape and dtype on every rank) and its result is in place, or until the group's timeout passes. A lost rank
 * (its process died, its connection closed) or a timeout fails the call with a {@link ProcessGroupException} that
 * names the rank that was lost when it can be known; the group is then broken and every later call fails at once.
 * No call waits without end.
 *
 * <p><b>Arrays.</b> Collectives work in place on contiguous CPU arrays of FLOAT32 (and FLOAT64 where stated) owned by
 * the caller: nothing is allocated in the caller's managers and no array is closed. An array of another dtype or
 * device is refused in Java with an {@link IllegalArgumentException} before any native call. Do not call a
 * collective inside a {@code GradientCollector} on arrays that require gradients.
 *
 * <p><b>Thread safety.</b> Not thread-safe: call collectives from one thread per process (DJL's one-collector rule
 * makes training single-threaded anyway). {@link #close()} may be called from any thread and makes blocked calls
 * fail.
 *
 * <p><b>Ownership.</b> The group owns its sockets, native context and (on rank 0) the rendezvous server;
 * {@link #close()} frees them. Closing a single-process group does nothing.
 */
public interface ProcessGroup extends AutoCloseable {
    /** How a reduction combines the ranks' values. */
    enum ReduceOp {
        /** Element-wise sum over ranks. */
        SUM,
        /** Element-wise sum over ranks divided by the world size (the data-parallel gradient mean). */
        AVERAGE
    }

    /** @return this process's rank, in {@code [0, worldSize())} */
    int rank();

    /** @return the number of ranks in the group (1 for {@link #single()}) */
    int worldSize();

    /** @return this process's rank among the ranks of its machine */
    int localRank();

    /** @return whether this is rank 0, the one that writes metrics, progress and exports */
    default boolean isCoordinator() {
        return rank() == 0;
    }

    /**
     * Reduces every array over all ranks, in place: afterwards every rank holds the same result bit for bit.
     *
     * @param op sum or average
     * @param inPlace contiguous FLOAT32 or FLOAT64 CPU arrays, the same shapes in the same order on every rank
     */
    void allReduce(ReduceOp op, NDArray... inPlace);

    /**
     * Reduces host values over all ranks (loss sums, squared norms, flags); the array is replaced in place.
     *
     * @param op sum or average
     * @param values the same length on every rank
     */
    void allReduce(ReduceOp op, double[] values);

    /**
     * Copies every array of rank {@code root} into the same arrays of every other rank, in place.
     *
     * @param root the rank whose values are sent
     * @param inPlace contiguous FLOAT32 or FLOAT64 CPU arrays, the same shapes on every rank
     */
    void broadcast(int root, NDArray... inPlace);

    /**
     * Reduces {@code input} over all ranks and leaves rank {@code r}'s {@code r}-th equal part of the result in
     * {@code output}.
     *
     * @param op sum or average
     * @param input contiguous FLOAT32 array of {@code worldSize() * n} elements (any shape), not modified
     * @param output contiguous FLOAT32 array of {@code n} elements, overwritten
     */
    void reduceScatter(ReduceOp op, NDArray input, NDArray output);

    /**
     * Concatenates every rank's {@code input} in rank order into {@code output} on every rank.
     *
     * @param input contiguous FLOAT32 array of {@code n} elements, not modified
     * @param output contiguous FLOAT32 array of {@code worldSize() * n} elements, overwritten
     */
    void allGather(NDArray input, NDArray output);

    /** Returns when every rank has called it (or fails as the collectives do). */
    void barrier();

    /** Frees the group's sockets and native state; idempotent. */
    @Override
    void close();

    /** @return the group of one process: every collective is a no-op (average divides by 1), no native code */
    static ProcessGroup single() {
        return SingleProcessGroup.INSTANCE;
    }

    /**
     * The group this process belongs to, from the torchrun-style variables ({@link DistributedEnvironment}), with the
     * default options (a 30-minute timeout, no fingerprint check).
     *
     * @return {@link #single()} when {@code WORLD_SIZE} is unset or 1; else the connected Gloo group
     * @throws ProcessGroupException if the rendezvous or the engine fails (see {@link #fromEnvironment(Options)})
     */
    static ProcessGroup fromEnvironment() {
        return fromEnvironment(Options.builder().build());
    }

    /**
     * The group this process belongs to, from the torchrun-style variables ({@link DistributedEnvironment}). Rank 0
     * serves the rendezvous store on {@code MASTER_ADDR:MASTER_PORT}; every rank joins it, the ranks check that they
     * agree on the world size and the fingerprint, and the engine (Gloo over TCP) connects every pair of ranks.
     *
     * @param options the timeout and the fingerprint every rank must share
     * @return {@link #single()} when {@code WORLD_SIZE} is unset or 1; else the connected group (the caller closes it)
     * @throws IllegalArgumentException if a variable is missing, not a number or out of range (naming it)
     * @throws ProcessGroupException if the port is in use, a rank does not join in time, the ranks disagree, or the
     *     engine (the native shim and {@code libgloo}) is not available
     */
    static ProcessGroup fromEnvironment(Options options) {
        return ProcessGroups.connect(DistributedEnvironment.fromSystem(), options);
    }

    /**
     * How a group is formed. Immutable.
     */
    final class Options {
        /** The default timeout of the rendezvous and of every collective: generous, as torch's 30 minutes. */
        public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(30);

        private final Duration timeout;
        private final String fingerprint;

        private Options(Builder b) {
            this.timeout = b.timeout;
            this.fingerprint = b.fingerprint;
        }

        /** @return a builder with the defaults */
        public static Builder builder() {
            return new Builder();
        }

        /** @return how long the rendezvous and every collective may take before the group fails */
        public Duration timeout() {
            return timeout;
        }

        /** @return the digest every rank must present (empty: not checked) */
        public String fingerprint() {
            return fingerprint;
        }

        /** Builds {@link Options}. */
        public static final class Builder {
            private Duration timeout = DEFAULT_TIMEOUT;
            private String fingerprint = "";

            private Builder() {}

            /**
             * @param value the timeout of the rendezvous and of every collective (positive)
             * @return this builder
             */
            public Builder timeout(Duration value) {
                Preconditions.checkArgument(value != null && !value.isNegative() && !value.isZero(),
                        "timeout must be positive, got %s", value);
                this.timeout = value;
                return this;
            }

            /**
             * @param value a digest of what must be equal on every rank, e.g. the resolved training config; ranks
             *     that present another fail at the rendezvous
             * @return this builder
             */
            public Builder fingerprint(String value) {
                this.fingerprint = Preconditions.checkNotNull(value, "fingerprint");
                return this;
            }

            /** @return the options */
            public Options build() {
                return new Options(this);
            }
        }
    }
}
