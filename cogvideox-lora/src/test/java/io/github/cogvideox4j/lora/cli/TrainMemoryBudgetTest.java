package io.github.cogvideox4j.lora.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.cogvideox4j.lora.train.MemoryPlan;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code cogvideox train} plans its memory: {@code --dry-run} prints every component of the plan, and a run whose
 * plan exceeds {@code memory_budget_gb} exits 2 with the breakdown and the switches that would fit.
 */
class TrainMemoryBudgetTest {
    @TempDir
    Path tmp;

    @Test
    void dryRunPrintsEveryComponentOfTheMemoryPlan() {
        String out = dryRun(tmp.resolve("dry"), List.of());
        assertThat(out).contains("memory plan (largest latent bucket").contains("planned peak");
        for (MemoryPlan.Component c : MemoryPlan.Component.values()) {
            assertThat(out).as(c.name()).contains(c.label());
        }
        assertThat(tmp.resolve("dry").resolve("pytorch_lora_weights.safetensors")).doesNotExist();
    }

    @Test
    void dryRunPlansTheCheckpointingSegmentOfTheConfig() {
        // the tiny default has two blocks: a segment of two holds the checkpoint and block 1's recomputed input
        String out = dryRun(tmp.resolve("segment"), List.of("gradient_checkpointing=true",
                "gradient_checkpointing_segment=2"));
        assertThat(out).contains("block inputs held at most: 2 of 2 (gradient_checkpointing_segment: 2)");
    }

    /** {@code train --dry-run} on the tests' small default with {@code sets}; asserts exit 0, returns stdout. */
    private static String dryRun(Path out, List<String> sets) {
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        PrintStream original = System.out;
        int code;
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            List<String> args = new ArrayList<>(TrainRuns.trainArgs(out, sets));
            args.add("--dry-run");
            code = new CommandLine(new CogVideoXCli()).execute(args.toArray(new String[0]));
        } finally {
            System.setOut(original);
        }
        String text = captured.toString(StandardCharsets.UTF_8);
        assertThat(code).as(text).isZero();
        return text;
    }

    @Test
    void aRunAboveItsBudgetExitsTwoWithTheBreakdownAndTheSwitchesThatFit() throws Exception {
        // the tiny default's plan is above 512 MiB (the runtime allowance alone); rank 1 does not bring it below
        TrainRuns.Exit run = TrainRuns.exit(tmp.resolve("over"), "memory_budget_gb=0.25");
        assertThat(run.code()).as(run.output()).isEqualTo(2);
        assertThat(run.output()).contains("memory_budget_gb: the planned peak").contains("exceeds the budget of 0.25")
                .contains("largest block working set").contains("runtime overhead")
                .contains("no single switch");
        assertThat(tmp.resolve("over").resolve("pytorch_lora_weights.safetensors")).doesNotExist();
    }

    @Test
    void aRunWithinItsBudgetStartsAndTrains() throws Exception {
        String out = TrainRuns.alone(tmp.resolve("within"), "memory_budget_gb=64");
        assertThat(out).contains("fits memory_budget_gb 64.0");
        assertThat(tmp.resolve("within").resolve("pytorch_lora_weights.safetensors")).exists();
    }
}
