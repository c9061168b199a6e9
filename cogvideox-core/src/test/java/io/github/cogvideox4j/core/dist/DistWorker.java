package io.github.cogvideox4j.core.dist;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.core.dist.ProcessGroup.ReduceOp;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;

/**
 * One rank of the multi-process Gloo tests, started by {@link io.github.cogvideox4j.core.testing.Ranks}. Reads the
 * torchrun-style environment plus {@code STORE_DIR} (the {@link FileRendezvousStore} folder; without it the ranks
 * meet through {@link ProcessGroup#fromEnvironment}, i.e. the {@link TcpStore} on rank 0), {@code OUT_DIR}
 * (where results go, one file per result and rank: {@code <name>.rank<r>.bin}, native byte order) and
 * {@code TIMEOUT_MS}; runs the scenario named by its first argument; prints {@code RESULT key=value} lines and
 * {@code DONE}. Exit code 0 when the scenario ran as planned, 1 on an unexpected failure.
 *
 * <p>Scenarios: {@code collectives} (every collective on {@link DistData}'s inputs); {@code kill} (rank
 * {@code VICTIM} stops after three all-reduces and waits to be killed; the others enter a fourth and report how it
 * failed); {@code stuck} (rank 1 never enters the barrier that the others wait in); {@code closeWhileBlocked}
 * (rank 0 closes its group from another thread while it waits in a barrier that rank 1 never enters).
 */
public final class DistWorker {
    private DistWorker() {}

    /**
     * @param args the scenario
     */
    public static void main(String[] args) {
        try {
            Duration timeout = Duration.ofMillis(Long.parseLong(System.getenv("TIMEOUT_MS")));
            try (GlooProcessGroup group = connect(timeout);
                    NDManager manager = NDManager.newBaseManager(Device.cpu())) {
                System.out.println("RESULT connected=" + group);
                switch (args[0]) {
                    case "collectives" -> collectives(group, manager, Path.of(System.getenv("OUT_DIR")));
                    case "kill" -> kill(group, manager, Integer.parseInt(System.getenv("VICTIM")));
                    case "stuck" -> stuck(group);
                    case "closeWhileBlocked" -> closeWhileBlocked(group);
                    default -> throw new IllegalArgumentException("unknown scenario " + args[0]);
                }
            }
            System.out.println("DONE");
            System.out.flush();
            System.exit(0);
        } catch (Throwable t) {
            t.printStackTrace(System.out);
            System.out.flush();
            System.exit(1);
        }
    }

    /** Through {@link ProcessGroup#fromEnvironment} (the TCP store) without STORE_DIR, else a file store there. */
    private static GlooProcessGroup connect(Duration timeout) {
        String dir = System.getenv("STORE_DIR");
        if (dir == null) {
            return (GlooProcessGroup) ProcessGroup.fromEnvironment(ProcessGroup.Options.builder().timeout(timeout)
                    .build());
        }
        DistributedEnvironment env = DistributedEnvironment.fromSystem();
        FileRendezvousStore store = new FileRendezvousStore(Path.of(dir), env.rank(), env.worldSize(), timeout);
        try {
            return GlooProcessGroup.connect(env, store, timeout);
        } catch (RuntimeException e) {
            store.close();
            throw e;
        }
    }

    private static void collectives(GlooProcessGroup g, NDManager m, Path out) throws IOException {
        int r = g.rank();
        int w = g.worldSize();
        Shape n = new Shape(DistData.N);

        NDArray sumExact = EngineArrays.create(m, DistData.exact(r, DistData.N), n);
        g.allReduce(ReduceOp.SUM, sumExact);
        write(out, "sumExact", r, sumExact);

        NDArray sumRandom = EngineArrays.create(m, DistData.randomFloats(r, DistData.N), n);
        NDArray avgRandom = EngineArrays.create(m, DistData.randomFloats(r, DistData.N), n);
        g.allReduce(ReduceOp.SUM, sumRandom);
        g.allReduce(ReduceOp.AVERAGE, avgRandom);
        write(out, "sumRandom", r, sumRandom);
        write(out, "avgRandom", r, avgRandom);

        NDArray sumDouble = EngineArrays.create(m, DistData.randomDoubles(r, DistData.N), n);
        NDArray avgDouble = EngineArrays.create(m, DistData.randomDoubles(r, DistData.N), n);
        g.allReduce(ReduceOp.SUM, sumDouble);
        g.allReduce(ReduceOp.AVERAGE, avgDouble);
        write(out, "sumDouble", r, sumDouble);
        write(out, "avgDouble", r, avgDouble);

        // several arrays in one call, one of them 2-D, one of a single element
        NDArray first = EngineArrays.create(m, DistData.exact(r, 12), new Shape(3, 4));
        NDArray second = EngineArrays.create(m, DistData.exact(r + 1, 1), new Shape(1));
        g.allReduce(ReduceOp.SUM, first, second);
        write(out, "multiFirst", r, first);
        write(out, "multiSecond", r, second);

        double[] hostSum = DistData.host(r);
        double[] hostAvg = DistData.host(r);
        g.allReduce(ReduceOp.SUM, hostSum);
        g.allReduce(ReduceOp.AVERAGE, hostAvg);
        write(out, "hostSum", r, doubles(hostSum));
        write(out, "hostAvg", r, doubles(hostAvg));

        int root = DistData.root(w);
        NDArray bcast = EngineArrays.create(m, DistData.randomFloats(r, DistData.N), n);
        NDArray bcastDouble = EngineArrays.create(m, DistData.randomDoubles(r, 1000), new Shape(1000));
        g.broadcast(root, bcast, bcastDouble);
        write(out, "broadcast", r, bcast);
        write(out, "broadcastDouble", r, bcastDouble);

        float[] rsData = DistData.exact(r, w * DistData.PART);
        NDArray rsIn = EngineArrays.create(m, rsData, new Shape(w * DistData.PART));
        NDArray rsOut = m.zeros(new Shape(DistData.PART));
        g.reduceScatter(ReduceOp.SUM, rsIn, rsOut);
        write(out, "reduceScatter", r, rsOut);
        System.out.println("RESULT reduceScatterInputUnchanged="
                + Arrays.equals(rsIn.toFloatArray(), rsData));
        NDArray rsAvg = m.zeros(new Shape(DistData.PART));
        g.reduceScatter(ReduceOp.AVERAGE, rsIn, rsAvg);
        write(out, "reduceScatterAvg", r, rsAvg);

        NDArray agIn = EngineArrays.create(m, DistData.randomFloats(r, DistData.PART), new Shape(DistData.PART));
        NDArray agOut = m.zeros(new Shape(w, DistData.PART));
        g.allGather(agIn, agOut);
        write(out, "allGather", r, agOut);

        // barrier: rank 0 arrives 1.5 s late; nobody leaves before it arrives
        if (r == 0) {
            sleep(1500);
        }
        long t0 = System.nanoTime();
        g.barrier();
        System.out.println("RESULT barrierWaitMs=" + (System.nanoTime() - t0) / 1_000_000);
    }

    private static void kill(GlooProcessGroup g, NDManager m, int victim) {
        NDArray x = EngineArrays.create(m, DistData.randomFloats(g.rank(), DistData.N), new Shape(DistData.N));
        for (int i = 0; i < 3; i++) {
            g.allReduce(ReduceOp.SUM, x);
        }
        if (g.rank() == victim) {
            System.out.println("VICTIM-READY");
            System.out.flush();
            sleep(600_000); // killed by the test long before
            return;
        }
        System.out.println("SURVIVOR-BLOCKED");
        System.out.flush();
        long t0 = System.nanoTime();
        try {
            g.allReduce(ReduceOp.SUM, x);
            System.out.println("RESULT failure=none");
        } catch (ProcessGroupException e) {
            System.out.println("RESULT failureMs=" + (System.nanoTime() - t0) / 1_000_000);
            System.out.println("RESULT failure=" + e.getMessage().replace('\n', ' '));
            System.out.println("RESULT lostRank=" + e.lostRank());
        }
        long t1 = System.nanoTime();
        try {
            g.barrier();
            System.out.println("RESULT second=none");
        } catch (ProcessGroupException e) {
            System.out.println("RESULT secondMs=" + (System.nanoTime() - t1) / 1_000_000);
            System.out.println("RESULT second=" + e.getMessage().replace('\n', ' '));
        }
    }

    private static void stuck(GlooProcessGroup g) {
        if (g.rank() == 1) {
            sleep(g.timeout().toMillis() + 4000); // misses the barrier, then leaves without a word
            return;
        }
        long t0 = System.nanoTime();
        try {
            g.barrier();
            System.out.println("RESULT failure=none");
        } catch (ProcessGroupException e) {
            System.out.println("RESULT failureMs=" + (System.nanoTime() - t0) / 1_000_000);
            System.out.println("RESULT failure=" + e.getMessage().replace('\n', ' '));
            System.out.println("RESULT lostRank=" + e.lostRank());
        }
    }

    private static void closeWhileBlocked(GlooProcessGroup g) throws InterruptedException {
        if (g.rank() == 1) {
            sleep(3000); // never enters the barrier
            return;
        }
        Thread closer = new Thread(() -> {
            sleep(1000);
            g.close();
        });
        closer.start();
        long t0 = System.nanoTime();
        try {
            g.barrier();
            System.out.println("RESULT failure=none");
        } catch (ProcessGroupException e) {
            System.out.println("RESULT failureMs=" + (System.nanoTime() - t0) / 1_000_000);
            System.out.println("RESULT failure=" + e.getMessage().replace('\n', ' '));
        }
        closer.join();
    }

    private static ByteBuffer doubles(double[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * Double.BYTES).order(ByteOrder.nativeOrder());
        b.asDoubleBuffer().put(values);
        return b;
    }

    private static void write(Path out, String name, int rank, NDArray a) throws IOException {
        write(out, name, rank, a.toByteBuffer());
    }

    private static void write(Path out, String name, int rank, ByteBuffer bytes) throws IOException {
        byte[] b = new byte[bytes.remaining()];
        bytes.duplicate().get(b);
        Files.write(out.resolve(name + ".rank" + rank + ".bin"), b);
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
