package io.github.cogvideox4j.lora.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import picocli.CommandLine;

/**
 * {@code cogvideox launch}: ranks as child JVMs running {@link LaunchTestMain} (or the real CLI), their output, their
 * variables, and what happens when a rank or the launcher ends early. Every test is bounded in time.
 */
class LaunchCommandTest {
    private static final Duration BOUND = Duration.ofSeconds(90);

    @TempDir
    Path tmp;

    private record Result(int code, String out, String err) {
        List<String> outLines() {
            return out.lines().toList();
        }

        List<String> errLines() {
            return err.lines().toList();
        }
    }

    /** Runs {@code launch} in this JVM with {@link LaunchTestMain} as the ranks' main class. */
    private static Result launch(String... args) {
        return assertTimeoutPreemptively(BOUND, () -> execute(new CommandLine(new LaunchCommand(
                LaunchTestMain.class.getName())), args));
    }

    private static Result execute(CommandLine cli, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cli.setOut(new PrintWriter(out)).setErr(new PrintWriter(err));
        int code = cli.execute(args);
        return new Result(code, out.toString(), err.toString());
    }

    private static long pidOf(Path dir, int rank) throws IOException {
        return Long.parseLong(Files.readString(dir.resolve("rank-" + rank + ".pid")).trim());
    }

    private static boolean alive(long pid) {
        return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }

    private static void awaitPidFiles(Path dir, int ranks, Process orNull) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            long n;
            try (Stream<Path> s = Files.list(dir)) {
                n = s.filter(f -> f.getFileName().toString().endsWith(".pid")).count();
            }
            if (n == ranks) {
                return;
            }
            assertThat(System.nanoTime()).as("ranks started in time").isLessThan(deadline);
            if (orNull != null) {
                assertThat(orNull.isAlive()).as("launcher still running").isTrue();
            }
            Thread.sleep(20);
        }
    }

    @Test
    void everyLineOfEveryRankArrivesWholeWithItsRankOnTheSameStream() {
        Result r = launch("--nproc-per-node", "2", "--", "lines", "300");

        assertThat(r.code()).as(r.err()).isZero();
        Pattern outLine = Pattern.compile("\\[rank (\\d)] rank \\1 out \\d+ x{300}");
        Pattern errLine = Pattern.compile("\\[rank (\\d)] rank \\1 err \\d+ x{300}");
        assertThat(r.outLines()).hasSize(600).allMatch(l -> outLine.matcher(l).matches());
        assertThat(r.errLines()).hasSize(600).allMatch(l -> errLine.matcher(l).matches());
        for (int rank = 0; rank < 2; rank++) {
            String prefix = "[rank " + rank + "] rank " + rank + " out ";
            assertThat(r.outLines().stream().filter(l -> l.startsWith(prefix))).hasSize(300);
        }
    }

    @Test
    void eachRankGetsTheTorchrunVariablesOfItsNodeAndTheTimeout() {
        Result r = launch("--nproc-per-node", "2", "--nnodes", "3", "--node-rank", "1", "--master-addr", "10.1.2.3",
                "--master-port", "29999", "--timeout-seconds", "7", "--", "env");

        assertThat(r.code()).as(r.err()).isZero();
        for (int local = 0; local < 2; local++) {
            int rank = 2 + local;
            String p = "[rank " + rank + "] env ";
            assertThat(r.outLines()).contains(p + "RANK=" + rank, p + "WORLD_SIZE=6", p + "LOCAL_RANK=" + local,
                    p + "LOCAL_WORLD_SIZE=2", p + "GROUP_RANK=1", p + "MASTER_ADDR=10.1.2.3", p + "MASTER_PORT=29999",
                    p + "THP_MEM_ALLOC_ENABLE=1", p + RankRuntime.TIMEOUT_ENV + "=7");
        }
    }

    @Test
    void masterAddressAndPortDefaultToLoopbackAnd29500() {
        Result r = launch("--nproc-per-node", "1", "--", "env");

        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.outLines()).contains("[rank 0] env RANK=0", "[rank 0] env WORLD_SIZE=1",
                "[rank 0] env MASTER_ADDR=127.0.0.1", "[rank 0] env MASTER_PORT=29500");
    }

    @Test
    void ranksRunWithTheLaunchersJvmOptionsAndOffline() {
        Result r = launch("--nproc-per-node", "1", "--", "env");

        List<String> expected = LaunchCommand.shareableJvmOptions(
                ManagementFactory.getRuntimeMXBean().getInputArguments());
        assertThat(r.outLines()).contains("[rank 0] jvm " + String.join(" ", expected), "[rank 0] offline=true");
    }

    @Test
    void debuggerAgentAndJmxPortOptionsAreNotShared() {
        List<String> shared = LaunchCommand.shareableJvmOptions(List.of("-Xmx3g",
                "-agentlib:jdwp=transport=dt_socket,server=y,suspend=n,address=5005", "-javaagent:/x/jacoco.jar",
                "-agentpath:/x/libprofiler.so", "-Xdebug", "-Xrunjdwp:transport=dt_socket",
                "-Dcom.sun.management.jmxremote.port=9010", "-Dfoo=bar"));

        assertThat(shared).containsExactly("-Xmx3g", "-Dfoo=bar", "-Dai.djl.offline=true");
    }

    @Test
    void anExplicitOfflineOptionIsKeptAsGiven() {
        assertThat(LaunchCommand.shareableJvmOptions(List.of("-Dai.djl.offline=true", "-Xss2m")))
                .containsExactly("-Dai.djl.offline=true", "-Xss2m");
    }

    @Test
    void aFailingRankStopsTheOthersAndTheLauncherExitsWithItsStatus() throws IOException {
        long t0 = System.nanoTime();
        Result r = launch("--nproc-per-node", "3", "--", "fail", "1", "3", tmp.toString());
        Duration took = Duration.ofNanos(System.nanoTime() - t0);

        assertThat(r.code()).isEqualTo(3);
        assertThat(r.err()).contains("cogvideox launch: rank 1 exited with status 3; stopping the other ranks")
                .contains("[rank 1] rank 1 fails now");
        assertThat(r.errLines()).anyMatch(l -> l.startsWith("cogvideox launch: failed: rank 1 exited with status 3 "
                + "(then rank 0 was killed by SIGTERM (status 143), rank 2 was killed by SIGTERM (status 143))"));
        assertThat(alive(pidOf(tmp, 0))).isFalse();
        assertThat(alive(pidOf(tmp, 2))).isFalse();
        assertThat(took).as("the sleeping ranks were stopped, not awaited").isLessThan(Duration.ofSeconds(60));
    }

    @Test
    void aRankThatOutlastsSigtermIsKilledAfterTheGrace() throws IOException {
        Result r = launch("--nproc-per-node", "2", "--grace-seconds", "1", "--", "fail", "1", "4", tmp.toString(),
                "stubborn");

        assertThat(r.code()).isEqualTo(4);
        assertThat(r.err()).contains("failed: rank 1 exited with status 4 (then rank 0 was killed by SIGKILL "
                + "(status 137))");
        assertThat(alive(pidOf(tmp, 0))).isFalse();
    }

    @Test
    void aKilledRankIsNamedWithItsSignal() throws Exception {
        CompletableFuture<Result> run = CompletableFuture.supplyAsync(() -> launch("--nproc-per-node", "2", "--",
                "sleep", tmp.toString()));
        awaitPidFiles(tmp, 2, null);
        ProcessHandle.of(pidOf(tmp, 1)).orElseThrow().destroyForcibly();

        Result r = run.get(BOUND.toSeconds(), TimeUnit.SECONDS);
        assertThat(r.code()).isEqualTo(137);
        assertThat(r.err()).contains("cogvideox launch: rank 1 was killed by SIGKILL (status 137); stopping the "
                + "other ranks");
        assertThat(alive(pidOf(tmp, 0))).isFalse();
    }

    @Test
    void ranksThatAllSucceedGiveExitCodeZeroAndNoLauncherMessage() {
        Result r = launch("--nproc-per-node", "2", "--", "lines", "1");

        assertThat(r.code()).isZero();
        assertThat(r.err()).doesNotContain("cogvideox launch:");
    }

    private Process launcherProcess(String... args) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-Dai.djl.offline=true", "-cp",
                System.getProperty("java.class.path"), LaunchTestMain.Launcher.class.getName()));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve("launcher.log").toFile())
                .start();
    }

    @Test
    void terminatingTheLauncherStopsItsRanks() throws Exception {
        Path pids = Files.createDirectories(tmp.resolve("pids"));
        Process launcher = launcherProcess("--nproc-per-node", "2", "--grace-seconds", "2", "--", "sleep",
                pids.toString());
        try {
            awaitPidFiles(pids, 2, launcher);
            launcher.destroy(); // SIGTERM: the launcher's shutdown hook stops the ranks

            assertThat(launcher.waitFor(30, TimeUnit.SECONDS)).isTrue();
            assertThat(alive(pidOf(pids, 0))).isFalse();
            assertThat(alive(pidOf(pids, 1))).isFalse();
            assertThat(Files.readString(tmp.resolve("launcher.log"))).contains("terminated: stopping the ranks");
        } finally {
            launcher.destroyForcibly();
        }
    }

    @Test
    void ranksEndThemselvesWhenTheLauncherIsKilled() throws Exception {
        Path pids = Files.createDirectories(tmp.resolve("pids"));
        Process launcher = launcherProcess("--nproc-per-node", "2", "--", "sleep", pids.toString());
        List<Long> ranks = new ArrayList<>();
        try {
            awaitPidFiles(pids, 2, launcher);
            ranks.add(pidOf(pids, 0));
            ranks.add(pidOf(pids, 1));
            launcher.destroyForcibly(); // SIGKILL: no hook runs; the ranks watch the launcher
            assertThat(launcher.waitFor(30, TimeUnit.SECONDS)).isTrue();

            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (ranks.stream().anyMatch(LaunchCommandTest::alive) && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertThat(ranks).noneMatch(LaunchCommandTest::alive);
        } finally {
            launcher.destroyForcibly();
            ranks.forEach(pid -> ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly));
        }
    }

    @Test
    void theRealCliRunsOnEveryRank() {
        Result r = assertTimeoutPreemptively(BOUND, () -> execute(new CommandLine(new CogVideoXCli()), "launch",
                "--nproc-per-node", "2", "--", "--version"));

        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.outLines()).contains("[rank 0] CogVideoX4J 0.1.0-SNAPSHOT", "[rank 1] CogVideoX4J 0.1.0-SNAPSHOT");
    }

    static Stream<Arguments> usageErrors() {
        return Stream.of(
                Arguments.of(List.of("--nproc-per-node", "0", "--", "train"),
                        "--nproc-per-node must be at least 1, got 0"),
                Arguments.of(List.of("--nproc-per-node", "1", "--nnodes", "0", "--", "train"),
                        "--nnodes must be at least 1, got 0"),
                Arguments.of(List.of("--nproc-per-node", "1", "--nnodes", "2", "--node-rank", "2", "--", "train"),
                        "--node-rank must be in [0, --nnodes=2), got 2"),
                Arguments.of(List.of("--nproc-per-node", "1", "--master-port", "0", "--", "train"),
                        "--master-port must be in [1, 65535], got 0"),
                Arguments.of(List.of("--nproc-per-node", "1", "--master-port", "65536", "--", "train"),
                        "--master-port must be in [1, 65535], got 65536"),
                Arguments.of(List.of("--nproc-per-node", "1", "--timeout-seconds", "0", "--", "train"),
                        "--timeout-seconds must be positive, got 0"),
                Arguments.of(List.of("--nproc-per-node", "2"), "no command after --"),
                Arguments.of(List.of("--nproc-per-node", "2", "--"), "no command after --"),
                Arguments.of(List.of("--nproc-per-node", "2", "--", "trian"), "unknown cogvideox command 'trian'"),
                Arguments.of(List.of("--nproc-per-node", "2", "--", "launch", "--nproc-per-node", "2"),
                        "a rank cannot run `launch` itself"),
                Arguments.of(List.of("--", "train"), "Missing required option: '--nproc-per-node"));
    }

    @ParameterizedTest(name = "{1}")
    @MethodSource("usageErrors")
    void aBadInvocationIsAUsageErrorThatSaysWhatIsWrongAndStartsNoRank(List<String> args, String message) {
        List<String> all = new ArrayList<>(List.of("launch"));
        all.addAll(args);
        Result r = execute(new CommandLine(new CogVideoXCli()), all.toArray(new String[0]));

        assertThat(r.code()).isEqualTo(CommandLine.ExitCode.USAGE);
        assertThat(r.err()).contains(message).contains("Usage: cogvideox launch").doesNotContain("[rank");
        assertThat(r.out()).isEmpty();
    }

    @Test
    void describesExitStatusesAndSignals() {
        assertThat(RankSupervisor.describe(3)).isEqualTo("exited with status 3");
        assertThat(RankSupervisor.describe(137)).isEqualTo("was killed by SIGKILL (status 137)");
        assertThat(RankSupervisor.describe(134)).isEqualTo("was killed by SIGABRT (status 134)");
        assertThat(RankSupervisor.describe(128 + 31)).isEqualTo("was killed by signal 31 (status 159)");
    }
}
