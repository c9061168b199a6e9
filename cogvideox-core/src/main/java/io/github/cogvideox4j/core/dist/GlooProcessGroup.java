package io.github.cogvideox4j.core.dist;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.pytorch.engine.PtNDArray;
import com.google.common.base.Preconditions;
import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.net.DatagramSocket;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.time.Duration;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link ProcessGroup} on Gloo's TCP transport through the JNI shim {@code libcogvideox4j_gloo.so} (built from
 * {@code src/main/native/cogvideox4j_gloo.cpp} against Debian's {@code libgloo-dev}; needs {@code libgloo0} at run
 * time). The ranks meet through a {@link RendezvousStore}: each rank publishes the addresses of its Gloo pairs there
 * and connects to every other rank (a full mesh). Tensor data goes over the Gloo sockets only.
 *
 * <p><b>Arrays.</b> The collectives run in place on the arrays' own memory ({@code toByteBuffer(true)} of a
 * contiguous CPU {@link PtNDArray}): no copy, nothing allocated in the caller's managers. FLOAT32 everywhere, FLOAT64
 * also for {@link #allReduce(ReduceOp, NDArray...)} and {@link #broadcast}. Every other dtype (BFLOAT16, FLOAT16,
 * integers, ...), a non-CPU device, a sparse or non-contiguous array, a closed array and a wrong size are refused in
 * Java with an {@link IllegalArgumentException} before any native call. The shapes must agree across ranks; that is
 * the caller's contract (a disagreement fails the call or times out, it never corrupts memory).
 *
 * <p><b>Results.</b> Sums are reduced by Gloo's all-reduce (reduce-scatter too: an all-reduce of a copy, then this
 * rank's part, because Gloo's halving-doubling reduce-scatter intermittently returns wrong values for large parts):
 * every rank ends with the same bits. {@link ReduceOp#AVERAGE} divides those sums by the world size on every rank
 * in the same way, so averages are bitwise equal on all ranks too.
 *
 * <p><b>Failures.</b> Every call has the group's timeout. When a call fails (a lost rank, a timeout, an engine
 * error) the group closes its sockets, so that the other ranks fail at once rather than at their timeout, and is
 * broken: later calls fail at once with the same cause. The {@link ProcessGroupException} names the lost rank when
 * the store knows it ({@link RendezvousStore#lostRank()}), e.g. "rank 1 of 2 was lost (its process exited or its
 * connection closed) while rank 0 ran allReduce ...".
 *
 * <p><b>Thread safety.</b> Collectives are serialised by a lock (call them from one thread; their order must be the
 * same on every rank). {@link #close()} may be called from any thread. When a call is blocked in this process, close
 * closes the sockets at once (so the peers' pending calls fail at once), then waits for the blocked call, which
 * fails when its timeout passes (Gloo 0.5's TCP transport does not wake a local wait when its own sockets close), and
 * then frees the native context.
 *
 * <p><b>Ownership.</b> Once connected, the group owns its native context, its sockets and the store it was given
 * ({@link #close()} closes the store last: its goodbye tells the others that this exit is not a loss; on rank 0 it
 * also stops the rendezvous server). When {@link #connect} fails the caller keeps the store.
 */
public final class GlooProcessGroup implements ProcessGroup {
    private static final Logger LOG = LoggerFactory.getLogger(GlooProcessGroup.class);
    /** Groups connected by this JVM: the n-th group of every rank shares the store key prefix "gloo/n/". */
    private static final AtomicInteger GROUPS = new AtomicInteger();
    /** How long a failed call waits for the store to learn which rank was lost. */
    private static final Duration LOST_RANK_GRACE = Duration.ofSeconds(2);

    private final DistributedEnvironment env;
    private final RendezvousStore store;
    private final Duration timeout;
    private final ReentrantLock lock = new ReentrantLock();
    private volatile long handle;
    private volatile boolean closed;
    private volatile ProcessGroupException broken;
    private long ops;

    private GlooProcessGroup(DistributedEnvironment env, RendezvousStore store, Duration timeout, long handle) {
        this.env = env;
        this.store = store;
        this.timeout = timeout;
        this.handle = handle;
    }

    /**
     * Connects this rank to every other rank. Blocks until all {@code env.worldSize()} ranks have called it, or the
     * timeout passes.
     *
     * @param env this rank and the world size; {@code masterAddr} chooses the address the other ranks reach this
     *     rank at (127.0.0.1 when it is a loopback address, else this host's address on the route to it)
     * @param store the rendezvous store of the run; the returned group owns it (the caller keeps it on failure)
     * @param timeout the timeout of the connection and of every later call, positive
     * @return the connected group (close it)
     * @throws ProcessGroupException when the shim or libgloo cannot be loaded (saying what to install), or the mesh
     *     cannot be connected within the timeout (naming the lost rank when known)
     */
    public static GlooProcessGroup connect(DistributedEnvironment env, RendezvousStore store, Duration timeout) {
        Preconditions.checkNotNull(env, "env");
        Preconditions.checkNotNull(store, "store");
        Preconditions.checkArgument(timeout != null && !timeout.isNegative() && !timeout.isZero()
                && timeout.toMillis() > 0, "timeout must be positive, got %s", timeout);
        String version = GlooLibrary.load();
        String host = reachableAddress(env);
        String prefix = "gloo/" + GROUPS.getAndIncrement() + "/";
        LOG.debug("rank {} of {}: connecting the Gloo mesh at {} ({}, store prefix {})", env.rank(), env.worldSize(),
                host, version, prefix);
        long h;
        try {
            h = GlooNative.connect(store, prefix, env.rank(), env.worldSize(), host, timeout.toMillis());
        } catch (ProcessGroupException | GlooNativeException e) {
            OptionalInt lost = lostRankOf(store, e);
            String what = lost.isPresent()
                    ? "rank " + lost.getAsInt() + " of " + env.worldSize() + " was lost (its process exited or its "
                            + "connection closed) while rank " + env.rank() + " connected the Gloo mesh"
                    : "rank " + env.rank() + " of " + env.worldSize() + " could not connect the Gloo mesh at " + host
                            + " within " + timeout;
            throw new ProcessGroupException(what + ": " + e.getMessage(), lost.orElse(-1), e);
        }
        if (h == 0) {
            throw new ProcessGroupException("rank " + env.rank() + ": the Gloo shim returned no context", -1, null);
        }
        return new GlooProcessGroup(env, store, timeout, h);
    }

    @Override
    public int rank() {
        return env.rank();
    }

    @Override
    public int worldSize() {
        return env.worldSize();
    }

    @Override
    public int localRank() {
        return env.localRank();
    }

    /** @return the timeout of every call */
    public Duration timeout() {
        return timeout;
    }

    @Override
    public void allReduce(ReduceOp op, NDArray... inPlace) {
        Preconditions.checkNotNull(op, "op");
        Preconditions.checkNotNull(inPlace, "inPlace");
        ByteBuffer[] views = new ByteBuffer[inPlace.length];
        for (int i = 0; i < inPlace.length; i++) {
            views[i] = view("allReduce", "array " + i, inPlace[i], true);
        }
        for (int i = 0; i < inPlace.length; i++) {
            NDArray a = inPlace[i];
            if (a.size() == 0) {
                continue; // the same on every rank: the shapes agree
            }
            ByteBuffer v = views[i];
            int dtype = a.getDataType() == DataType.FLOAT64 ? GlooNative.FLOAT64 : GlooNative.FLOAT32;
            run("allReduce", op + " of " + a.size() + " " + a.getDataType().name() + " elements (array " + i + ")",
                    h -> GlooNative.allReduce(h, v, a.size(), dtype, op == ReduceOp.AVERAGE));
        }
    }

    @Override
    public void allReduce(ReduceOp op, double[] values) {
        Preconditions.checkNotNull(op, "op");
        Preconditions.checkNotNull(values, "values");
        if (values.length == 0) {
            return;
        }
        ByteBuffer buffer = ByteBuffer.allocateDirect(values.length * Double.BYTES).order(ByteOrder.nativeOrder());
        DoubleBuffer doubles = buffer.asDoubleBuffer();
        doubles.put(values);
        run("allReduce", op + " of " + values.length + " host doubles",
                h -> GlooNative.allReduce(h, buffer, values.length, GlooNative.FLOAT64, op == ReduceOp.AVERAGE));
        doubles.rewind();
        doubles.get(values);
    }

    @Override
    public void broadcast(int root, NDArray... inPlace) {
        Preconditions.checkArgument(root >= 0 && root < worldSize(), "broadcast root %s out of [0, %s)", root,
                worldSize());
        Preconditions.checkNotNull(inPlace, "inPlace");
        ByteBuffer[] views = new ByteBuffer[inPlace.length];
        for (int i = 0; i < inPlace.length; i++) {
            views[i] = view("broadcast", "array " + i, inPlace[i], true);
        }
        for (int i = 0; i < inPlace.length; i++) {
            NDArray a = inPlace[i];
            if (a.size() == 0) {
                continue;
            }
            ByteBuffer v = views[i];
            run("broadcast", "from rank " + root + ", " + a.size() + " " + a.getDataType().name()
                    + " elements (array " + i + ")", h -> GlooNative.broadcast(h, v, v.capacity(), root));
        }
    }

    @Override
    public void reduceScatter(ReduceOp op, NDArray input, NDArray output) {
        Preconditions.checkNotNull(op, "op");
        ByteBuffer in = view("reduceScatter", "input", input, false);
        ByteBuffer out = view("reduceScatter", "output", output, false);
        long n = output.size();
        Preconditions.checkArgument(n > 0, "reduceScatter: the output is empty");
        Preconditions.checkArgument(input.size() == n * worldSize(), "reduceScatter over %s ranks: the input has %s "
                + "elements, expected worldSize * output = %s * %s = %s", worldSize(), input.size(), worldSize(), n,
                n * worldSize());
        Preconditions.checkArgument(input.size() <= Integer.MAX_VALUE, "reduceScatter: the input has %s elements, "
                + "at most %s supported (the shim counts in int)", input.size(), Integer.MAX_VALUE);
        run("reduceScatter", op + " of " + input.size() + " FLOAT32 elements into " + n,
                h -> GlooNative.reduceScatter(h, in, out, n, op == ReduceOp.AVERAGE));
    }

    @Override
    public void allGather(NDArray input, NDArray output) {
        ByteBuffer in = view("allGather", "input", input, false);
        ByteBuffer out = view("allGather", "output", output, false);
        long n = input.size();
        Preconditions.checkArgument(n > 0, "allGather: the input is empty");
        Preconditions.checkArgument(output.size() == n * worldSize(), "allGather over %s ranks: the output has %s "
                + "elements, expected worldSize * input = %s * %s = %s", worldSize(), output.size(), worldSize(), n,
                n * worldSize());
        run("allGather", n + " FLOAT32 elements from each rank", h -> GlooNative.allGather(h, in, out, in.capacity()));
    }

    @Override
    public void barrier() {
        run("barrier", "all ranks", GlooNative::barrier);
    }

    /**
     * Frees the native context, closes the sockets, then closes the store; idempotent. From another thread while a
     * call is blocked: closes the sockets first (the peers then fail at once), waits for the blocked call to fail (at
     * most the timeout), then frees.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        boolean locked = lock.tryLock();
        try {
            if (!locked) {
                long h = handle;
                if (h != 0) {
                    closeConnectionsQuietly(h);
                }
                locked = lock.tryLock(timeout.toMillis() + 1000, TimeUnit.MILLISECONDS);
                if (!locked) {
                    LOG.warn("rank {}: a collective still runs {} after close(); its native context is leaked",
                            rank(), timeout);
                    return;
                }
            }
            long h = handle;
            handle = 0;
            if (h != 0) {
                GlooNative.destroy(h);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (GlooNativeException e) {
            LOG.warn("rank {}: freeing the Gloo context failed: {}", rank(), e.getMessage());
        } finally {
            if (locked) {
                lock.unlock();
            }
            store.close();
        }
    }

    @Override
    public String toString() {
        return "ProcessGroup[gloo, rank " + rank() + " of " + worldSize() + ", timeout " + timeout + "]";
    }

    @FunctionalInterface
    private interface NativeCall {
        void run(long handle);
    }

    private void run(String op, String detail, NativeCall call) {
        lock.lock();
        try {
            if (closed || handle == 0) {
                throw new IllegalStateException("rank " + rank() + ": " + op + " on a closed process group");
            }
            ProcessGroupException cause = broken;
            if (cause != null) {
                throw new ProcessGroupException("rank " + rank() + " of " + worldSize() + ": the process group broke "
                        + "in an earlier call; " + op + " refused. Earlier failure: " + cause.getMessage(),
                        cause.lostRank().orElse(-1), cause);
            }
            long index = ops++;
            try {
                call.run(handle);
            } catch (GlooNativeException | ProcessGroupException e) {
                closeConnectionsQuietly(handle); // the peers fail now instead of at their timeout
                OptionalInt lost = closed ? OptionalInt.empty() : lostRankOf(store, e);
                String what = closed
                        ? "rank " + rank() + " of " + worldSize() + ": the group was closed by another thread while "
                                + "this rank ran " + op + " (call " + index + ", " + detail + ")"
                        : lost.isPresent()
                        ? "rank " + lost.getAsInt() + " of " + worldSize() + " was lost (its process exited or its "
                                + "connection closed) while rank " + rank() + " ran " + op + " (call " + index + ", "
                                + detail + ")"
                        : "rank " + rank() + " of " + worldSize() + " failed in " + op + " (call " + index + ", "
                                + detail + ") and no rank is known to be lost: a rank is stuck, called another "
                                + "collective or another size, or the timeout of " + timeout + " passed";
                ProcessGroupException failure = new ProcessGroupException(what + ": " + e.getMessage(),
                        lost.orElse(-1), e);
                broken = failure;
                throw failure;
            }
        } finally {
            lock.unlock();
        }
    }

    private void closeConnectionsQuietly(long h) {
        try {
            GlooNative.closeConnections(h);
        } catch (GlooNativeException e) {
            LOG.debug("rank {}: closing the Gloo connections failed: {}", rank(), e.getMessage());
        }
    }

    /**
     * Asks the store which rank was lost. After a closed connection the store may learn of the loss just after Gloo
     * did, so it is asked again for a short while; after a timeout once.
     */
    private static OptionalInt lostRankOf(RendezvousStore store, RuntimeException failure) {
        if (failure instanceof ProcessGroupException p && p.lostRank().isPresent()) {
            return p.lostRank();
        }
        boolean connectionLost = failure instanceof GlooNativeException g && "io".equals(g.kind())
                && !String.valueOf(g.getMessage()).contains("Timed out");
        long deadline = System.nanoTime() + (connectionLost ? LOST_RANK_GRACE.toNanos() : 0);
        while (true) {
            try {
                OptionalInt lost = store.lostRank();
                if (lost.isPresent() || System.nanoTime() > deadline) {
                    return lost;
                }
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return OptionalInt.empty();
            } catch (RuntimeException e) {
                LOG.debug("the store cannot say which rank was lost: {}", e.getMessage());
                return OptionalInt.empty();
            }
        }
    }

    /**
     * The direct buffer over {@code a}'s own memory, after every check that keeps bad input away from native code.
     * Only {@link NDArray#getDataType()} is asked before the dtype is known to be FLOAT32 or FLOAT64.
     */
    private static ByteBuffer view(String op, String name, NDArray a, boolean allowFloat64) {
        Preconditions.checkArgument(a != null, "%s: %s is null", op, name);
        DataType type = a.getDataType();
        boolean ok = type == DataType.FLOAT32 || (allowFloat64 && type == DataType.FLOAT64);
        Preconditions.checkArgument(ok, "%s: %s has dtype %s; Gloo collectives take FLOAT32%s arrays (convert "
                + "first, e.g. toType(FLOAT32, false))", op, name, type.name(), allowFloat64 ? " or FLOAT64" : "");
        Preconditions.checkArgument(!a.isReleased(), "%s: %s is closed", op, name);
        Preconditions.checkArgument(a instanceof PtNDArray, "%s: %s is a %s; the Gloo group takes PyTorch engine "
                + "arrays", op, name, a.getClass().getSimpleName());
        Device device = a.getDevice();
        Preconditions.checkArgument(Device.Type.CPU.equals(device.getDeviceType()), "%s: %s is on %s; the Gloo "
                + "group takes CPU arrays (GPU tensors must be staged through host memory, see docs/gpu.md)", op, name,
                device);
        Preconditions.checkArgument(a.getSparseFormat() == SparseFormat.DENSE, "%s: %s is sparse (%s)", op, name,
                a.getSparseFormat());
        Preconditions.checkArgument(Contiguity.isContiguous((PtNDArray) a), "%s: %s is not contiguous (a transposed "
                + "or strided view); collectives run in place on the array's own memory", op, name);
        ByteBuffer buffer = a.toByteBuffer(true);
        long bytes = a.size() * type.getNumOfBytes();
        Preconditions.checkArgument(buffer.isDirect() && buffer.capacity() == bytes, "%s: %s gives a %s buffer of "
                + "%s bytes, expected a direct buffer of %s", op, name, buffer.isDirect() ? "direct" : "heap",
                buffer.capacity(), bytes);
        return buffer;
    }

    /** The address the other ranks reach this rank at. */
    static String reachableAddress(DistributedEnvironment env) {
        InetAddress master;
        try {
            master = InetAddress.getByName(env.masterAddr());
        } catch (UnknownHostException e) {
            throw new ProcessGroupException("rank " + env.rank() + ": MASTER_ADDR '" + env.masterAddr() + "' cannot "
                    + "be resolved", -1, e);
        }
        if (master.isLoopbackAddress()) {
            return master instanceof Inet4Address ? "127.0.0.1" : master.getHostAddress();
        }
        // A connected UDP socket sends nothing; it only asks the kernel for the source address of that route.
        try (DatagramSocket probe = new DatagramSocket()) {
            probe.connect(master, env.masterPort());
            InetAddress local = probe.getLocalAddress();
            if (local == null || local.isAnyLocalAddress()) {
                throw new ProcessGroupException("rank " + env.rank() + ": no local address routes to MASTER_ADDR "
                        + env.masterAddr(), -1, null);
            }
            return local.getHostAddress();
        } catch (IOException e) {
            throw new ProcessGroupException("rank " + env.rank() + ": no route to MASTER_ADDR " + env.masterAddr()
                    + ": " + e.getMessage(), -1, e);
        }
    }

    /**
     * Asks libtorch whether a tensor is contiguous, the check {@code toByteBuffer(true)} makes before it silently
     * copies (DJL 0.36 has no public method for it; {@code PyTorchLibrary.torchIsContiguous} has no dtype dispatch).
     */
    private static final class Contiguity {
        private static final Object LIB;
        private static final Method IS_CONTIGUOUS;

        static {
            try {
                Class<?> lib = Class.forName("ai.djl.pytorch.jni.PyTorchLibrary");
                Field instance = lib.getDeclaredField("LIB");
                instance.setAccessible(true);
                LIB = instance.get(null);
                IS_CONTIGUOUS = lib.getDeclaredMethod("torchIsContiguous", long.class);
                IS_CONTIGUOUS.setAccessible(true);
            } catch (ReflectiveOperationException | RuntimeException e) {
                throw new ExceptionInInitializerError("cannot reach DJL's PyTorchLibrary.torchIsContiguous (DJL "
                        + "0.36 expected): " + e);
            }
        }

        static boolean isContiguous(PtNDArray a) {
            try {
                return (Boolean) IS_CONTIGUOUS.invoke(LIB, a.getHandle());
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException("torchIsContiguous failed", e);
            }
        }
    }
}
