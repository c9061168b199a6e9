package io.github.cogvideox4j.lora.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A training process killed with SIGKILL between steps and started again resumes from its newest checkpoint and ends
 * with exactly the LoRA an uninterrupted run ends with.
 */
class KilledRunResumeTest {
    @TempDir
    Path tmp;

    private ProcessBuilder train(Path output) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-Dai.djl.offline=true", "-cp",
                System.getProperty("java.class.path"), CogVideoXCli.class.getName(), "train",
                "--set", "output_dir=" + output, "--set", "steps=30", "--set", "checkpoint_every=3",
                "--set", "validation_every=0", "--set", "data.synthetic.samples=12", "--set", "lora.rank=4"));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(output.resolveSibling(output.getFileName() + ".log").toFile());
        pb.environment().put("THP_MEM_ALLOC_ENABLE", "1");
        return pb;
    }

    @Test
    void aKilledRunResumesToTheSameWeightsAsAnUninterruptedRun() throws Exception {
        Path straight = tmp.resolve("straight");
        Path killed = tmp.resolve("killed");
        assertThat(train(straight).start().waitFor(5, TimeUnit.MINUTES)).isTrue();

        Process p = train(killed).start();
        Path marker = killed.resolve("checkpoints").resolve("checkpoint-000000012").resolve("state.json");
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(3);
        while (!Files.exists(marker) && p.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(p.isAlive()).as("the run is still training when it is killed").isTrue();
        p.destroyForcibly().waitFor(1, TimeUnit.MINUTES);          // SIGKILL: no shutdown hooks, no cleanup
        assertThat(Files.exists(killed.resolve("pytorch_lora_weights.safetensors"))).isFalse();

        Process resumed = train(killed).start();
        assertThat(resumed.waitFor(5, TimeUnit.MINUTES)).isTrue();
        assertThat(resumed.exitValue()).as(Files.readString(tmp.resolve("killed.log"))).isZero();
        assertThat(Files.readString(tmp.resolve("killed.log"))).contains("resumed from");

        try (NDManager m = NDManager.newBaseManager();
                SafetensorsReader a = SafetensorsReader.open(straight.resolve("pytorch_lora_weights.safetensors"));
                SafetensorsReader b = SafetensorsReader.open(killed.resolve("pytorch_lora_weights.safetensors"))) {
            assertThat(b.names()).containsExactlyElementsOf(a.names());
            for (String name : a.names()) {
                assertThat(b.readFloats(name)).as(name).containsExactly(a.readFloats(name));
            }
        }
    }
}
