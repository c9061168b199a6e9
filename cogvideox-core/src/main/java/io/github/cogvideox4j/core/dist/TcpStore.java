package io.github.cogvideox4j.core.dist;

import com.google.common.base.Preconditions;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The rendezvous store of a multi-process run, as torch's TCPStore: rank 0 serves a small key-value table on
 * {@code MASTER_ADDR:MASTER_PORT}, every rank (rank 0 too) is a client. It carries rendezvous keys only (the engine's
 * connection addresses, the ranks' world sizes and config fingerprints), never tensor data.
 *
 * <p>On connecting, a client introduces itself with its rank, world size and fingerprint; the server refuses a rank
 * out of range, a rank that is already taken and a world size other than rank 0's, and then fails every waiting rank
 * with the reason. {@link #connect} returns when all ranks have joined and agree on the fingerprint, or throws a
 * {@link ProcessGroupException} that names the ranks that did not join or that disagree. A client whose connection
 * closes without a goodbye is recorded as lost ({@link #lostRank()}).
 *
 * <p>Thread safety: thread-safe; one request at a time per client. Every blocking call ends after the timeout.
 */
public final class TcpStore implements RendezvousStore {
    private static final Logger LOG = LoggerFactory.getLogger(TcpStore.class);
    private static final int MAGIC = 0x43475834; // "CGX4"
    private static final int VERSION = 1;
    private static final int MAX_FRAME = 16 << 20;
    /** How long a closing rank 0 keeps serving while other ranks are still connected. */
    private static final Duration LINGER = Duration.ofSeconds(10);
    private static final byte HELLO = 1;
    private static final byte SET = 2;
    private static final byte GET = 3;
    private static final byte ADD = 4;
    private static final byte LOST = 5;
    private static final byte BYE = 6;
    private static final byte OK = 0;
    private static final byte ERROR = 1;

    private final DistributedEnvironment env;
    private final Duration timeout;
    private final Server server;
    private final Socket socket;
    private final DataInputStream in;
    private final DataOutputStream out;
    private volatile boolean closed;

    private TcpStore(DistributedEnvironment env, Duration timeout, Server server, Socket socket) throws IOException {
        this.env = env;
        this.timeout = timeout;
        this.server = server;
        this.socket = socket;
        this.in = new DataInputStream(new BufferedInputStream(socket.getInputStream()));
        this.out = new DataOutputStream(new BufferedOutputStream(socket.getOutputStream()));
    }

    /**
     * Joins the rendezvous: rank 0 starts the server, every rank connects, introduces itself and waits until all
     * {@code worldSize} ranks have joined with the same fingerprint.
     *
     * @param env this process's place in the run
     * @param timeout how long to wait for the server, for the other ranks and for every later request
     * @param fingerprint a digest of what must be equal on every rank (e.g. the resolved training config); may be
     *     empty
     * @return the connected store
     * @throws ProcessGroupException if the port is taken, the server cannot be reached, a rank is refused, ranks
     *     disagree, or not every rank joins in time
     */
    public static TcpStore connect(DistributedEnvironment env, Duration timeout, String fingerprint) {
        Preconditions.checkNotNull(env, "env");
        Preconditions.checkArgument(!timeout.isNegative() && !timeout.isZero(), "timeout must be positive");
        Preconditions.checkNotNull(fingerprint, "fingerprint");
        Server server = env.rank() == 0 ? Server.start(env, timeout) : null;
        TcpStore store = null;
        try {
            Socket socket = dial(env, timeout);
            store = new TcpStore(env, timeout, server, socket);
            store.hello(fingerprint);
            return store;
        } catch (IOException e) {
            if (store != null) {
                store.closeQuietly();
            } else if (server != null) {
                server.close(false);
            }
            throw new ProcessGroupException("rank " + env.rank() + ": the rendezvous store at " + env.masterAddr()
                    + ":" + env.masterPort() + " failed: " + e, env.rank() == 0 ? -1 : 0, e);
        } catch (RuntimeException e) {
            if (store != null) {
                store.closeQuietly();
            } else if (server != null) {
                server.close(false);
            }
            throw e;
        }
    }

    private static Socket dial(DistributedEnvironment env, Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        IOException last = null;
        while (System.nanoTime() < deadline) {
            Socket s = new Socket();
            try {
                s.setTcpNoDelay(true);
                s.connect(new InetSocketAddress(env.masterAddr(), env.masterPort()),
                        (int) Math.min(5_000, Math.max(1, timeout.toMillis())));
                s.setSoTimeout((int) Math.min(Integer.MAX_VALUE, timeout.toMillis() + 5_000));
                return s;
            } catch (IOException e) {
                s.close();
                last = e;
                sleep(100);
            }
        }
        throw new ProcessGroupException("rank " + env.rank() + " could not reach the rendezvous store of rank 0 at "
                + env.masterAddr() + ":" + env.masterPort() + " within " + timeout.toSeconds() + " s (is rank 0 "
                + "running, are MASTER_ADDR and MASTER_PORT the same on every rank?): " + last, 0, last);
    }

    private void hello(String fingerprint) throws IOException {
        byte[] fp = fingerprint.getBytes(StandardCharsets.UTF_8);
        byte[] reply = request(HELLO, (o) -> {
            o.writeInt(MAGIC);
            o.writeInt(VERSION);
            o.writeInt(env.rank());
            o.writeInt(env.worldSize());
            o.writeInt(fp.length);
            o.write(fp);
        });
        Preconditions.checkState(reply != null);
    }

    @Override
    public void set(String key, byte[] value) {
        Preconditions.checkNotNull(value, "value");
        byte[] k = key.getBytes(StandardCharsets.UTF_8);
        call(SET, key, o -> {
            o.writeInt(k.length);
            o.write(k);
            o.writeInt(value.length);
            o.write(value);
        });
    }

    @Override
    public byte[] get(String key) {
        byte[] k = key.getBytes(StandardCharsets.UTF_8);
        return call(GET, key, o -> {
            o.writeInt(k.length);
            o.write(k);
        });
    }

    @Override
    public long add(String key, long delta) {
        byte[] k = key.getBytes(StandardCharsets.UTF_8);
        byte[] r = call(ADD, key, o -> {
            o.writeInt(k.length);
            o.write(k);
            o.writeLong(delta);
        });
        return java.nio.ByteBuffer.wrap(r).getLong();
    }

    @Override
    public OptionalInt lostRank() {
        // the store's server notices a closed connection at about the time the engine does: allow it a moment
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        while (true) {
            int lost;
            try {
                byte[] r = request(LOST, o -> { });
                lost = java.nio.ByteBuffer.wrap(r).getInt();
            } catch (IOException | ProcessGroupException e) {
                return OptionalInt.of(0);                // the store's host, rank 0, is gone
            }
            if (lost >= 0) {
                return OptionalInt.of(lost);
            }
            if (System.nanoTime() > deadline) {
                return OptionalInt.empty();
            }
            sleep(50);
        }
    }

    /** @return this rank's environment */
    public DistributedEnvironment environment() {
        return env;
    }

    /** @return the timeout of every blocking request */
    public Duration timeout() {
        return timeout;
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        try {
            request(BYE, o -> { });
        } catch (IOException | RuntimeException e) {
            LOG.debug("rank {}: goodbye to the rendezvous store failed: {}", env.rank(), e.toString());
        }
        closeQuietly();
    }

    /** Drops the connection without a goodbye, as a killed process would (tests). */
    void abandon() {
        closeQuietly(false);
    }

    private void closeQuietly() {
        closeQuietly(true);
    }

    private void closeQuietly(boolean linger) {
        closed = true;
        try {
            socket.close();
        } catch (IOException e) {
            LOG.debug("closing the store connection", e);
        }
        if (server != null) {
            server.close(linger);
        }
    }

    private interface Body {
        void write(DataOutputStream o) throws IOException;
    }

    private byte[] call(byte op, String key, Body body) {
        try {
            return request(op, body);
        } catch (SocketTimeoutException e) {
            throw new ProcessGroupException("rank " + env.rank() + ": the rendezvous store did not answer for key '"
                    + key + "' within " + timeout.toSeconds() + " s", -1, e);
        } catch (IOException e) {
            throw new ProcessGroupException("rank " + env.rank() + ": lost the rendezvous store of rank 0 at "
                    + env.masterAddr() + ":" + env.masterPort() + " (rank 0 exited?) on key '" + key + "': " + e, 0,
                    e);
        }
    }

    /** One request and its reply; the server's ERROR reply becomes a ProcessGroupException with its text. */
    private synchronized byte[] request(byte op, Body body) throws IOException {
        Preconditions.checkState(!closed, "the rendezvous store is closed");
        out.writeByte(op);
        body.write(out);
        out.flush();
        byte status = in.readByte();
        int n = in.readInt();
        if (n < 0 || n > MAX_FRAME) {
            throw new IOException("malformed reply from the rendezvous store (length " + n + "): is another "
                    + "program listening on " + env.masterAddr() + ":" + env.masterPort() + "?");
        }
        byte[] data = in.readNBytes(n);
        if (data.length != n) {
            throw new EOFException("the rendezvous store closed the connection");
        }
        if (status == ERROR) {
            String text = new String(data, StandardCharsets.UTF_8);
            throw new ProcessGroupException("rank " + env.rank() + ": " + text, -1, null);
        }
        if (status != OK) {
            throw new IOException("malformed reply from the rendezvous store (status " + status + "): is another "
                    + "program listening on " + env.masterAddr() + ":" + env.masterPort() + "?");
        }
        return data;
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ProcessGroupException("interrupted while waiting for the rendezvous store", -1, e);
        }
    }

    /** Rank 0's server: one thread per connection (world sizes are small), one table under one lock. */
    private static final class Server implements Runnable {
        private final DistributedEnvironment env;
        private final Duration timeout;
        private final ServerSocket serverSocket;
        private final ReentrantLock lock = new ReentrantLock();
        private final Condition changed = lock.newCondition();
        private final Map<String, byte[]> table = new HashMap<>();
        private final Map<Integer, String> fingerprints = new HashMap<>();
        private final TreeSet<Integer> lost = new TreeSet<>();
        private final List<Socket> clients = new ArrayList<>();
        private String fatal;
        /** Joining ranks not answered yet: a closing server answers them first, so each hears why. */
        private int answering;
        /** Open client connections: a closing server lingers until the other ranks have left (bounded). */
        private int connections;
        private volatile boolean stopped;

        private Server(DistributedEnvironment env, Duration timeout, ServerSocket socket) {
            this.env = env;
            this.timeout = timeout;
            this.serverSocket = socket;
        }

        static Server start(DistributedEnvironment env, Duration timeout) {
            ServerSocket socket = null;
            try {
                socket = new ServerSocket();
                socket.setReuseAddress(true);   // a rerun may bind while the last run's port sits in TIME_WAIT; a listener still refuses
                socket.bind(new InetSocketAddress(InetAddress.getByName(env.masterAddr()), env.masterPort()),
                        Math.max(64, env.worldSize() * 2));
            } catch (BindException e) {
                closeQuietly(socket);
                throw new ProcessGroupException("rank 0 cannot serve the rendezvous store on " + env.masterAddr() + ":"
                        + env.masterPort() + ": the port is in use or the address is not this machine's (" + e
                        .getMessage() + "); choose another MASTER_PORT (cogvideox launch --master-port)", -1, e);
            } catch (IOException e) {
                closeQuietly(socket);
                throw new ProcessGroupException("rank 0 cannot serve the rendezvous store on " + env.masterAddr() + ":"
                        + env.masterPort() + ": " + e, -1, e);
            }
            Server s = new Server(env, timeout, socket);
            Thread t = new Thread(s, "cogvideox4j-store-accept");
            t.setDaemon(true);
            t.start();
            return s;
        }

        @Override
        public void run() {
            while (!stopped) {
                try {
                    Socket c = serverSocket.accept();
                    c.setTcpNoDelay(true);
                    lock.lock();
                    try {
                        connections++;
                    } finally {
                        lock.unlock();
                    }
                    synchronized (clients) {
                        clients.add(c);
                    }
                    Thread t = new Thread(() -> serve(c), "cogvideox4j-store-client");
                    t.setDaemon(true);
                    t.start();
                } catch (IOException e) {
                    if (!stopped) {
                        LOG.warn("rendezvous store: accept failed: {}", e.toString());
                    }
                    return;
                }
            }
        }

        private void serve(Socket c) {
            int rank = -1;
            boolean bye = false;
            try (c;
                    DataInputStream i = new DataInputStream(new BufferedInputStream(c.getInputStream()));
                    DataOutputStream o = new DataOutputStream(new BufferedOutputStream(c.getOutputStream()))) {
                while (!stopped) {
                    byte op = i.readByte();
                    if (rank < 0 && op != HELLO) {
                        reply(o, ERROR, utf8("the first request must introduce the rank"));
                        return;
                    }
                    switch (op) {
                        case HELLO -> {
                            rank = hello(i, o);
                            if (rank < 0) {
                                return;
                            }
                        }
                        case SET -> {
                            String key = readKey(i);
                            byte[] v = readBytes(i);
                            put(key, v);
                            reply(o, OK, new byte[0]);
                        }
                        case GET -> {
                            String key = readKey(i);
                            String[] error = new String[1];
                            byte[] v = await(key, error);
                            reply(o, v == null ? ERROR : OK, v == null ? utf8(error[0]) : v);
                        }
                        case ADD -> {
                            String key = readKey(i);
                            long delta = i.readLong();
                            reply(o, OK, java.nio.ByteBuffer.allocate(8).putLong(add(key, delta)).array());
                        }
                        case LOST -> reply(o, OK, java.nio.ByteBuffer.allocate(4).putInt(lowestLost()).array());
                        case BYE -> {
                            bye = true;
                            reply(o, OK, new byte[0]);
                            return;
                        }
                        default -> {
                            reply(o, ERROR, utf8("unknown request " + op));
                            return;
                        }
                    }
                }
            } catch (IOException e) {
                LOG.debug("rendezvous store: connection of rank {} ended: {}", rank, e.toString());
            } finally {
                if (rank >= 0 && !bye && !stopped) {
                    markLost(rank);
                }
                lock.lock();
                try {
                    connections--;
                    changed.signalAll();
                } finally {
                    lock.unlock();
                }
            }
        }

        /** Checks a joining rank; returns its rank, or -1 after replying with the refusal. */
        private int hello(DataInputStream i, DataOutputStream o) throws IOException {
            int magic = i.readInt();
            int version = i.readInt();
            if (magic != MAGIC || version != VERSION) {
                reply(o, ERROR, utf8("not a CogVideoX4J rendezvous client (magic " + magic + ", version " + version
                        + ")"));
                return -1;
            }
            int rank = i.readInt();
            int world = i.readInt();
            String fp = new String(readBytes(i), StandardCharsets.UTF_8);
            lock.lock();
            try {
                answering++;
            } finally {
                lock.unlock();
            }
            try {
                return answerHello(o, rank, world, fp);
            } finally {
                lock.lock();
                try {
                    answering--;
                    changed.signalAll();
                } finally {
                    lock.unlock();
                }
            }
        }

        private int answerHello(DataOutputStream o, int rank, int world, String fp) throws IOException {
            String refusal = null;
            lock.lock();
            try {
                if (world != env.worldSize()) {
                    refusal = "rank " + rank + " has WORLD_SIZE=" + world + " but rank 0 has WORLD_SIZE="
                            + env.worldSize() + "; every rank must be started with the same WORLD_SIZE";
                } else if (rank < 0 || rank >= env.worldSize()) {
                    refusal = "a process joined with RANK=" + rank + ", out of [0, WORLD_SIZE=" + env.worldSize() + ")";
                } else if (fingerprints.containsKey(rank)) {
                    refusal = "two processes were started with RANK=" + rank + "; every rank must be unique";
                }
                if (refusal != null) {
                    fail(refusal);
                } else {
                    fingerprints.put(rank, fp);
                    changed.signalAll();
                }
            } finally {
                lock.unlock();
            }
            if (refusal != null) {
                reply(o, ERROR, utf8(refusal));
                return -1;
            }
            // wait until every rank has joined, then compare fingerprints
            String error = awaitAll();
            if (error != null) {
                reply(o, ERROR, utf8(error));
                return -1;
            }
            reply(o, OK, new byte[0]);
            return rank;
        }

        private String awaitAll() {
            long deadline = System.nanoTime() + timeout.toNanos();
            lock.lock();
            try {
                while (fatal == null && fingerprints.size() < env.worldSize()) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        List<Integer> missing = new ArrayList<>();
                        for (int r = 0; r < env.worldSize(); r++) {
                            if (!fingerprints.containsKey(r)) {
                                missing.add(r);
                            }
                        }
                        fail("ranks " + missing + " of " + env.worldSize() + " did not join the rendezvous at "
                                + env.masterAddr() + ":" + env.masterPort() + " within " + timeout.toSeconds() + " s");
                        return fatal;
                    }
                    changed.awaitNanos(left);
                }
                if (fatal != null) {
                    return fatal;
                }
                String reference = fingerprints.get(0);
                List<Integer> differ = new ArrayList<>();
                for (int r = 1; r < env.worldSize(); r++) {
                    if (!fingerprints.get(r).equals(reference)) {
                        differ.add(r);
                    }
                }
                if (!differ.isEmpty()) {
                    int r = differ.get(0);
                    fail("ranks " + differ + " were started with a different configuration than rank 0 (fingerprint "
                            + fingerprints.get(r) + " on rank " + r + ", " + reference + " on rank 0); start every "
                            + "rank with the same config and overrides");
                    return fatal;
                }
                return null;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return "interrupted";
            } finally {
                lock.unlock();
            }
        }

        private void put(String key, byte[] v) {
            lock.lock();
            try {
                table.put(key, v);
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }

        private long add(String key, long delta) {
            lock.lock();
            try {
                byte[] old = table.get(key);
                long v = (old == null ? 0 : java.nio.ByteBuffer.wrap(old).getLong()) + delta;
                table.put(key, java.nio.ByteBuffer.allocate(8).putLong(v).array());
                changed.signalAll();
                return v;
            } finally {
                lock.unlock();
            }
        }

        private byte[] await(String key, String[] error) {
            long deadline = System.nanoTime() + timeout.toNanos();
            lock.lock();
            try {
                while (!table.containsKey(key)) {
                    if (fatal != null) {
                        error[0] = fatal;
                        return null;
                    }
                    if (!lost.isEmpty()) {
                        error[0] = "rank " + lost.first() + " of " + env.worldSize() + " was lost (its process exited "
                                + "or its connection closed) while waiting for key '" + key + "'";
                        return null;
                    }
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        error[0] = "key '" + key + "' was not set within " + timeout.toSeconds() + " s";
                        return null;
                    }
                    changed.awaitNanos(left);
                }
                return table.get(key);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                error[0] = "interrupted";
                return null;
            } finally {
                lock.unlock();
            }
        }

        private int lowestLost() {
            lock.lock();
            try {
                return lost.isEmpty() ? -1 : lost.first();
            } finally {
                lock.unlock();
            }
        }

        private void markLost(int rank) {
            lock.lock();
            try {
                lost.add(rank);
                changed.signalAll();
            } finally {
                lock.unlock();
            }
            LOG.warn("rendezvous store: rank {} of {} was lost (its connection closed without a goodbye)", rank,
                    env.worldSize());
        }

        private void fail(String reason) {
            if (fatal == null) {
                fatal = reason;
            }
            changed.signalAll();
        }

        /**
         * Stops serving: first answers the ranks still joining, then lingers (at most {@link #LINGER}) until the other
         * ranks have left, so that a rank whose collective failed just after rank 0's can still ask which rank was
         * lost instead of finding rank 0 gone.
         */
        void close(boolean linger) {
            lock.lock();
            try {
                fail("rank 0 stopped the rendezvous store");
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
                while (answering > 0 && System.nanoTime() < deadline) {
                    changed.awaitNanos(TimeUnit.MILLISECONDS.toNanos(50));
                }
                deadline = System.nanoTime() + (linger ? Math.min(LINGER.toNanos(), timeout.toNanos()) : 0);
                while (connections > 0 && System.nanoTime() < deadline) {
                    changed.awaitNanos(TimeUnit.MILLISECONDS.toNanos(50));
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                lock.unlock();
            }
            stopped = true;
            closeQuietly(serverSocket);
            synchronized (clients) {
                for (Socket c : clients) {
                    closeQuietly(c);
                }
            }
            lock.lock();
            try {
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }

        private static String readKey(DataInputStream i) throws IOException {
            return new String(readBytes(i), StandardCharsets.UTF_8);
        }

        private static byte[] readBytes(DataInputStream i) throws IOException {
            int n = i.readInt();
            if (n < 0 || n > MAX_FRAME) {
                throw new IOException("frame of " + n + " bytes refused");
            }
            byte[] b = i.readNBytes(n);
            if (b.length != n) {
                throw new EOFException();
            }
            return b;
        }

        private static void reply(DataOutputStream o, byte status, byte[] data) throws IOException {
            o.writeByte(status);
            o.writeInt(data.length);
            o.write(data);
            o.flush();
        }

        private static byte[] utf8(String s) {
            return s.getBytes(StandardCharsets.UTF_8);
        }

        private static void closeQuietly(java.io.Closeable c) {
            if (c != null) {
                try {
                    c.close();
                } catch (IOException e) {
                    LOG.debug("close", e);
                }
            }
        }
    }

    @Override
    public String toString() {
        return "TcpStore[rank " + env.rank() + " of " + env.worldSize() + " at " + env.masterAddr() + ":"
                + env.masterPort() + (server != null ? ", serving" : "") + "]";
    }
}
