package io.github.cogvideox4j.lora.cli;

import static io.github.cogvideox4j.lora.cli.TrainRuns.assertBitIdentical;
import static io.github.cogvideox4j.lora.cli.TrainRuns.lora;
import static io.github.cogvideox4j.lora.cli.TrainRuns.ranks;
import static io.github.cogvideox4j.lora.cli.TrainRuns.together;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.cogvideox4j.core.testing.Ranks;
import io.github.cogvideox4j.lora.train.CheckpointStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Faults of a two-rank training run (issue 11, item 6, the training side): when one rank is killed with SIGKILL
 * mid-run, the other fails within the collective timeout naming the lost rank; rerunning the same command resumes
 * from the last complete checkpoint and ends with exactly the LoRA of an uninterrupted two-rank run. Ranks started
 * with different configs fail at the rendezvous, saying so.
 */
class KilledRankResumeTest {
    private static final Logger LOG = LoggerFactory.getLogger(KilledRankResumeTest.class);
    @TempDir
    Path tmp;

    @Test
    void aRerunAfterARankWasKilledEndsBitIdenticalToAnUninterruptedRun() throws Exception {
        Path uninterrupted = tmp.resolve("uninterrupted");
        together(2, uninterrupted, "batch_size=1", "steps=18", "checkpoint_every=3");

        Path killed = tmp.resolve("killed");
        List<Ranks.Outcome> outcomes;
        long killedAt;
        Path marker = killed.resolve("checkpoints").resolve(CheckpointStore.folderName(6))
                .resolve(CheckpointStore.MANIFEST_FILE);
        try (Ranks r = ranks(2, killed, "batch_size=1", "steps=18", "checkpoint_every=3")) {
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
            while (!Files.exists(marker) && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertThat(marker).as(r.describe()).exists();
            killedAt = r.kill(1);                                          // SIGKILL: no shutdown hooks, no goodbye
            outcomes = r.await(Duration.ofMinutes(2));
        }
        Ranks.Outcome survivor = outcomes.get(0);
        assertThat(survivor.exitCode()).as(survivor.output()).isNotZero();
        assertThat(survivor.output()).contains("rank 1 of 2 was lost");
        Duration failedAfter = Duration.ofNanos(survivor.exitNanos() - killedAt);
        LOG.info("rank 1 killed after the checkpoint of step 6; rank 0 failed {} ms later", failedAfter.toMillis());
        assertThat(failedAfter).as("rank 0 fails within the timeout (30 s) and its JVM's exit")
                .isLessThan(Duration.ofSeconds(30 + 30));
        assertThat(killed.resolve("pytorch_lora_weights.safetensors")).as("the killed run did not finish")
                .doesNotExist();

        List<Ranks.Outcome> rerun = together(2, killed, "batch_size=1", "steps=18", "checkpoint_every=3");
        assertThat(rerun.get(0).output()).contains("resumed from");
        Map<String, float[]> expected = lora(uninterrupted);
        assertBitIdentical(expected, lora(killed));
    }

    @Test
    void ranksWithDifferentConfigsFailAtTheRendezvousSayingSo() {
        try (Ranks r = Ranks.start(PerRankArgs.class, 2, Map.of(PerRankArgs.EXTRA_ENV + 1, "--set lora.rank=8"),
                List.of("-Xmx1g"), TrainRuns.trainArgs(tmp.resolve("mismatch"), List.of(TrainRuns.TIMEOUT)))) {
            List<Ranks.Outcome> outcomes = r.await(Duration.ofMinutes(2));
            assertThat(outcomes).as(Ranks.describe(outcomes)).allSatisfy(o -> {
                assertThat(o.exitCode()).isNotZero();
                assertThat(o.output()).containsIgnoringCase("fingerprint");
            });
            assertThat(outcomes.get(0).output()).contains("ranks [1] were started with a different configuration");
        }
        assertThat(tmp.resolve("mismatch").resolve("checkpoints")).doesNotExist();
    }

    /** Runs the CLI with this rank's extra arguments ({@code TRAIN_EXTRA_ARGS_RANK_<r>}, space-separated) appended. */
    public static final class PerRankArgs {
        static final String EXTRA_ENV = "TRAIN_EXTRA_ARGS_RANK_";

        private PerRankArgs() {}

        /**
         * @param args the CLI arguments shared by every rank
         */
        public static void main(String[] args) {
            String extra = System.getenv(EXTRA_ENV + System.getenv("RANK"));
            List<String> all = new java.util.ArrayList<>(List.of(args));
            if (extra != null && !extra.isBlank()) {
                all.addAll(List.of(extra.trim().split(" +")));
            }
            CogVideoXCli.main(all.toArray(new String[0]));
        }
    }
}
