package io.github.cogvideox4j.lora.cli;

import static io.github.cogvideox4j.lora.cli.TrainRuns.checkpointWeights;
import static io.github.cogvideox4j.lora.cli.TrainRuns.trainArgs;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.cogvideox4j.core.io.HalfPrecision;
import io.github.cogvideox4j.core.io.SafetensorsDType;
import io.github.cogvideox4j.core.io.SafetensorsFiles;
import io.github.cogvideox4j.core.io.TensorSource;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code cogvideox train --export-dtype}: the dtype of a full fine-tune's exported transformer folder, BF16 by
 * default (like the 5B releases), and the exported values are the final weights rounded once to it.
 */
class TrainExportDtypeTest {
    private static final String[] FULL = {"full_finetune=true", "steps=2", "batch_size=1", "checkpoint_every=2"};

    @TempDir
    Path tmp;

    private static void train(Path out, String... extra) {
        List<String> args = new ArrayList<>(trainArgs(out, List.of(FULL)));
        args.addAll(List.of(extra));
        assertThat(new CommandLine(new CogVideoXCli()).execute(args.toArray(String[]::new))).isZero();
    }

    @Test
    void aFullFineTuneExportsBf16ByDefault() throws Exception {
        Path out = tmp.resolve("default");
        train(out);
        Map<String, float[]> trained = checkpointWeights(out, 2);
        try (TensorSource exported = SafetensorsFiles.openModelWeights(out.resolve("transformer"),
                "diffusion_pytorch_model")) {
            assertThat(exported.names()).containsExactlyInAnyOrderElementsOf(trained.keySet());
            for (String name : exported.names()) {
                assertThat(exported.info(name).dtype()).as(name).isEqualTo(SafetensorsDType.BF16);
                float[] w = trained.get(name);
                float[] e = exported.readFloats(name);
                for (int i = 0; i < w.length; i++) {
                    assertThat(e[i]).as("%s element %d", name, i)
                            .isEqualTo(HalfPrecision.bf16ToFloat(HalfPrecision.floatToBf16(w[i])));
                }
            }
        }
    }

    @Test
    void exportDtypeF32WritesTheFinalWeightsBitForBit() throws Exception {
        Path out = tmp.resolve("f32");
        train(out, "--export-dtype", "F32");
        Map<String, float[]> trained = checkpointWeights(out, 2);
        try (TensorSource exported = SafetensorsFiles.openModelWeights(out.resolve("transformer"),
                "diffusion_pytorch_model")) {
            assertThat(exported.names()).containsExactlyInAnyOrderElementsOf(trained.keySet());
            for (String name : exported.names()) {
                assertThat(exported.info(name).dtype()).as(name).isEqualTo(SafetensorsDType.F32);
                assertThat(exported.readFloats(name)).as(name).containsExactly(trained.get(name));
            }
        }
    }
}
