package io.github.cogvideox4j.lora.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.cogvideox4j.core.io.SafetensorsDType;
import io.github.cogvideox4j.core.testing.Golden;
import io.github.cogvideox4j.core.testing.SatFiles;
import io.github.cogvideox4j.core.testing.TorchSaveFiles;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code cogvideox inspect} on {@code .pt} and safetensors files, and on refused ones. */
class InspectCommandTest {
    @TempDir
    Path tmp;

    private final StringWriter stdout = new StringWriter();
    private final StringWriter stderr = new StringWriter();

    private int run(String... args) {
        picocli.CommandLine cli = new picocli.CommandLine(new CogVideoXCli());
        cli.setOut(new PrintWriter(stdout, true));
        cli.setErr(new PrintWriter(stderr, true));
        return cli.execute(args);
    }

    @Test
    void aSatCheckpointListsItsTensorsAndItsOtherEntries() {
        Path pt = Golden.path("sat", "b_cogvideox_5b_rope_bf16", "sat", "1000", "mp_rank_00_model_states.pt");
        assertThat(run("inspect", pt.toString())).as(stderr.toString()).isZero();
        assertThat(stdout.toString()).contains("format:   torch.save, archive 'mp_rank_00_model_states', version 3",
                "tensors:  53",
                "module.model.diffusion_model.transformer.layers.0.attention.query_key_value.weight",
                "BF16  [192, 64]", "iteration = 1000", "ds_version = '0.14.4'", "lr_scheduler = None",
                "client_lr_scheduler = {}", "buffer_names = []",
                "param_shapes.0.model.diffusion_model.transformer.final_layernorm.bias = torch.Size([64])");
    }

    @Test
    void aFactoryCacheFileShowsItsTensorAndItsInts() {
        Path pt = Golden.path("sat", "factory_cache", "dict_sample.pt");
        assertThat(run("inspect", "--check", pt.toString())).as(stderr.toString()).isZero();
        assertThat(stdout.toString()).contains("latents", "F32   [16, 4, 6, 8]", "fps = 8", "num_frames = 13",
                "every value finite");
    }

    @Test
    void aStridedViewIsShownAsAView() throws Exception {
        Path f = TorchSaveFiles.writeTree(tmp.resolve("v.pt"), Map.of("t", new TorchSaveFiles.Tensor("0",
                SafetensorsDType.F16, 1, new long[] {2, 2}, new long[] {1, 2})),
                Map.of("0", SatFiles.encode(new float[] {1, 2, 3, 4, 5}, SafetensorsDType.F16)));
        assertThat(run("inspect", f.toString())).isZero();
        assertThat(stdout.toString()).contains("F16   [2, 2]  view of storage 0: offset 1, stride [1, 2]");
    }

    @Test
    void aSafetensorsFileListsItsTensorsAndMetadata() {
        Path st = Golden.path("sat", "factory_cache", "expected.safetensors");
        assertThat(run("inspect", st.toString())).as(stderr.toString()).isZero();
        assertThat(stdout.toString()).contains("format:   safetensors", "tensors:  3", "prompt_embed",
                "F32   [226, 32]");
    }

    @Test
    void aHostileFileIsRefusedWithItsReason() {
        assertThat(run("inspect", Golden.path("sat", "refuse", "os_system.pt").toString())).isEqualTo(2);
        assertThat(stderr.toString()).contains("refused", "forbidden global", "GLOBAL posix.system",
                "entry 'archive/data.pkl'");
    }

    @Test
    void aNonFiniteValueFailsTheCheck() throws Exception {
        Path f = TorchSaveFiles.writeTree(tmp.resolve("nan.pt"), Map.of("w", TorchSaveFiles.Tensor.contiguous("0",
                SafetensorsDType.F32, 2)), Map.of("0", TorchSaveFiles.f32(1, Float.NaN)));
        assertThat(run("inspect", "--check", f.toString())).isEqualTo(1);
        assertThat(stdout.toString()).contains("NOT FINITE: w (1 values)");
    }
}
