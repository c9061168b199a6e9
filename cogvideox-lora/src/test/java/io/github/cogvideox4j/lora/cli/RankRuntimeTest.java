package io.github.cogvideox4j.lora.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.cogvideox4j.core.dist.ProcessGroup;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** One voice: what a process logs as rank 0, as another rank, and alone; and the group options from the launcher. */
class RankRuntimeTest {
    @TempDir
    Path tmp;

    /** Runs {@link LaunchTestMain} {@code log} in a JVM of its own with the given variables; returns its output. */
    private String logAs(Map<String, String> env) throws IOException, InterruptedException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Path log = tmp.resolve("rank.log");
        ProcessBuilder pb = new ProcessBuilder(java, "-Dai.djl.offline=true", "-cp",
                System.getProperty("java.class.path"), LaunchTestMain.class.getName(), "log")
                .redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().keySet().removeAll(List.of("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE",
                RankRuntime.LAUNCHER_PID_ENV));
        pb.environment().putAll(env);
        Process p = pb.start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        String out = Files.readString(log);
        assertThat(p.exitValue()).as(out).isZero();
        return out;
    }

    private static List<String> linesWith(String out, String text) {
        return out.lines().filter(l -> l.contains(text)).toList();
    }

    @Test
    void aRankOtherThanZeroLogsWarningsOnly() throws Exception {
        String out = logAs(Map.of("RANK", "1", "WORLD_SIZE", "2"));

        assertThat(out).doesNotContain("info from rank 1");
        assertThat(linesWith(out, "warning from rank 1")).hasSize(1);
    }

    @Test
    void rankZeroLogsAsBefore() throws Exception {
        String out = logAs(Map.of("RANK", "0", "WORLD_SIZE", "2"));

        assertThat(linesWith(out, "info from rank 0")).hasSize(1);
        assertThat(linesWith(out, "warning from rank 0")).hasSize(1);
    }

    @Test
    void withoutALauncherEveryLogLineOfAMultiRankRunStartsWithItsRank() throws Exception {
        String zero = logAs(Map.of("RANK", "0", "WORLD_SIZE", "2"));
        String one = logAs(Map.of("RANK", "1", "WORLD_SIZE", "2"));

        assertThat(linesWith(zero, " from rank 0")).hasSize(2).allMatch(l -> l.startsWith("[rank 0] "));
        assertThat(linesWith(one, " from rank 1")).hasSize(1).allMatch(l -> l.startsWith("[rank 1] "));
    }

    @Test
    void aProcessAloneLogsInfoWithoutARankTag() throws Exception {
        String out = logAs(Map.of());

        assertThat(linesWith(out, "info from rank 0")).hasSize(1).noneMatch(l -> l.contains("[rank"));
    }

    @Test
    void underTheLauncherTheRanksLogOnceEachWithTheLaunchersPrefixOnly() {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new LaunchCommand(LaunchTestMain.class.getName()))
                .setOut(new PrintWriter(out)).setErr(new PrintWriter(err));
        int code = cli.execute("--nproc-per-node", "2", "--", "log");

        assertThat(code).as(err.toString()).isZero();
        List<String> lines = new ArrayList<>(out.toString().lines().toList());
        lines.addAll(err.toString().lines().toList());
        assertThat(lines.stream().filter(l -> l.contains(" from rank "))).hasSize(3)
                .noneMatch(l -> l.indexOf("[rank") != l.lastIndexOf("[rank"));
        assertThat(lines).anyMatch(l -> l.startsWith("[rank 0] ") && l.contains("info from rank 0"))
                .anyMatch(l -> l.startsWith("[rank 0] ") && l.contains("warning from rank 0"))
                .anyMatch(l -> l.startsWith("[rank 1] ") && l.contains("warning from rank 1"))
                .noneMatch(l -> l.contains("info from rank 1"));
    }

    @Test
    void theGroupTimeoutComesFromTheLaunchersVariable() {
        ProcessGroup.Options o = RankRuntime.groupOptions(Map.of(RankRuntime.TIMEOUT_ENV, "12"), "abc");

        assertThat(o.timeout()).isEqualTo(Duration.ofSeconds(12));
        assertThat(o.fingerprint()).isEqualTo("abc");
    }

    @Test
    void withoutTheVariableTheGroupTimeoutIsTheDefault() {
        assertThat(RankRuntime.groupOptions(Map.of(), "").timeout()).isEqualTo(ProcessGroup.Options.DEFAULT_TIMEOUT);
    }

    @Test
    void aTimeoutThatIsNotAPositiveNumberIsRefusedByName() {
        assertThatThrownBy(() -> RankRuntime.groupOptions(Map.of(RankRuntime.TIMEOUT_ENV, "soon"), ""))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(RankRuntime.TIMEOUT_ENV)
                .hasMessageContaining("'soon'");
        assertThatThrownBy(() -> RankRuntime.groupOptions(Map.of(RankRuntime.TIMEOUT_ENV, "0"), ""))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("must be positive, got 0");
    }
}
