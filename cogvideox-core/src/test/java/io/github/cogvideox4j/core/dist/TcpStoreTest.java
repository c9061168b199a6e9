package io.github.cogvideox4j.core.dist;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The rendezvous store: ranks meet, agree or are refused with a reason, and a lost rank is named. Loopback only. */
class TcpStoreTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(5);
    private final ExecutorService pool = Executors.newCachedThreadPool();
    private final List<TcpStore> open = new ArrayList<>();

    @AfterEach
    void closeAll() {
        synchronized (open) {
            open.forEach(TcpStore::close);
        }
        pool.shutdownNow();
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static DistributedEnvironment env(int rank, int world, int port) {
        return new DistributedEnvironment(rank, world, rank, world, "127.0.0.1", port);
    }

    /** Starts one thread per rank; each connects with the given environment and fingerprint. */
    private List<Future<TcpStore>> join(int n, IntFunction<DistributedEnvironment> envOf, IntFunction<String> fp) {
        List<Future<TcpStore>> f = new ArrayList<>();
        for (int r = 0; r < n; r++) {
            int rank = r;
            f.add(pool.submit(() -> {
                TcpStore s = TcpStore.connect(envOf.apply(rank), TIMEOUT, fp.apply(rank));
                synchronized (open) {
                    open.add(s);
                }
                return s;
            }));
        }
        return f;
    }

    private static Throwable failureOf(Future<TcpStore> f) throws InterruptedException {
        try {
            f.get(30, TimeUnit.SECONDS);
            return null;
        } catch (java.util.concurrent.ExecutionException e) {
            return e.getCause();
        } catch (java.util.concurrent.TimeoutException e) {
            throw new AssertionError("a rank neither joined nor failed within 30 s", e);
        }
    }

    @Test
    void fourRanksJoinAndShareKeysAndCounters() throws Exception {
        int port = freePort();
        List<Future<TcpStore>> f = join(4, r -> env(r, 4, port), r -> "same");
        List<TcpStore> stores = new ArrayList<>();
        for (Future<TcpStore> x : f) {
            stores.add(x.get(30, TimeUnit.SECONDS));
        }
        stores.get(2).set("addr/2", "two".getBytes(StandardCharsets.UTF_8));
        Future<byte[]> waiting = pool.submit(() -> stores.get(1).get("addr/3"));
        stores.get(3).set("addr/3", "three".getBytes(StandardCharsets.UTF_8));
        assertThat(new String(waiting.get(10, TimeUnit.SECONDS), StandardCharsets.UTF_8)).isEqualTo("three");
        assertThat(new String(stores.get(0).get("addr/2"), StandardCharsets.UTF_8)).isEqualTo("two");
        long total = 0;
        for (TcpStore s : stores) {
            total = Math.max(total, s.add("counter", 5));
        }
        assertThat(total).isEqualTo(20);
        assertThat(stores.get(1).lostRank()).isEmpty();
    }

    @Test
    void aPortInUseIsRefusedNamingThePort() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            int port = taken.getLocalPort();
            assertThatThrownBy(() -> TcpStore.connect(env(0, 2, port), TIMEOUT, ""))
                    .isInstanceOf(ProcessGroupException.class)
                    .hasMessageContaining("127.0.0.1:" + port).hasMessageContaining("in use")
                    .hasMessageContaining("MASTER_PORT");
        }
    }

    @Test
    void aRankWithAnotherWorldSizeFailsEveryRankWithBothSizes() throws Exception {
        int port = freePort();
        List<Future<TcpStore>> f = join(2, r -> env(r, r == 1 ? 3 : 2, port), r -> "");
        Throwable zero = failureOf(f.get(0));
        Throwable one = failureOf(f.get(1));
        assertThat(one).isInstanceOf(ProcessGroupException.class).hasMessageContaining("WORLD_SIZE=3")
                .hasMessageContaining("rank 0 has WORLD_SIZE=2");
        assertThat(zero).isInstanceOf(ProcessGroupException.class).hasMessageContaining("WORLD_SIZE=3");
    }

    @Test
    void twoProcessesWithTheSameRankAreRefused() throws Exception {
        int port = freePort();
        List<Future<TcpStore>> f = join(3, r -> env(r == 2 ? 1 : r, 3, port), r -> "");
        List<Throwable> failures = new ArrayList<>();
        for (Future<TcpStore> x : f) {
            failures.add(failureOf(x));
        }
        assertThat(failures).filteredOn(t -> t != null && t.getMessage().contains("RANK=1")
                && t.getMessage().contains("unique")).isNotEmpty();
        assertThat(failures).allMatch(t -> t instanceof ProcessGroupException);
    }

    @Test
    void ranksWithDifferentFingerprintsAllFailNamingTheRank() throws Exception {
        int port = freePort();
        List<Future<TcpStore>> f = join(3, r -> env(r, 3, port), r -> r == 2 ? "config-b" : "config-a");
        for (Future<TcpStore> x : f) {
            assertThat(failureOf(x)).isInstanceOf(ProcessGroupException.class)
                    .hasMessageContaining("ranks [2]").hasMessageContaining("different configuration")
                    .hasMessageContaining("config-b");
        }
    }

    @Test
    void aRankThatNeverJoinsIsNamedAfterTheTimeout() throws Exception {
        int port = freePort();
        long t0 = System.nanoTime();
        List<Future<TcpStore>> f = join(2, r -> env(r, 3, port), r -> "");
        for (Future<TcpStore> x : f) {
            assertThat(failureOf(x)).isInstanceOf(ProcessGroupException.class)
                    .hasMessageContaining("ranks [2] of 3 did not join");
        }
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(TIMEOUT.multipliedBy(3));
    }

    @Test
    void aRankThatVanishesIsNamedAndWaitingRanksFail() throws Exception {
        int port = freePort();
        List<Future<TcpStore>> f = join(3, r -> env(r, 3, port), r -> "");
        List<TcpStore> stores = new ArrayList<>();
        for (Future<TcpStore> x : f) {
            stores.add(x.get(30, TimeUnit.SECONDS));
        }
        Future<byte[]> waiting = pool.submit(() -> stores.get(1).get("never-set"));
        stores.get(2).abandon();                                   // as a SIGKILLed process: no goodbye
        assertThat(stores.get(0).lostRank()).isEqualTo(OptionalInt.of(2));
        Throwable t = null;
        try {
            waiting.get(10, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
            t = e.getCause();
        }
        assertThat(t).isInstanceOf(ProcessGroupException.class).hasMessageContaining("rank 2 of 3 was lost");
    }

    @Test
    void aRankThatSaysGoodbyeIsNotLost() throws Exception {
        int port = freePort();
        List<Future<TcpStore>> f = join(2, r -> env(r, 2, port), r -> "");
        TcpStore zero = f.get(0).get(30, TimeUnit.SECONDS);
        f.get(1).get(30, TimeUnit.SECONDS).close();
        assertThat(zero.lostRank()).isEmpty();
    }

    @Test
    void whenRankZeroIsGoneTheOthersNameRankZero() throws Exception {
        int port = freePort();
        List<Future<TcpStore>> f = join(2, r -> env(r, 2, port), r -> "");
        TcpStore zero = f.get(0).get(30, TimeUnit.SECONDS);
        TcpStore one = f.get(1).get(30, TimeUnit.SECONDS);
        zero.abandon();                                            // stops the server with its process
        assertThat(one.lostRank()).isEqualTo(OptionalInt.of(0));
        assertThatThrownBy(() -> one.get("anything")).isInstanceOf(ProcessGroupException.class)
                .hasMessageContaining("rank 0");
    }

    @Test
    void aRankWithoutAServerGivesUpAfterTheTimeoutNamingTheAddress() throws Exception {
        int port = freePort();
        assertThatThrownBy(() -> TcpStore.connect(env(1, 2, port), Duration.ofSeconds(1), ""))
                .isInstanceOf(ProcessGroupException.class).hasMessageContaining("127.0.0.1:" + port)
                .hasMessageContaining("could not reach");
    }
}
