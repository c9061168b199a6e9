package io.github.cogvideox4j.lora.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import io.github.cogvideox4j.core.config.CogVideoXVariant;
import io.github.cogvideox4j.core.model.BasePrecision;
import io.github.cogvideox4j.core.model.ComputePrecision;
import io.github.cogvideox4j.data.Bucket;
import io.github.cogvideox4j.lora.LoraConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reading, writing and whole-config validation of {@link TrainingConfig}. */
class TrainingConfigTest {
    @TempDir
    Path tmp;

    private static final String MINIMAL = """
            model: {builtin: tiny-1.5-i2v}
            data:
              synthetic: {samples: 2, buckets: [13x160x160]}
            output_dir: out
            """;

    @Test
    void builtinDefaultIsValid() {
        assertThat(TrainingConfig.builtinDefault().problems()).isEmpty();
        assertThat(TrainingConfig.builtinDefault().validate()).isEqualTo(TrainingConfig.builtinDefault());
    }

    @Test
    void yamlAndJsonFilesReadToTheSameRecord() throws IOException {
        TrainingConfig demo = TrainingConfig.builtinDefault();
        Path yaml = Files.writeString(tmp.resolve("c.yaml"), demo.toYaml());
        Path yml = Files.writeString(tmp.resolve("c.yml"), demo.toYaml());
        Path json = Files.writeString(tmp.resolve("c.json"), demo.toJson());
        assertThat(TrainingConfig.read(yaml)).isEqualTo(demo);
        assertThat(TrainingConfig.read(yml)).isEqualTo(demo);
        assertThat(TrainingConfig.read(json)).isEqualTo(demo);
    }

    @Test
    void toYamlRoundTripsEveryNonDefaultValue() throws IOException {
        Path model = Files.createDirectories(tmp.resolve("CogVideoX-5b-I2V/transformer"));
        Files.writeString(model.resolve("config.json"), "{}");
        Path cache = Files.createDirectories(tmp.resolve("cache"));
        TrainingConfig c = TrainingConfig.builder().model(TrainingConfig.ModelSource.ofPath(model.getParent()))
                .data(TrainingConfig.DataSource.ofCache(cache)).outputDir(tmp.resolve("run 1"))
                .lora(new TrainingConfig.LoraSettings(16, 8.5, List.of(), ".*attn1\\.to_(q|k)", 0.1, 7))
                .steps(123).batchSize(2).gradientAccumulation(4).learningRate(3e-5).betas(List.of(0.8, 0.99))
                .epsilon(1e-6).weightDecay(0.0).lrSchedule(new TrainingConfig.LrScheduleSettings("cosine_with_restarts",
                        10, 3))
                .maxGradNorm(0.5).seed(-5).checkpointEvery(25).keepLast(4).validationEvery(50)
                .nonFinite(FineTuner.NonFinitePolicy.STOP).gradientCheckpointing(true).gradientCheckpointingSegment(3)
                .mixedPrecision(ComputePrecision.BF16).basePrecision(BasePrecision.INT8)
                .rope(FineTuner.RopeRule.DIFFUSERS_480X720).idToken("BW_STYLE")
                .captionDropout(0.05).imageLatentDropout(0.1).ofs(3.0).sincosAtUntrainedSize(true)
                .distributed(new TrainingConfig.Distributed(60)).memoryBudgetGb(20.5).build();
        assertThat(c.problems()).isEmpty();
        assertThat(TrainingConfig.parse(c.toYaml(), true, "yaml")).isEqualTo(c);
        assertThat(TrainingConfig.parse(c.toJson(), false, "json")).isEqualTo(c);
        assertThat(TrainingConfig.fromTree(c.toTree(), "tree")).isEqualTo(c);
    }

    @Test
    void missingOptionalKeysTakeTheDocumentedDefaults() {
        TrainingConfig c = TrainingConfig.parse(MINIMAL, true, "minimal");
        assertThat(c.model().builtinVariant()).contains(CogVideoXVariant.COGVIDEOX_1_5_5B_I2V);
        assertThat(c.data().synthetic().buckets()).containsExactly(new Bucket(13, 160, 160));
        assertThat(c.loraConfig()).contains(LoraConfig.of(64, 64));
        assertThat(c.steps()).isEqualTo(1000);
        assertThat(c.betas()).containsExactly(0.9, 0.95);
        assertThat(c.epsilon()).isEqualTo(1e-8);
        assertThat(c.weightDecay()).isEqualTo(1e-4);
        assertThat(c.maxGradNorm()).isEqualTo(1.0);
        assertThat(c.keepLast()).isEqualTo(3);
        assertThat(c.nonFinite()).isEqualTo(FineTuner.NonFinitePolicy.SKIP);
        assertThat(c.rope()).isEqualTo(FineTuner.RopeRule.PIPELINE);
        assertThat(c.ofs()).isEqualTo(2.0);
        assertThat(c.imageLatentDropout()).isEqualTo(0.05);
        assertThat(c.idToken()).isNull();
        assertThat(c.schedule().kind()).isEqualTo(LearningRateSchedule.Kind.CONSTANT);
        assertThat(c.distributed().timeoutSeconds()).isEqualTo(1800);
    }

    @Test
    void distributedTimeoutIsReadAndMustBePositive() {
        assertThat(TrainingConfig.parse(MINIMAL + "distributed: {timeout_seconds: 30}\n", true, "t").distributed())
                .isEqualTo(new TrainingConfig.Distributed(30));
        assertThatThrownBy(() -> TrainingConfig.parse(MINIMAL + "distributed: {timeout_seconds: 0, tmeout: 1}\n",
                true, "t")).isInstanceOf(TrainingConfigException.class)
                .hasMessageContaining("distributed.timeout_seconds: must be > 0")
                .hasMessageContaining("distributed.tmeout");
    }

    @Test
    void loraAlphaDefaultsToTheGivenRank() {
        TrainingConfig c = TrainingConfig.parse(MINIMAL + "lora: {rank: 8}\n", true, "t");
        assertThat(c.lora().alpha()).isEqualTo(8.0);
        assertThat(c.lora().targets()).isEqualTo(LoraConfig.DEFAULT_TARGETS);
    }

    @Test
    void yamlExponentWithoutADotIsReadAsANumber() {
        TrainingConfig c = TrainingConfig.parse(MINIMAL + "learning_rate: 1e-4\nepsilon: 1E-8\n", true, "t");
        assertThat(c.learningRate()).isEqualTo(1e-4);
        assertThat(c.epsilon()).isEqualTo(1e-8);
    }

    @Test
    void listsEveryProblemAtOnceWithItsKeyPath() {
        String yaml = """
                model: {builtin: tiny-9b}
                data: {synthetic: {samples: 0, buckets: [9x64, 9x64x96]}}
                output_dir: out
                lora: {rank: -1, alpha: 4, targets: [to_q], target_regex: 'to_(q'}
                full_finetune: true
                steps: 0
                batch_size: abc
                learning_rat: 1e-4
                betas: [0.9, 1.5]
                lr_schedule: {type: polynomial, warmup_steps: -3}
                keep_last: 0
                non_finite: maybe
                caption_dropout: 1.5
                """;
        TrainingConfigException e = catchThrowableOfType(TrainingConfigException.class,
                () -> TrainingConfig.parse(yaml, true, "bad.yaml"));
        assertThat(e).isNotNull();
        assertThat(e.problems()).anySatisfy(p -> assertThat(p).startsWith("model.builtin: unknown model 'tiny-9b'"))
                .anySatisfy(p -> assertThat(p).startsWith("data.synthetic.samples: must be > 0"))
                .anySatisfy(p -> assertThat(p).startsWith("data.synthetic.buckets[0]: expected FRAMESxHEIGHTxWIDTH"))
                .anySatisfy(p -> assertThat(p).startsWith("lora.rank: must be > 0, got -1"))
                .anySatisfy(p -> assertThat(p).startsWith("lora.targets, lora.target_regex: give one of them"))
                .anySatisfy(p -> assertThat(p).startsWith("lora.target_regex: not a valid regular expression"))
                .anySatisfy(p -> assertThat(p).startsWith("lora, full_finetune: give either"))
                .anySatisfy(p -> assertThat(p).startsWith("steps: must be > 0, got 0"))
                .anySatisfy(p -> assertThat(p).startsWith("batch_size: expected an integer, got 'abc'"))
                .anySatisfy(p -> assertThat(p).startsWith("learning_rat: unknown key (did you mean 'learning_rate'?)"))
                .anySatisfy(p -> assertThat(p).startsWith("betas[1]: must be in [0, 1), got 1.5"))
                .anySatisfy(p -> assertThat(p).startsWith("lr_schedule.type: unknown learning-rate schedule"))
                .anySatisfy(p -> assertThat(p).startsWith("lr_schedule.warmup_steps: must be >= 0"))
                .anySatisfy(p -> assertThat(p).startsWith("keep_last: must be > 0, got 0"))
                .anySatisfy(p -> assertThat(p).startsWith("non_finite: expected one of skip, stop, got 'maybe'"))
                .anySatisfy(p -> assertThat(p).startsWith("caption_dropout: must be a probability in [0, 1]"));
        assertThat(e.problems()).hasSize(16);
        assertThat(e).hasMessageStartingWith("bad.yaml: 16 problems in the training config:\n  - ");
    }

    @Test
    void memoryBudgetIsOptionalAndMustBePositive() {
        assertThat(TrainingConfig.parse(MINIMAL, true, "t").memoryBudgetGb()).isNull();
        assertThat(TrainingConfig.parse(MINIMAL + "memory_budget_gb: 22\n", true, "t").memoryBudgetGb())
                .isEqualTo(22.0);
        TrainingConfigException e = catchThrowableOfType(TrainingConfigException.class,
                () -> TrainingConfig.parse(MINIMAL + "memory_budget_gb: 0\n", true, "t"));
        assertThat(e.problems()).singleElement().asString()
                .startsWith("memory_budget_gb: must be a finite number > 0 (GiB), got 0.0");
    }

    @Test
    void theCheckpointingSegmentDefaultsToOneBlockAndNeedsCheckpointingAndAtLeastOneBlock() {
        assertThat(TrainingConfig.parse(MINIMAL, true, "t").gradientCheckpointingSegment()).isEqualTo(1);
        assertThat(TrainingConfig.parse(MINIMAL + "gradient_checkpointing: true\ngradient_checkpointing_segment: 5\n",
                true, "t").gradientCheckpointingSegment()).isEqualTo(5);
        TrainingConfigException off = catchThrowableOfType(TrainingConfigException.class,
                () -> TrainingConfig.parse(MINIMAL + "gradient_checkpointing_segment: 2\n", true, "t"));
        assertThat(off.problems()).singleElement().asString()
                .isEqualTo("gradient_checkpointing_segment: 2 needs gradient_checkpointing: true");
        TrainingConfigException zero = catchThrowableOfType(TrainingConfigException.class, () -> TrainingConfig.parse(
                MINIMAL + "gradient_checkpointing: true\ngradient_checkpointing_segment: 0\n", true, "t"));
        assertThat(zero.problems()).singleElement().asString()
                .isEqualTo("gradient_checkpointing_segment: must be >= 1 (blocks per checkpoint), got 0");
    }

    @Test
    void tokenChunksDefaultToOneAndNeedCheckpointingAndAtLeastOneChunk() {
        assertThat(TrainingConfig.parse(MINIMAL, true, "t").gradientCheckpointingChunks()).isEqualTo(1);
        assertThat(TrainingConfig.parse(MINIMAL + "gradient_checkpointing: true\ngradient_checkpointing_chunks: 4\n",
                true, "t").gradientCheckpointingChunks()).isEqualTo(4);
        TrainingConfigException off = catchThrowableOfType(TrainingConfigException.class,
                () -> TrainingConfig.parse(MINIMAL + "gradient_checkpointing_chunks: 4\n", true, "t"));
        assertThat(off.problems()).singleElement().asString()
                .isEqualTo("gradient_checkpointing_chunks: 4 needs gradient_checkpointing: true");
        TrainingConfigException zero = catchThrowableOfType(TrainingConfigException.class, () -> TrainingConfig.parse(
                MINIMAL + "gradient_checkpointing: true\ngradient_checkpointing_chunks: 0\n", true, "t"));
        assertThat(zero.problems()).singleElement().asString()
                .isEqualTo("gradient_checkpointing_chunks: must be >= 1 (token chunks per block backward), got 0");
    }

    @Test
    void unknownKeysAreReportedAtEveryLevelWithSuggestions() {
        TrainingConfigException e = catchThrowableOfType(TrainingConfigException.class, () -> TrainingConfig.parse(
                MINIMAL + "outputDir: x\nlora: {rank: 4, lora-alpha: 4}\nlr_schedule: {warmup: 3}\n", true, "t"));
        assertThat(e.problems()).anySatisfy(p -> assertThat(p).startsWith("outputDir: unknown key (did you mean "
                        + "'output_dir'?)"))
                .anySatisfy(p -> assertThat(p).startsWith("lora.lora-alpha: unknown key (did you mean 'alpha'?)"))
                .anySatisfy(p -> assertThat(p).startsWith("lr_schedule.warmup: unknown key (did you mean "
                        + "'warmup_steps'?)"))
                .hasSize(3);
    }

    @Test
    void emptyMappingNamesEachRequiredKey() {
        TrainingConfigException e = catchThrowableOfType(TrainingConfigException.class,
                () -> TrainingConfig.parse("{}", false, "empty.json"));
        assertThat(e.problems()).extracting(p -> p.substring(0, p.indexOf(':')))
                .contains("model", "data", "output_dir");
    }

    @Test
    void syntaxErrorNamesLineAndColumn() {
        assertThatThrownBy(() -> TrainingConfig.parse("model: {builtin: tiny-5b\nsteps: 3\n", true, "broken.yaml"))
                .isInstanceOf(TrainingConfigException.class)
                .hasMessageContaining("broken.yaml")
                .hasMessageMatching("(?s).*line \\d+, column \\d+.*");
    }

    @Test
    void modelAndCacheFoldersMustExist() {
        String yaml = "model: {path: " + tmp.resolve("nope") + "}\ndata: {cache: " + tmp.resolve("nocache")
                + "}\noutput_dir: out\n";
        TrainingConfigException e = catchThrowableOfType(TrainingConfigException.class,
                () -> TrainingConfig.parse(yaml, true, "t"));
        assertThat(e.problems()).anySatisfy(p -> assertThat(p).startsWith("model.path: ").contains("is not a folder"))
                .anySatisfy(p -> assertThat(p).startsWith("data.cache: ").contains("is not a folder"))
                .hasSize(2);
    }

    @Test
    void modelFolderWithoutATransformerConfigIsAProblem() throws IOException {
        Path model = Files.createDirectories(tmp.resolve("empty-model"));
        TrainingConfig.Builder b = TrainingConfig.builtinDefault().toBuilder().outputDir(tmp.resolve("o"));
        assertThat(b.build().problems()).isEmpty();
        TrainingConfig c = b.model(TrainingConfig.ModelSource.ofPath(model)).build();
        assertThat(c.problems()).singleElement().asString().contains("neither transformer/config.json nor config.json");
    }

    @Test
    void aPathWithAControlCharacterIsAProblemNamingItsCodePoint() {
        // Found by TrainingConfigFuzzTest: U+0085 (NEL) was accepted, but YAML reads it back as a line break, so the
        // config's own toYaml() text no longer parsed
        String json = "{\"model\": {\"builtin\": \"tiny-5b\"}, \"data\": {\"synthetic\": {\"samples\": 2},"
                + " \"buckets\": [\"9x64x96\"]}, \"output_dir\": \"runs/a\\u0085b\"}";
        assertThatThrownBy(() -> TrainingConfig.parse(json, false, "nel.json"))
                .isInstanceOf(TrainingConfigException.class)
                .hasMessageContaining("output_dir: a path must not contain control characters; U+0085 at index 6");
    }

    @Test
    void aPathOfOnlySpacesAndSlashesIsAProblem() {
        // Found by TrainingConfigFuzzTest: "        ////" became the path "        ", which toYaml() wrote and
        // parse read back as an empty string
        assertThatThrownBy(() -> TrainingConfig.parse(MINIMAL.replace("output_dir: out", "output_dir: '   ////'"),
                true, "blank.yaml")).isInstanceOf(TrainingConfigException.class)
                .hasMessageContaining("output_dir: expected a path, got only spaces and slashes: '   ////'");
    }

    @Test
    void outputDirUnderARegularFileIsAProblem() throws IOException {
        Path file = Files.writeString(tmp.resolve("file"), "x");
        assertThat(TrainingConfig.builtinDefault().toBuilder().outputDir(file.resolve("run")).build().problems())
                .singleElement().asString().startsWith("output_dir: cannot create").contains("is a file");
        assertThat(TrainingConfig.builtinDefault().toBuilder().outputDir(file).build().problems()).singleElement()
                .asString().contains("exists and is not a folder");
    }

    @Test
    void basePrecisionIsReadAndWrittenInItsFileSpelling() {
        TrainingConfig c = TrainingConfig.parse(MINIMAL + "base_precision: int8\n", true, "t");
        assertThat(c.basePrecision()).isEqualTo(BasePrecision.INT8);
        assertThat(c.toYaml()).contains("base_precision: int8");
        assertThat(TrainingConfig.parse(c.toYaml(), true, "yaml")).isEqualTo(c);
        assertThatThrownBy(() -> TrainingConfig.parse(MINIMAL + "base_precision: int4\n", true, "t"))
                .hasMessageContaining("base_precision: expected one of fp32, bf16, int8, got 'int4'");
    }

    @Test
    void basePrecisionDefaultsToBf16OnlyForABf16LoraOnAModelPath() throws IOException {
        assertThat(TrainingConfig.parse(MINIMAL, true, "t").basePrecision()).isEqualTo(BasePrecision.FP32);
        assertThat(TrainingConfig.parse(MINIMAL + "mixed_precision: bf16\n", true, "t").basePrecision())
                .isEqualTo(BasePrecision.FP32);
        Path model = Files.createDirectories(tmp.resolve("m/transformer"));
        Files.writeString(model.resolve("config.json"), "{}");
        TrainingConfig.Builder onPath = TrainingConfig.parse(MINIMAL, true, "t").toBuilder()
                .model(TrainingConfig.ModelSource.ofPath(model.getParent())).mixedPrecision(ComputePrecision.BF16);
        assertThat(onPath.build().basePrecision()).isEqualTo(BasePrecision.BF16);
        assertThat(onPath.build().toYaml()).doesNotContain("base_precision");
        assertThat(onPath.lora(null).fullFinetune(true).build().basePrecision()).isEqualTo(BasePrecision.FP32);
    }

    @Test
    void aFullFineTuneRefusesAReducedPrecisionBase() {
        for (String base : new String[] {"int8", "bf16"}) {
            assertThatThrownBy(() -> TrainingConfig.parse(MINIMAL + "full_finetune: true\nbase_precision: " + base
                    + "\n", true, "t")).isInstanceOf(TrainingConfigException.class)
                    .hasMessageContaining("base_precision: " + base + " holds the frozen base weights")
                    .hasMessageContaining("full_finetune trains them");
        }
        assertThat(TrainingConfig.parse(MINIMAL + "full_finetune: true\nbase_precision: fp32\n", true, "t")
                .basePrecision()).isEqualTo(BasePrecision.FP32);
    }

    @Test
    void aBf16BaseNeedsAModelPath() {
        assertThatThrownBy(() -> TrainingConfig.parse(MINIMAL + "base_precision: bf16\n", true, "t"))
                .isInstanceOf(TrainingConfigException.class)
                .hasMessageContaining("base_precision: bf16 needs a model path");
    }

    @Test
    void fullFinetuneNeedsNoLoraSection() {
        TrainingConfig c = TrainingConfig.parse(MINIMAL + "full_finetune: true\n", true, "t");
        assertThat(c.lora()).isNull();
        assertThat(c.loraConfig()).isEmpty();
    }

    @Test
    void sincosOptInIsRefusedForOtherBuiltins() {
        assertThat(TrainingConfig.parse(MINIMAL.replace("tiny-1.5-i2v", "tiny-5b-i2v")
                + "sincos_at_untrained_size: true\n", true, "t").sincosAtUntrainedSize()).isTrue();
        assertThatThrownBy(() -> TrainingConfig.parse(MINIMAL + "sincos_at_untrained_size: true\n", true, "t"))
                .isInstanceOf(TrainingConfigException.class)
                .hasMessageContaining("sincos_at_untrained_size: applies to CogVideoX-5b-I2V only");
    }

    @Test
    void derivesTheScheduleAndTheLoraConfig() {
        TrainingConfig c = TrainingConfig.parse(MINIMAL + """
                steps: 100
                learning_rate: 0.001
                lr_schedule: {type: cosine_with_restarts, warmup_steps: 10, num_cycles: 2}
                lora: {rank: 8, alpha: 16, target_regex: '.*to_q', dropout: 0.1, init_seed: 3}
                """, true, "t");
        assertThat(c.schedule()).isEqualTo(LearningRateSchedule.of("cosine_with_restarts", 1e-3, 10, 100, 2));
        assertThat(c.loraConfig()).contains(new LoraConfig(8, 16, List.of(), ".*to_q", 0.1, 3));
    }

    @Test
    void overridesSetDottedKeysAndAreValidatedAsAWhole() {
        Map<String, String> o = new LinkedHashMap<>();
        o.put("lora.rank", "8");
        o.put("steps", "5");
        o.put("betas", "[0.8, 0.9]");
        o.put("id_token", "TOK");
        TrainingConfig c = TrainingConfig.builtinDefault().withOverrides(o);
        assertThat(c.lora().rank()).isEqualTo(8);
        assertThat(c.steps()).isEqualTo(5);
        assertThat(c.betas()).containsExactly(0.8, 0.9);
        assertThat(c.idToken()).isEqualTo("TOK");
        assertThat(TrainingConfig.builtinDefault().withOverrides(Map.of("full_finetune", "true")).lora()).isNull();
        assertThatThrownBy(() -> TrainingConfig.builtinDefault().withOverrides(Map.of("stepz", "5", "keep_last", "0")))
                .isInstanceOf(TrainingConfigException.class)
                .hasMessageContaining("stepz: unknown key (did you mean 'steps'?)")
                .hasMessageContaining("keep_last: must be > 0");
    }

    @Test
    void builderStartsFromTheFileDefaults() {
        TrainingConfig parsed = TrainingConfig.parse(MINIMAL, true, "minimal");
        TrainingConfig built = TrainingConfig.builder().model(parsed.model()).data(parsed.data())
                .outputDir(parsed.outputDir()).build();
        assertThat(built).isEqualTo(parsed);
        assertThat(built.toYaml()).isEqualTo(parsed.toYaml());
    }

    @Test
    void toBuilderChangesOnlyTheCopy() {
        TrainingConfig demo = TrainingConfig.builtinDefault();
        TrainingConfig.Builder b = demo.toBuilder().steps(7);
        TrainingConfig seven = b.build();
        b.steps(9);
        assertThat(seven.steps()).isEqualTo(7);
        assertThat(demo.steps()).isEqualTo(300);
        assertThat(seven.toBuilder().steps(300).build()).isEqualTo(demo);
    }

    @Test
    void enumKeysKeepTheirFileSpellingsAndMapToTheRuntimeEnums() {
        TrainingConfig c = TrainingConfig.parse(MINIMAL + "non_finite: stop\nmixed_precision: bf16\n"
                + "rope: diffusers_480x720\n", true, "t");
        assertThat(c.nonFinite()).isEqualTo(FineTuner.NonFinitePolicy.STOP);
        assertThat(c.mixedPrecision()).isEqualTo(ComputePrecision.BF16);
        assertThat(c.rope()).isEqualTo(FineTuner.RopeRule.DIFFUSERS_480X720);
        assertThat(c.toYaml()).contains("non_finite: stop", "mixed_precision: bf16", "rope: diffusers_480x720");
        TrainingConfig d = TrainingConfig.parse(MINIMAL + "non_finite: skip\nmixed_precision: fp32\nrope: pipeline\n",
                true, "t");
        assertThat(d.nonFinite()).isEqualTo(FineTuner.NonFinitePolicy.SKIP);
        assertThat(d.mixedPrecision()).isEqualTo(ComputePrecision.FP32);
        assertThat(d.rope()).isEqualTo(FineTuner.RopeRule.PIPELINE);
        assertThatThrownBy(() -> TrainingConfig.parse(MINIMAL + "mixed_precision: fp16\n", true, "t"))
                .hasMessageContaining("mixed_precision: expected one of fp32, bf16, got 'fp16'");
    }

    @Test
    void readRefusesAnUnknownExtension() throws IOException {
        Path txt = Files.writeString(tmp.resolve("c.txt"), MINIMAL);
        assertThatThrownBy(() -> TrainingConfig.read(txt)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(".yaml");
    }

    /** A valid run with validation videos: a model folder with a transformer config and a cache folder. */
    private String withValidation(String validation) throws IOException {
        Path model = Files.createDirectories(tmp.resolve("model/transformer"));
        Files.writeString(model.resolve("config.json"), "{}");
        Path cache = Files.createDirectories(tmp.resolve("cache"));
        return "model: {path: " + tmp.resolve("model") + "}\ndata: {cache: " + cache + "}\noutput_dir: out\n"
                + "validation_every: 50\n" + validation;
    }

    @Test
    void theValidationSectionIsReadWithItsDefaultsAndRoundTrips() throws IOException {
        TrainingConfig c = TrainingConfig.parse(withValidation("""
                validation:
                  prompts: [a cat, a dog]
                  images: [cat.png, dog.mp4]
                  size: 480x720
                  steps: 20
                """), true, "t");

        assertThat(c.validation()).isEqualTo(new ValidationSettings(List.of("a cat", "a dog"),
                List.of(Path.of("cat.png"), Path.of("dog.mp4")), 42, 480, 720, null, 20, 6.0, 8));
        assertThat(TrainingConfig.parse(c.toYaml(), true, "yaml").validation()).isEqualTo(c.validation());
        assertThat(TrainingConfig.parse(MINIMAL, true, "minimal").validation()).as("no section: none").isNull();
    }

    @Test
    void theValidationSectionListsItsProblems() throws IOException {
        TrainingConfigException e = catchThrowableOfType(TrainingConfigException.class, () -> TrainingConfig.parse(
                withValidation("""
                        validation:
                          prompts: [a cat, a dog]
                          images: [cat.png]
                          size: 480x721
                          fsp: 8
                        """).replace("validation_every: 50", "validation_every: 0"), true, "t"));

        assertThat(e.problems()).anySatisfy(p -> assertThat(p).startsWith("validation.fsp: unknown key")
                        .contains("did you mean 'fps'"))
                .contains("validation.images: 1 images for 2 prompts (give one per prompt, or none)",
                        "validation.size: height and width must be positive multiples of 8, got 480x721",
                        "validation: the videos are sampled every validation_every steps; set validation_every > 0");
    }

    @Test
    void validationVideosNeedAPreparedCacheAndAModelFolder() {
        TrainingConfigException e = catchThrowableOfType(TrainingConfigException.class, () -> TrainingConfig.parse(
                MINIMAL + "validation_every: 5\nvalidation: {prompts: [a cat]}\n", true, "t"));

        assertThat(e.problems()).anySatisfy(p -> assertThat(p).startsWith("validation: validation videos need "
                + "model.path")).anySatisfy(p -> assertThat(p).startsWith("validation: validation videos need "
                + "data.cache, prepared with cogvideox prepare --validation"));
    }
}
