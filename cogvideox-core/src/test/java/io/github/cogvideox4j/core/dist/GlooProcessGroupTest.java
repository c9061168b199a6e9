package io.github.cogvideox4j.core.dist;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.cogvideox4j.core.testing.Ranks;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The Gloo collectives across real processes: 2 and 4 ranks (child JVMs on loopback, {@link DistWorker}), results
 * compared with values computed here from the same inputs ({@link DistData}), bit for bit.
 */
class GlooProcessGroupTest {
    private static final Duration TIMEOUT = Duration.ofSeconds(5);
    private static final Duration DEADLINE = Duration.ofSeconds(180);
    private static final Map<Integer, Path> RUNS = new ConcurrentHashMap<>();

    @TempDir
    static Path tmp;

    @ParameterizedTest(name = "{0} ranks")
    @ValueSource(ints = {2, 4})
    void sumOfExactlyRepresentableValuesIsExactOnEveryRank(int w) {
        Path out = collectives(w);
        float[] expected = new float[DistData.N];
        for (int r = 0; r < w; r++) {
            float[] x = DistData.exact(r, DistData.N);
            for (int i = 0; i < expected.length; i++) {
                expected[i] += x[i];
            }
        }
        for (int r = 0; r < w; r++) {
            assertSameBits(floats(out, "sumExact", r), expected, String.format("rank %s", r));
        }
    }

    @ParameterizedTest(name = "{0} ranks")
    @ValueSource(ints = {2, 4})
    void sumOfRandomFloatsIsBitwiseEqualOnEveryRank(int w) {
        Path out = collectives(w);
        for (String name : List.of("sumRandom", "avgRandom", "sumDouble", "avgDouble")) {
            byte[] rank0 = bytes(out, name, 0);
            for (int r = 1; r < w; r++) {
                assertThat(bytes(out, name, r)).as("%s on rank %s against rank 0", name, r).isEqualTo(rank0);
            }
        }
    }

    @Test
    void sumOfRandomFloatsOverTwoRanksIsTheRoundedPairSum() {
        Path out = collectives(2);
        float[] a = DistData.randomFloats(0, DistData.N);
        float[] b = DistData.randomFloats(1, DistData.N);
        float[] expected = new float[DistData.N];
        for (int i = 0; i < expected.length; i++) {
            expected[i] = a[i] + b[i];
        }
        assertSameBits(floats(out, "sumRandom", 0), expected, "rank 0");
    }

    @Test
    void sumOfRandomDoublesOverTwoRanksIsTheRoundedPairSum() {
        Path out = collectives(2);
        double[] a = DistData.randomDoubles(0, DistData.N);
        double[] b = DistData.randomDoubles(1, DistData.N);
        double[] expected = new double[DistData.N];
        for (int i = 0; i < expected.length; i++) {
            expected[i] = a[i] + b[i];
        }
        assertSameBits(doubles(out, "sumDouble", 0), expected, "rank 0");
    }

    @ParameterizedTest(name = "{0} ranks")
    @ValueSource(ints = {2, 4})
    void averageIsTheSumDividedByTheWorldSize(int w) {
        Path out = collectives(w);
        float[] sum = floats(out, "sumRandom", 0);
        float[] expected = new float[sum.length];
        for (int i = 0; i < sum.length; i++) {
            expected[i] = sum[i] / w;
        }
        assertSameBits(floats(out, "avgRandom", 0), expected, "rank 0");
        double[] sumD = doubles(out, "sumDouble", 0);
        double[] expectedD = new double[sumD.length];
        for (int i = 0; i < sumD.length; i++) {
            expectedD[i] = sumD[i] / w;
        }
        assertSameBits(doubles(out, "avgDouble", 0), expectedD, "rank 0");
    }

    @ParameterizedTest(name = "{0} ranks")
    @ValueSource(ints = {2, 4})
    void severalArraysInOneCallAreEachReduced(int w) {
        Path out = collectives(w);
        float[] first = new float[12];
        float[] second = new float[1];
        for (int r = 0; r < w; r++) {
            float[] f = DistData.exact(r, 12);
            for (int i = 0; i < 12; i++) {
                first[i] += f[i];
            }
            second[0] += DistData.exact(r + 1, 1)[0];
        }
        for (int r = 0; r < w; r++) {
            assertSameBits(floats(out, "multiFirst", r), first, String.format("rank %s", r));
            assertSameBits(floats(out, "multiSecond", r), second, String.format("rank %s", r));
        }
    }

    @ParameterizedTest(name = "{0} ranks")
    @ValueSource(ints = {2, 4})
    void hostDoublesAreSummedAndAveraged(int w) {
        Path out = collectives(w);
        double[] sum = new double[DistData.HOST];
        for (int r = 0; r < w; r++) {
            double[] x = DistData.host(r);
            for (int i = 0; i < sum.length; i++) {
                sum[i] += x[i];
            }
        }
        double[] avg = new double[sum.length];
        for (int i = 0; i < sum.length; i++) {
            avg[i] = sum[i] / w;
        }
        for (int r = 0; r < w; r++) {
            assertSameBits(doubles(out, "hostSum", r), sum, String.format("rank %s", r));
            assertSameBits(doubles(out, "hostAvg", r), avg, String.format("rank %s", r));
        }
    }

    @ParameterizedTest(name = "{0} ranks")
    @ValueSource(ints = {2, 4})
    void broadcastFromANonZeroRootCopiesItsValuesToEveryRank(int w) {
        Path out = collectives(w);
        int root = DistData.root(w);
        for (int r = 0; r < w; r++) {
            assertSameBits(floats(out, "broadcast", r), DistData.randomFloats(root, DistData.N),
                    String.format("rank %s", r));
            assertSameBits(doubles(out, "broadcastDouble", r), DistData.randomDoubles(root, 1000),
                    String.format("rank %s", r));
        }
    }

    @ParameterizedTest(name = "{0} ranks")
    @ValueSource(ints = {2, 4})
    void reduceScatterLeavesEachRankItsPartOfTheSum(int w) {
        Path out = collectives(w);
        int n = DistData.PART;
        float[] sum = new float[w * n];
        for (int r = 0; r < w; r++) {
            float[] x = DistData.exact(r, w * n);
            for (int i = 0; i < sum.length; i++) {
                sum[i] += x[i];
            }
        }
        for (int r = 0; r < w; r++) {
            float[] part = new float[n];
            float[] avg = new float[n];
            for (int i = 0; i < n; i++) {
                part[i] = sum[r * n + i];
                avg[i] = part[i] / w;
            }
            assertSameBits(floats(out, "reduceScatter", r), part, String.format("rank %s", r));
            assertSameBits(floats(out, "reduceScatterAvg", r), avg, String.format("rank %s", r));
        }
    }

    @ParameterizedTest(name = "{0} ranks")
    @ValueSource(ints = {2, 4})
    void reduceScatterLeavesItsInputUnchanged(int w) {
        collectives(w);
        for (int r = 0; r < w; r++) {
            assertThat(result(w, r, "reduceScatterInputUnchanged")).as("rank %s", r).isEqualTo("true");
        }
    }

    @ParameterizedTest(name = "{0} ranks")
    @ValueSource(ints = {2, 4})
    void allGatherConcatenatesTheRanksInputsInRankOrder(int w) {
        Path out = collectives(w);
        int n = DistData.PART;
        float[] expected = new float[w * n];
        for (int r = 0; r < w; r++) {
            System.arraycopy(DistData.randomFloats(r, n), 0, expected, r * n, n);
        }
        for (int r = 0; r < w; r++) {
            assertSameBits(floats(out, "allGather", r), expected, String.format("rank %s", r));
        }
    }

    @ParameterizedTest(name = "{0} ranks")
    @ValueSource(ints = {2, 4})
    void barrierHoldsEveryRankUntilTheLastOneArrives(int w) {
        collectives(w);
        for (int r = 1; r < w; r++) {
            // rank 0 arrives 1500 ms after the others
            assertThat(Long.parseLong(result(w, r, "barrierWaitMs"))).as("rank %s", r).isGreaterThanOrEqualTo(1000);
        }
    }

    @ParameterizedTest(name = "{0} ranks, the last one killed")
    @ValueSource(ints = {2, 4})
    void aKilledRankMakesEveryOtherRankFailWithinTheTimeoutNamingIt(int w) {
        int victim = w == 2 ? 1 : 2;
        Path store = tmp.resolve("kill-" + w);
        try (Ranks ranks = Ranks.start(DistWorker.class, w, Map.of("STORE_DIR", store.toString(), "TIMEOUT_MS",
                Long.toString(TIMEOUT.toMillis()), "VICTIM", Integer.toString(victim)), List.of("kill"))) {
            for (int r = 0; r < w; r++) {
                ranks.awaitLine(r, l -> l.equals("VICTIM-READY") || l.equals("SURVIVOR-BLOCKED"), DEADLINE);
            }
            long killedAt = ranks.kill(victim);
            List<Ranks.Outcome> outcomes = ranks.await(DEADLINE);
            String all = Ranks.describe(outcomes);
            for (Ranks.Outcome o : outcomes) {
                if (o.rank() == victim) {
                    assertThat(o.exitCode()).as("victim's exit code (SIGKILL)").isEqualTo(137);
                    continue;
                }
                Map<String, String> res = Ranks.keyValues(o.output(), "RESULT ");
                assertThat(o.exitCode()).as(all).isZero();
                assertThat(res.get("failure")).as(all).contains("rank " + victim + " of " + w + " was lost (its "
                        + "process exited or its connection closed) while rank " + o.rank() + " ran allReduce");
                assertThat(res.get("lostRank")).as(all).isEqualTo("OptionalInt[" + victim + "]");
                assertThat(Duration.ofNanos(o.exitNanos() - killedAt)).as("rank %s ended after the kill", o.rank())
                        .isLessThan(TIMEOUT.plusSeconds(5));
            }
        }
    }

    @ParameterizedTest(name = "{0} ranks, the TCP store of rank 0")
    @ValueSource(ints = {2, 4})
    void throughTheTcpStoreAKilledRankIsNamedByEveryOtherRank(int w) {
        // 2 ranks: rank 0 itself is killed, with the store it hosts; 4 ranks: rank 2
        int victim = w == 2 ? 0 : 2;
        try (Ranks ranks = Ranks.start(DistWorker.class, w, Map.of("TIMEOUT_MS", Long.toString(TIMEOUT.toMillis()),
                "VICTIM", Integer.toString(victim)), List.of("kill"))) {
            for (int r = 0; r < w; r++) {
                ranks.awaitLine(r, l -> l.equals("VICTIM-READY") || l.equals("SURVIVOR-BLOCKED"), DEADLINE);
            }
            long killedAt = ranks.kill(victim);
            List<Ranks.Outcome> outcomes = ranks.await(DEADLINE);
            String all = Ranks.describe(outcomes);
            for (Ranks.Outcome o : outcomes) {
                if (o.rank() == victim) {
                    continue;
                }
                Map<String, String> res = Ranks.keyValues(o.output(), "RESULT ");
                assertThat(res.get("failure")).as(all).contains("rank " + victim + " of " + w + " was lost");
                assertThat(res.get("lostRank")).as(all).isEqualTo("OptionalInt[" + victim + "]");
                assertThat(Duration.ofNanos(o.exitNanos() - killedAt)).as("rank %s ended after the kill", o.rank())
                        .isLessThan(TIMEOUT.plusSeconds(5));
            }
        }
    }

    @Test
    void aGroupThatFailedRefusesLaterCallsAtOnce() {
        Path store = tmp.resolve("broken");
        try (Ranks ranks = Ranks.start(DistWorker.class, 2, Map.of("STORE_DIR", store.toString(), "TIMEOUT_MS",
                Long.toString(TIMEOUT.toMillis()), "VICTIM", "1"), List.of("kill"))) {
            ranks.awaitLine(1, "VICTIM-READY"::equals, DEADLINE);
            ranks.awaitLine(0, "SURVIVOR-BLOCKED"::equals, DEADLINE);
            ranks.kill(1);
            Ranks.Outcome survivor = ranks.await(DEADLINE).get(0);
            Map<String, String> res = Ranks.keyValues(survivor.output(), "RESULT ");
            assertThat(res.get("second")).as(survivor.output()).contains("the process group broke in an earlier "
                    + "call; barrier refused").contains("rank 1 of 2 was lost");
            assertThat(Long.parseLong(res.get("secondMs"))).isLessThan(500);
        }
    }

    @Test
    void aRankThatNeverArrivesMakesTheOthersTimeOutWithoutNamingALostRank() {
        Path store = tmp.resolve("stuck");
        try (Ranks ranks = Ranks.start(DistWorker.class, 2, Map.of("STORE_DIR", store.toString(), "TIMEOUT_MS",
                Long.toString(TIMEOUT.toMillis())), List.of("stuck"))) {
            List<Ranks.Outcome> outcomes = ranks.await(DEADLINE);
            Map<String, String> res = Ranks.keyValues(outcomes.get(0).output(), "RESULT ");
            String all = Ranks.describe(outcomes);
            assertThat(res.get("failure")).as(all).contains("rank 0 of 2 failed in barrier")
                    .contains("no rank is known to be lost");
            assertThat(res.get("lostRank")).as(all).isEqualTo("OptionalInt.empty");
            assertThat(Long.parseLong(res.get("failureMs"))).as(all)
                    .isBetween(TIMEOUT.toMillis() - 100, TIMEOUT.toMillis() + 3000);
        }
    }

    @Test
    void closingTheGroupFromAnotherThreadEndsABlockedCallWithinTheTimeout() {
        Path store = tmp.resolve("close");
        try (Ranks ranks = Ranks.start(DistWorker.class, 2, Map.of("STORE_DIR", store.toString(), "TIMEOUT_MS",
                Long.toString(TIMEOUT.toMillis())), List.of("closeWhileBlocked"))) {
            List<Ranks.Outcome> outcomes = ranks.await(DEADLINE);
            Map<String, String> res = Ranks.keyValues(outcomes.get(0).output(), "RESULT ");
            String all = Ranks.describe(outcomes);
            assertThat(outcomes).as(all).allSatisfy(o -> assertThat(o.exitCode()).isZero());
            assertThat(res.get("failure")).as(all).contains("rank 0 of 2: the group was closed by another thread "
                    + "while this rank ran barrier");
            assertThat(Long.parseLong(res.get("failureMs"))).as(all).isLessThan(TIMEOUT.toMillis() + 3000);
        }
    }

    // ---- the shared collective run of each world size ----

    private static final Map<Integer, List<Ranks.Outcome>> OUTCOMES = new ConcurrentHashMap<>();

    private static synchronized Path collectives(int w) {
        return RUNS.computeIfAbsent(w, size -> {
            try {
                Path out = Files.createDirectories(tmp.resolve("collectives-" + size));
                Path store = tmp.resolve("store-" + size);
                try (Ranks ranks = Ranks.start(DistWorker.class, size, Map.of("STORE_DIR", store.toString(),
                        "OUT_DIR", out.toString(), "TIMEOUT_MS", Long.toString(TIMEOUT.toMillis() * 6)),
                        List.of("collectives"))) {
                    List<Ranks.Outcome> outcomes = ranks.await(DEADLINE);
                    String all = Ranks.describe(outcomes);
                    assertThat(outcomes).as(all).allSatisfy(o -> {
                        assertThat(o.exitCode()).isZero();
                        assertThat(o.output()).contains("DONE");
                    });
                    OUTCOMES.put(size, outcomes);
                }
                return out;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
    }

    private static void assertSameBits(float[] actual, float[] expected, String what) {
        assertThat(actual.length).as("%s: length", what).isEqualTo(expected.length);
        int i = Arrays.mismatch(actual, expected);
        assertThat(i).as("%s: first differing element %s: actual %s, expected %s", what, i,
                i < 0 ? 0 : actual[i], i < 0 ? 0 : expected[i]).isEqualTo(-1);
    }

    private static void assertSameBits(double[] actual, double[] expected, String what) {
        assertThat(actual.length).as("%s: length", what).isEqualTo(expected.length);
        int i = Arrays.mismatch(actual, expected);
        assertThat(i).as("%s: first differing element %s: actual %s, expected %s", what, i,
                i < 0 ? 0 : actual[i], i < 0 ? 0 : expected[i]).isEqualTo(-1);
    }

    private static String result(int w, int rank, String key) {
        return Ranks.keyValues(OUTCOMES.get(w).get(rank).output(), "RESULT ").get(key);
    }

    private static byte[] bytes(Path out, String name, int rank) {
        try {
            return Files.readAllBytes(out.resolve(name + ".rank" + rank + ".bin"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static float[] floats(Path out, String name, int rank) {
        ByteBuffer b = ByteBuffer.wrap(bytes(out, name, rank)).order(ByteOrder.nativeOrder());
        float[] f = new float[b.remaining() / Float.BYTES];
        b.asFloatBuffer().get(f);
        return f;
    }

    private static double[] doubles(Path out, String name, int rank) {
        ByteBuffer b = ByteBuffer.wrap(bytes(out, name, rank)).order(ByteOrder.nativeOrder());
        double[] d = new double[b.remaining() / Double.BYTES];
        b.asDoubleBuffer().get(d);
        return d;
    }
}
