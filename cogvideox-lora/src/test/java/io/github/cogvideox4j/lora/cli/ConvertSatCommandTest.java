package io.github.cogvideox4j.lora.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.io.SafetensorsDType;
import io.github.cogvideox4j.core.io.SafetensorsFiles;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.io.TensorSource;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.model.TransformerInput;
import io.github.cogvideox4j.core.testing.Golden;
import io.github.cogvideox4j.core.testing.SatFiles;
import io.github.cogvideox4j.core.testing.Tolerance;
import io.github.cogvideox4j.core.testing.TorchSaveFiles;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code cogvideox convert sat}: every golden SAT checkpoint becomes a Diffusers folder that our loader reads back
 * into exactly the expected weights and whose forward is the transformer golden's at the golden tolerances; hostile
 * files are refused with their reason, exit 2, and write nothing.
 */
class ConvertSatCommandTest {
    private static final Logger LOG = LoggerFactory.getLogger(ConvertSatCommandTest.class);
    private static final ObjectMapper JSON = new ObjectMapper();

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

    static Stream<String> satCases() {
        return Golden.subfolders("sat").stream().map(p -> p.getFileName().toString())
                .filter(n -> !n.equals("refuse") && !n.equals("factory_cache"));
    }

    private static String sourceCase(Path satCase) throws Exception {
        return JSON.readTree(satCase.resolve("case.json").toFile()).get("source").asText();
    }

    /** The forward of a model on a transformer golden's inputs, against its sample, at the golden tolerances. */
    private static double assertForwardMatches(CogVideoXTransformer model, Path transformerCase, String what)
            throws Exception {
        try (NDManager manager = NDManager.newBaseManager();
                TensorSource in = SafetensorsReader.open(transformerCase.resolve("inputs.safetensors"));
                TensorSource out = SafetensorsReader.open(transformerCase.resolve("outputs.safetensors"))) {
            TransformerInput input = TransformerInput.of(in.read("hidden_states", manager),
                    in.read("encoder_hidden_states", manager), in.read("timestep", manager));
            if (in.contains("ofs")) {
                input = input.withOfs(in.read("ofs", manager));
            }
            if (in.contains("image_rotary_emb.cos")) {
                input = input.withRotaryEmbedding(in.read("image_rotary_emb.cos", manager),
                        in.read("image_rotary_emb.sin", manager));
            }
            NDArray sample = model.forward(input);
            assertThat(sample.getShape()).isEqualTo(out.info("sample").djlShape());
            return Tolerance.assertClose(what + " sample", sample.toFloatArray(), out.readFloats("sample"), 1e-5, 1e-4);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("satCases")
    void theConvertedFolderLoadsIntoExactlyTheExpectedWeights(String name) throws Exception {
        Path dir = Golden.path("sat", name);
        Path out = tmp.resolve("transformer");
        assertThat(run("convert", "sat", "--checkpoint", dir.resolve("sat").toString(), "--config",
                dir.resolve("config.json").toString(), "--out", out.toString(), "--dtype", "F32"))
                .as(stderr.toString()).isZero();
        assertThat(stdout.toString()).contains("converted", "transformer.position_embeddings.weight", "in F32");
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.load(out, manager);
                SafetensorsReader expected = SafetensorsReader.open(dir.resolve("expected.safetensors"))) {
            assertThat(model.config()).isEqualTo(CogVideoXConfig.read(dir.resolve("config.json")));
            Map<String, NDArray> state = new LinkedHashMap<>(model.namedBuffers());
            state.putAll(model.namedParameters());
            assertThat(state.keySet()).containsExactlyInAnyOrderElementsOf(expected.names());
            for (String n : expected.names()) {
                assertThat(state.get(n).toFloatArray()).as(n).containsExactly(expected.readFloats(n));
            }
            if (name.startsWith("f_")) {
                // an F32 checkpoint holds the transformer golden's own weights: its forward is the golden's
                double err = assertForwardMatches(model, Golden.path("transformer", sourceCase(dir)), name);
                LOG.info("{}: converted folder, max |diff| of the forward sample = {}", name, err);
            }
        }
    }

    static Stream<String> transformerCases() {
        return Golden.subfolders("transformer").stream().map(p -> p.getFileName().toString());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("transformerCases")
    void anF32SatCheckpointOfEveryTransformerGoldenConvertsToItsForward(String name) throws Exception {
        // the F32 SAT twin of each release's transformer golden (the BF16 SAT cases hold rounded weights); the 2b one
        // also carries SAT's fixed sincos table, which the conversion drops
        Path golden = Golden.path("transformer", name);
        CogVideoXConfig config = CogVideoXConfig.read(golden.resolve("config.json"));
        try (TensorSource weights = SafetensorsFiles.openModelWeights(golden, "diffusion_pytorch_model")) {
            Map<String, SatFiles.SatTensor> sat = SatFiles.fromDiffusers(weights, config);
            if (!config.useRotaryPositionalEmbeddings()) {
                int tokens = config.maxTextSeqLength() + config.sampleVideoTokens();
                sat.put("model.diffusion_model.mixins.pos_embed.pos_embedding", new SatFiles.SatTensor(
                        new long[] {1, tokens, config.innerDim()}, new float[tokens * config.innerDim()]));
            }
            SatFiles.write(tmp.resolve("twin"), 100, sat, SafetensorsDType.F32);
        }
        Path out = tmp.resolve("converted");
        assertThat(run("convert", "sat", "--checkpoint", tmp.resolve("twin").toString(), "--config",
                golden.resolve("config.json").toString(), "--out", out.toString(), "--dtype", "F32"))
                .as(stderr.toString()).isZero();
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.load(out, manager);
                TensorSource weights = SafetensorsFiles.openModelWeights(golden, "diffusion_pytorch_model")) {
            Map<String, NDArray> state = new LinkedHashMap<>(model.namedBuffers());
            state.putAll(model.namedParameters());
            assertThat(state.keySet()).containsExactlyInAnyOrderElementsOf(weights.names());
            for (String n : weights.names()) {
                assertThat(state.get(n).toFloatArray()).as(n).containsExactly(weights.readFloats(n));
            }
            double err = assertForwardMatches(model, golden, name);
            LOG.info("{}: F32 SAT twin converted, max |diff| of the forward sample = {}", name, err);
        }
    }

    @Test
    void withoutDtypeTheCheckpointsOwnDtypeIsWrittenInShardsWithAnIndex() throws Exception {
        Path dir = Golden.path("sat", "b_cogvideox_5b_rope_bf16");
        Path out = tmp.resolve("sharded");
        assertThat(run("convert", "sat", "--checkpoint", dir.resolve("sat").toString(), "--config",
                dir.resolve("config.json").toString(), "--out", out.toString(), "--max-shard-bytes", "100000"))
                .as(stderr.toString()).isZero();
        assertThat(out.resolve("diffusion_pytorch_model.safetensors.index.json")).exists();
        try (TensorSource s = SafetensorsFiles.openModelWeights(out, "diffusion_pytorch_model");
                SafetensorsReader expected = SafetensorsReader.open(dir.resolve("expected.safetensors"))) {
            assertThat(s.info("proj_out.weight").dtype()).isEqualTo(SafetensorsDType.BF16);
            for (String n : expected.names()) {
                assertThat(s.readFloats(n)).as(n).containsExactly(expected.readFloats(n));
            }
        }
        try (Stream<Path> files = Files.list(out)) {
            assertThat(files.filter(p -> p.getFileName().toString().matches(
                    "diffusion_pytorch_model-\\d{5}-of-\\d{5}\\.safetensors"))).hasSizeGreaterThan(1);
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"os_system.pt", "builtins_eval.pt", "truncated.pt"})
    void aHostileFileIsRefusedWithItsReasonAndNothingIsWritten(String file) throws Exception {
        Path out = tmp.resolve("never");
        int code = run("convert", "sat", "--checkpoint", Golden.path("sat", "refuse", file).toString(), "--config",
                "CogVideoX-5b", "--out", out.toString(), "--dtype", "F32");
        assertThat(code).isEqualTo(2);
        assertThat(stderr.toString()).contains("refused", "torch.save file", file, "entry 'archive/data.pkl'")
                .containsAnyOf("forbidden global", "truncated");
        assertThat(out).doesNotExist();
    }

    @Test
    void aPayloadThatWouldCreateAFileIsRefusedAndCreatesNothing() throws Exception {
        Path marker = tmp.resolve("pwned");
        TorchSaveFiles.Pickle p = new TorchSaveFiles.Pickle().proto(2).op('}').str("module").global("posix", "system")
                .str("touch " + marker).op(0x85).op('R').op('s').stop();
        Path sat = Files.createDirectories(tmp.resolve("sat/1"));
        TorchSaveFiles.writeArchive(sat.resolve("mp_rank_00_model_states.pt"), "archive", p.toByteArray(), Map.of());
        Files.writeString(tmp.resolve("sat/latest"), "1");
        Path out = tmp.resolve("never");
        assertThat(run("convert", "sat", "--checkpoint", tmp.resolve("sat").toString(), "--config", "CogVideoX-5b",
                "--out", out.toString(), "--dtype", "F32")).isEqualTo(2);
        assertThat(stderr.toString()).contains("GLOBAL posix.system is not in the allowlist");
        assertThat(marker).doesNotExist();
        assertThat(out).doesNotExist();
    }

    @Test
    void weightsThatDoNotFitTheConfigAreRefusedTogetherAndNothingIsWritten() {
        Path dir = Golden.path("sat", "b_cogvideox_5b_rope_bf16");
        Path out = tmp.resolve("never");
        assertThat(run("convert", "sat", "--checkpoint", dir.resolve("sat").toString(), "--config",
                Golden.path("sat", "f_cogvideox_5b_i2v_fp32", "config.json").toString(), "--out", out.toString()))
                .isEqualTo(2);
        assertThat(stderr.toString()).contains("do not match the config", "missing", "shape mismatch");
        assertThat(out).doesNotExist();
    }

    @Test
    void aNonEmptyOutputFolderIsRefused() throws Exception {
        Path out = Files.createDirectories(tmp.resolve("busy"));
        Files.writeString(out.resolve("keep.txt"), "mine");
        Path dir = Golden.path("sat", "b_cogvideox_5b_rope_bf16");
        assertThat(run("convert", "sat", "--checkpoint", dir.resolve("sat").toString(), "--config",
                dir.resolve("config.json").toString(), "--out", out.toString())).isEqualTo(2);
        assertThat(stderr.toString()).contains("is not an empty folder");
        try (Stream<Path> files = Files.list(out)) {
            assertThat(files).containsExactly(out.resolve("keep.txt"));
        }
    }
}
