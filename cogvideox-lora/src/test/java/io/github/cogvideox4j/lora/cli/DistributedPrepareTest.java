package io.github.cogvideox4j.lora.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Distributed {@code prepare} across processes: {@code cogvideox launch --nproc-per-node 2 -- prepare ...} (two JVMs,
 * barriers over the Gloo engine, rendezvous on 127.0.0.1) against a single-process prepare of the same dataset.
 */
class DistributedPrepareTest {
    @TempDir
    Path tmp;

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Test
    void twoRankProcessesUnderTheLauncherWriteTheSameEntriesAndBytesAsOneProcess() throws Exception {
        Path data = PrepareCommandTest.dataset(tmp, 5);
        Path single = tmp.resolve("cache-single");
        Path sharded = tmp.resolve("cache-sharded");
        int alone = new CommandLine(new CogVideoXCli()).setOut(new PrintWriter(new StringWriter()))
                .execute(PrepareCommandTest.args(data, single).toArray(new String[0]));
        assertThat(alone).isZero();

        List<String> cmd = new ArrayList<>(List.of("launch", "--nproc-per-node", "2", "--timeout-seconds", "60",
                "--master-port", Integer.toString(freePort()), "--"));
        cmd.addAll(PrepareCommandTest.args(data, sharded));
        cmd.add("--no-progress");
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = assertTimeoutPreemptively(Duration.ofMinutes(4), () -> new CommandLine(new CogVideoXCli())
                .setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(cmd.toArray(new String[0])));

        assertThat(code).as(err.toString()).isZero();
        Map<String, byte[]> expected = PrepareCommandTest.entryBytes(single);
        Map<String, byte[]> actual = PrepareCommandTest.entryBytes(sharded);
        assertThat(expected).hasSize(5);
        assertThat(actual.keySet()).isEqualTo(expected.keySet());
        for (String f : expected.keySet()) {
            assertThat(actual.get(f)).as(f).isEqualTo(expected.get(f));
        }
        assertThat(out.toString()).contains("[rank 0] encoded 5, already cached 0, skipped or broken 2")
                .contains("[rank 0] by rank: rank 0 encoded 3, cached 0; rank 1 encoded 2, cached 0");
        assertThat(out.toString().lines().filter(l -> l.startsWith("[rank 1]")))
                .as("rank 1 prints no report and logs warnings only")
                .allMatch(l -> l.contains(" WARN ") || l.contains(" ERROR "));
        System.err.println("two-process prepare:\n" + out);
    }
}
