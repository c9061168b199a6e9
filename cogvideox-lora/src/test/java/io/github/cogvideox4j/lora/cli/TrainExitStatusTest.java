package io.github.cogvideox4j.lora.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.cogvideox4j.lora.train.CheckpointStore;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code cogvideox train}'s exit status says whether the run failed: a resumed run is not judged by its loss, the
 * fresh built-in default prints its learning check, and unreadable checkpoints fail the run unless {@code --fresh}.
 */
class TrainExitStatusTest {
    @TempDir
    Path tmp;

    private final StringWriter stderr = new StringWriter();

    /** {@code train} in this JVM with the small run's keys; returns the exit status. */
    private int trainHere(Path out, String... extra) {
        CommandLine cli = new CommandLine(new CogVideoXCli());
        cli.setErr(new PrintWriter(stderr, true));
        List<String> args = new ArrayList<>(TrainRuns.trainArgs(out, List.of("steps=2", "checkpoint_every=1")));
        args.addAll(List.of(extra));
        return cli.execute(args.toArray(new String[0]));
    }

    /** Writes a {@code checkpoint-<step>} folder that cannot be read: its manifest is not JSON. */
    private static Path unreadableCheckpoint(Path out, long step) throws Exception {
        Path dir = Files.createDirectories(out.resolve("checkpoints").resolve(CheckpointStore.folderName(step)));
        Files.writeString(dir.resolve(CheckpointStore.MANIFEST_FILE), "{\"format\": ");
        return dir;
    }

    @Test
    void theFreshBuiltinDefaultRunPrintsItsLearningCheckAndExitsByItsVerdict() throws Exception {
        TrainRuns.Exit run = TrainRuns.exit(tmp.resolve("default"), "steps=40");
        assertThat(run.output()).containsPattern("learning check: mean loss of steps 1-20 \\S+, of steps 21-40 ");
        assertThat(run.code()).as(run.output()).isEqualTo(run.output().contains(": PASSED") ? 0 : 1);
    }

    @Test
    void aResumedRunOfFortyStepsExitsZeroWhateverItsLoss() throws Exception {
        Path out = tmp.resolve("resumed");
        TrainRuns.alone(out, "steps=10", "checkpoint_every=10");
        TrainRuns.Exit resumed = TrainRuns.exit(out, "steps=50", "checkpoint_every=10");
        assertThat(resumed.code()).as(resumed.output()).isZero();
        assertThat(resumed.output()).contains("resumed from").contains("ran steps 11-50")
                .contains("no learning check").doesNotContain("learning check:");
    }

    @Test
    void unreadableCheckpointsFailTheRunListingEachFolder() throws Exception {
        Path out = tmp.resolve("broken");
        unreadableCheckpoint(out, 4);
        unreadableCheckpoint(out, 8);
        assertThat(trainHere(out)).isNotZero();
        assertThat(stderr.toString()).contains("no readable checkpoint").contains("checkpoint-000000004: ")
                .contains("checkpoint-000000008: ").contains("--fresh");
        assertThat(out.resolve("pytorch_lora_weights.safetensors")).doesNotExist();
    }

    @Test
    void freshStartsFromStepZeroIgnoringUnreadableCheckpoints() throws Exception {
        Path out = tmp.resolve("fresh");
        unreadableCheckpoint(out, 4);
        assertThat(trainHere(out, "--fresh")).as(stderr.toString()).isZero();
        assertThat(out.resolve("pytorch_lora_weights.safetensors")).exists();
        try (var s = Files.list(out.resolve("checkpoints"))) {
            assertThat(s.map(p -> p.getFileName().toString()).sorted())
                    .containsExactly(CheckpointStore.folderName(1), CheckpointStore.folderName(2));
        }
    }
}
