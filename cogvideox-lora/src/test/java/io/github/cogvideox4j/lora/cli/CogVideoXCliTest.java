package io.github.cogvideox4j.lora.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.cogvideox4j.core.config.CogVideoXVariant;
import io.github.cogvideox4j.core.testing.Golden;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The {@code cogvideox} command set: one name per job, and the installation self-check. */
class CogVideoXCliTest {
    private final StringWriter stdout = new StringWriter();
    private final StringWriter stderr = new StringWriter();

    private int run(String... args) {
        CommandLine cli = new CommandLine(new CogVideoXCli());
        cli.setOut(new PrintWriter(stdout, true));
        cli.setErr(new PrintWriter(stderr, true));
        return cli.execute(args);
    }

    @Test
    void eachJobHasOneCommandName() {
        assertThat(new CommandLine(new CogVideoXCli()).getSubcommands().keySet()).containsExactlyInAnyOrder(
                "train", "prepare", "launch", "demo-media", "selfcheck", "lora", "convert", "inspect");
    }

    @Test
    void demoIsNoLongerACommand() {
        assertThat(run("demo")).isEqualTo(CommandLine.ExitCode.USAGE);
        assertThat(stderr.toString()).contains("Unmatched argument").contains("demo");
    }

    @Test
    void selfcheckRunsEveryReleaseAndPassesTheGoldenCheck() {
        int code = run("selfcheck", "--golden", Golden.root().toString());
        assertThat(code).as(stdout.toString()).isZero();
        for (CogVideoXVariant v : CogVideoXVariant.values()) {
            assertThat(stdout.toString()).contains(v.displayName());
        }
        assertThat(stdout.toString()).containsPattern("golden check b_cogvideox_5b_rope .*: OK");
    }
}
