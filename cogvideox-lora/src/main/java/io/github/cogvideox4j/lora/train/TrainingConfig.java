package io.github.cogvideox4j.lora.train;

import static com.google.common.base.Preconditions.checkNotNull;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.github.cogvideox4j.core.config.CogVideoXVariant;
import io.github.cogvideox4j.data.Bucket;
import io.github.cogvideox4j.lora.LoraConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Everything a fine-tuning run needs, read from one YAML or JSON file (same keys in both, snake_case).
 *
 * <pre>{@code
 * model: {builtin: tiny-5b}            # or {path: /models/CogVideoX-5b}, a Diffusers folder
 * data:                                 # or {cache: /data/latents}, a latent cache folder
 *   synthetic: {samples: 4, buckets: [9x64x96]}   # frames x height x width, pixels
 * output_dir: runs/tiny-demo
 * lora: {rank: 4, alpha: 4, targets: [to_q, to_k, to_v, to_out.0], dropout: 0.0, init_seed: 0}
 * # full_finetune: true                 # instead of lora
 * steps: 20
 * batch_size: 1
 * gradient_accumulation: 1
 * learning_rate: 1.0e-3
 * betas: [0.9, 0.95]
 * epsilon: 1.0e-8
 * weight_decay: 1.0e-4
 * lr_schedule: {type: constant_with_warmup, warmup_steps: 2, num_cycles: 1}
 * max_grad_norm: 1.0
 * seed: 42
 * checkpoint_every: 10                  # 0: only at the end
 * keep_last: 2
 * validation_every: 0                   # 0: no validation
 * non_finite: skip                      # or stop
 * gradient_checkpointing: false
 * mixed_precision: fp32                 # or bf16
 * rope: pipeline                        # or diffusers_480x720
 * id_token: BW_STYLE                    # optional, prepended to captions
 * caption_dropout: 0.0
 * image_latent_dropout: 0.05            # I2V only
 * ofs: 2.0                              # CogVideoX1.5-I2V only
 * sincos_at_untrained_size: false       # CogVideoX-5b-I2V only
 * distributed: {timeout_seconds: 1800}  # several ranks: rendezvous and collective timeout
 * }</pre>
 *
 * <p>Only {@code model}, {@code data} and {@code output_dir} are required. Defaults of the other keys (the reference
 * trainers' where they agree): steps 1000, batch size 1, accumulation 1, learning rate 1e-4, betas (0.9, 0.95),
 * epsilon 1e-8, weight decay 1e-4, schedule {@code constant} without warm-up (1 cycle), max grad norm 1.0, seed 42,
 * checkpoint every 500 steps keeping 3, no validation, {@code non_finite: skip}, no gradient checkpointing,
 * {@code fp32}, {@code rope: pipeline}, no id token, caption dropout 0, image-latent dropout 0.05, OFS 2.0, no sincos
 * opt-in, a distributed timeout of 1800 s. Without {@code lora} and
 * {@code full_finetune}, a LoRA of rank 64, alpha 64 on the default targets is trained; inside {@code lora}, a
 * missing {@code alpha} equals the rank. Relative paths are kept as written (resolved against the working
 * directory by whoever uses them).
 *
 * <p>Validation: {@link #read(Path)} and {@link #parse} check the whole file before returning and throw one
 * {@link TrainingConfigException} listing every problem with its key path (unknown keys with a suggestion, wrong
 * types, out-of-range values, contradictions, missing folders). Configurations built in code are not checked by
 * the constructor; call {@link #validate()} (or {@link #problems()}) before using one.
 *
 * <p>Thread safety: immutable (the lists are unmodifiable copies).
 *
 * @param model the model to fine-tune
 * @param data where the training samples come from
 * @param outputDir where checkpoints, metrics and exports go
 * @param lora the LoRA to train, or {@code null} when {@code fullFinetune}
 * @param fullFinetune train every weight instead of a LoRA
 * @param steps optimizer steps of the run (&gt; 0)
 * @param batchSize samples per micro-batch (&gt; 0)
 * @param gradientAccumulation micro-batches per optimizer step (&gt; 0)
 * @param learningRate AdamW's base learning rate (&gt; 0)
 * @param betas AdamW's (beta1, beta2), each in [0, 1)
 * @param epsilon AdamW's epsilon (&gt; 0)
 * @param weightDecay AdamW's decoupled weight decay (&gt;= 0)
 * @param lrSchedule the learning-rate schedule
 * @param maxGradNorm the global gradient-norm clip (&gt; 0)
 * @param seed the run's master seed (noise, timesteps, dropout and sampler streams derive from it)
 * @param checkpointEvery save a checkpoint every this many steps (0: only at the end)
 * @param keepLast checkpoints to keep (&gt;= 1)
 * @param validationEvery run validation every this many steps (0: never)
 * @param nonFinite what a non-finite loss or gradient does
 * @param gradientCheckpointing recompute block activations in backward to save memory
 * @param mixedPrecision the compute precision
 * @param rope how a batch's RoPE table is built
 * @param idToken a token prepended to every caption, or {@code null}
 * @param captionDropout probability of training a sample on the empty prompt, in [0, 1]
 * @param imageLatentDropout I2V: probability of zeroing a sample's image latents, in [0, 1]
 * @param ofs CogVideoX1.5-I2V: the OFS value (finite, &gt;= 0)
 * @param sincosAtUntrainedSize CogVideoX-5b-I2V: allow buckets other than the trained size (3D sincos table)
 * @param distributed settings of a run on several ranks (ignored by a single process)
 */
public record TrainingConfig(ModelSource model, DataSource data, Path outputDir, LoraSettings lora,
        boolean fullFinetune, long steps, int batchSize, int gradientAccumulation, double learningRate,
        List<Double> betas, double epsilon, double weightDecay, LrScheduleSettings lrSchedule, double maxGradNorm,
        long seed, long checkpointEvery, int keepLast, long validationEvery, NonFinite nonFinite,
        boolean gradientCheckpointing, MixedPrecision mixedPrecision, Rope rope, String idToken,
        double captionDropout, double imageLatentDropout, double ofs, boolean sincosAtUntrainedSize,
        Distributed distributed) {

    /** Names of the built-in tiny models ({@code model.builtin}) and the release whose structure each copies. */
    public static final Map<String, CogVideoXVariant> BUILTINS = Collections.unmodifiableMap(builtins());

    /** What a non-finite loss or gradient does (same names as the fine-tuner's policy). */
    public enum NonFinite {
        /** Skip the update and go on. */
        SKIP,
        /** Stop the run. */
        STOP
    }

    /** Compute precision. */
    public enum MixedPrecision {
        /** Everything in float32. */
        FP32,
        /** bfloat16 compute where supported (inside TorchScript kernels; never created through DJL). */
        BF16
    }

    /** How a batch's RoPE table is built (same names as the fine-tuner's rule). */
    public enum Rope {
        /** As the inference pipelines build it for the batch's latent size. */
        PIPELINE,
        /** As the Diffusers training scripts: the 1.0 crop-region grid against a fixed 480x720 base. */
        DIFFUSERS_480X720
    }

    /**
     * The model: a Diffusers folder, or a built-in tiny model with random weights.
     *
     * @param path a Diffusers model folder (with {@code transformer/config.json}), or {@code null}
     * @param builtin a key of {@link #BUILTINS}, or {@code null}
     */
    public record ModelSource(Path path, String builtin) {
        /**
         * @param path a Diffusers folder
         * @return the source
         */
        public static ModelSource ofPath(Path path) {
            return new ModelSource(checkNotNull(path, "path"), null);
        }

        /**
         * @param name a key of {@link #BUILTINS}, e.g. {@code tiny-1.5-i2v}
         * @return the source
         */
        public static ModelSource builtin(String name) {
            return new ModelSource(null, checkNotNull(name, "name"));
        }

        /** @return the release a built-in model copies, or empty for a folder (or an unknown name) */
        public Optional<CogVideoXVariant> builtinVariant() {
            return builtin == null ? Optional.empty() : Optional.ofNullable(BUILTINS.get(builtin));
        }
    }

    /**
     * The training data: a latent cache folder, or synthetic random samples.
     *
     * @param cache a latent cache folder, or {@code null}
     * @param synthetic synthetic samples, or {@code null}
     */
    public record DataSource(Path cache, SyntheticData synthetic) {
        /**
         * @param cache a latent cache folder
         * @return the source
         */
        public static DataSource ofCache(Path cache) {
            return new DataSource(checkNotNull(cache, "cache"), null);
        }

        /**
         * @param samples number of random samples
         * @param buckets their buckets
         * @return the source
         */
        public static DataSource synthetic(int samples, List<Bucket> buckets) {
            return new DataSource(null, new SyntheticData(samples, buckets));
        }
    }

    /**
     * Random samples for demos and tests.
     *
     * @param samples how many (&gt; 0)
     * @param buckets the buckets they are spread over (not empty), written {@code FxHxW} in pixels
     */
    public record SyntheticData(int samples, List<Bucket> buckets) {
        /** Copies the list (null stays null, reported by validation). */
        public SyntheticData {
            buckets = buckets == null ? null : Collections.unmodifiableList(new ArrayList<>(buckets));
        }
    }

    /**
     * The LoRA section ({@link #toLoraConfig()} turns it into the adapter's config).
     *
     * @param rank r (&gt; 0)
     * @param alpha lora_alpha (&gt; 0)
     * @param targets module-name suffixes (PEFT list form); empty when {@code targetRegex} is set
     * @param targetRegex a full-match pattern over module names, or {@code null}
     * @param dropout dropout on the LoRA input, in [0, 1)
     * @param initSeed seed of the initial {@code A}
     */
    public record LoraSettings(int rank, double alpha, List<String> targets, String targetRegex, double dropout,
            long initSeed) {
        /** Copies the list (null becomes empty). */
        public LoraSettings {
            targets = targets == null ? List.of() : Collections.unmodifiableList(new ArrayList<>(targets));
        }

        /**
         * @param rank r
         * @param alpha lora_alpha
         * @return rank and alpha on the default targets, no dropout, seed 0
         */
        public static LoraSettings of(int rank, double alpha) {
            return new LoraSettings(rank, alpha, LoraConfig.DEFAULT_TARGETS, null, 0.0, 0L);
        }

        /**
         * @return the adapter configuration
         * @throws IllegalArgumentException if the settings are invalid (see {@link TrainingConfig#validate()})
         */
        public LoraConfig toLoraConfig() {
            return new LoraConfig(rank, alpha, targetRegex == null ? targets : List.of(), targetRegex, dropout,
                    initSeed);
        }
    }

    /**
     * The learning-rate schedule section.
     *
     * @param type a Diffusers schedule name ({@code constant}, {@code constant_with_warmup}, {@code linear},
     *     {@code cosine}, {@code cosine_with_restarts})
     * @param warmupSteps warm-up steps (&gt;= 0, at most {@code steps})
     * @param numCycles cosine restarts for {@code cosine_with_restarts} (&gt;= 1)
     */
    public record LrScheduleSettings(String type, int warmupSteps, int numCycles) {}

    /**
     * Settings of a run on several ranks ({@code distributed}).
     *
     * @param timeoutSeconds how long the rendezvous and every collective may take before the run fails naming the
     *     lost rank (&gt; 0; default 1800). The launcher's {@code --timeout-seconds} (variable
     *     {@code COGVIDEOX_DIST_TIMEOUT_SECONDS}) overrides it.
     */
    public record Distributed(long timeoutSeconds) {
        /** The default: 30 minutes, as torch's. */
        public static final Distributed DEFAULT = new Distributed(1800);
    }

    /** Copies the lists (null stays null, reported by validation). */
    public TrainingConfig {
        betas = betas == null ? null : Collections.unmodifiableList(new ArrayList<>(betas));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Factories

    /**
     * The demo run: a tiny CogVideoX-5b-structured model with random weights, 4 synthetic samples in one 9x64x96
     * bucket (the tiny model's trained size), a rank-4 LoRA, 20 steps, checkpoints every 10 steps in
     * {@code runs/tiny-demo}.
     *
     * @return the valid demo configuration
     */
    public static TrainingConfig tinyDemo() {
        return new TrainingConfig(ModelSource.builtin("tiny-5b"),
                DataSource.synthetic(4, List.of(new Bucket(9, 64, 96))), Path.of("runs", "tiny-demo"),
                LoraSettings.of(4, 4), false, 20, 1, 1, 1e-3, List.of(0.9, 0.95), 1e-8, 1e-4,
                new LrScheduleSettings("constant_with_warmup", 2, 1), 1.0, 42, 10, 2, 0, NonFinite.SKIP, false,
                MixedPrecision.FP32, Rope.PIPELINE, null, 0.0, 0.05, 2.0, false, Distributed.DEFAULT);
    }

    /**
     * Reads a configuration file, by extension: {@code .yaml}/{@code .yml} as YAML, {@code .json} as JSON.
     *
     * @param file the file
     * @return the configuration, fully validated
     * @throws IOException if the file cannot be read
     * @throws TrainingConfigException listing every problem (syntax errors name line and column)
     * @throws IllegalArgumentException if the extension is none of the above
     */
    public static TrainingConfig read(Path file) throws IOException {
        checkNotNull(file, "file");
        String name = file.getFileName() == null ? "" : file.getFileName().toString().toLowerCase(Locale.ROOT);
        boolean yaml = name.endsWith(".yaml") || name.endsWith(".yml");
        if (!yaml && !name.endsWith(".json")) {
            throw new IllegalArgumentException(file + ": expected a .yaml, .yml or .json file");
        }
        return parse(Files.readString(file), yaml, file.toString());
    }

    /**
     * Parses configuration text.
     *
     * @param text the YAML or JSON text
     * @param yaml whether it is YAML (JSON otherwise; JSON is also valid YAML)
     * @param source a name for messages, e.g. the file
     * @return the configuration, fully validated
     * @throws TrainingConfigException listing every problem
     */
    public static TrainingConfig parse(String text, boolean yaml, String source) {
        checkNotNull(text, "text");
        JsonNode root;
        try {
            root = (yaml ? YAML : JSON).readTree(text);
        } catch (JsonProcessingException e) {
            JsonLocation at = e.getLocation();
            String where = at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr();
            throw new TrainingConfigException(source, "(syntax)" + where + ": " + e.getOriginalMessage(), e);
        }
        return fromTree(root, source);
    }

    /**
     * Builds a configuration from a tree with the file's keys (e.g. the {@code config} node of a checkpoint's state,
     * written by {@link #toTree()}).
     *
     * @param root the root mapping
     * @param source a name for messages
     * @return the configuration, fully validated
     * @throws TrainingConfigException listing every problem
     */
    public static TrainingConfig fromTree(JsonNode root, String source) {
        ConfigTree t = new ConfigTree();
        TrainingConfig config = read(t, root);
        List<String> problems = new ArrayList<>(t.problems());
        if (config != null) {
            problems.addAll(config.problems());
        }
        if (!problems.isEmpty()) {
            throw new TrainingConfigException(source, problems);
        }
        return config;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Derived values

    /** @return the AdamW beta1 */
    public double beta1() {
        return betas.get(0);
    }

    /** @return the AdamW beta2 */
    public double beta2() {
        return betas.get(1);
    }

    /** @return the learning-rate schedule over {@link #steps()} */
    public LearningRateSchedule schedule() {
        return LearningRateSchedule.of(lrSchedule.type(), learningRate, lrSchedule.warmupSteps(),
                Math.toIntExact(steps), lrSchedule.numCycles());
    }

    /** @return the LoRA adapter configuration, or empty for a full fine-tune */
    public Optional<LoraConfig> loraConfig() {
        return fullFinetune || lora == null ? Optional.empty() : Optional.of(lora.toLoraConfig());
    }

    /**
     * @param dir the new output folder
     * @return a copy writing there (not re-validated)
     */
    public TrainingConfig withOutputDir(Path dir) {
        return new TrainingConfig(model, data, checkNotNull(dir, "dir"), lora, fullFinetune, steps, batchSize,
                gradientAccumulation, learningRate, betas, epsilon, weightDecay, lrSchedule, maxGradNorm, seed,
                checkpointEvery, keepLast, validationEvery, nonFinite, gradientCheckpointing, mixedPrecision, rope,
                idToken, captionDropout, imageLatentDropout, ofs, sincosAtUntrainedSize, distributed);
    }

    /**
     * @param newSteps the number of steps
     * @return a copy running that many steps (not re-validated)
     */
    public TrainingConfig withSteps(long newSteps) {
        return new TrainingConfig(model, data, outputDir, lora, fullFinetune, newSteps, batchSize,
                gradientAccumulation, learningRate, betas, epsilon, weightDecay, lrSchedule, maxGradNorm, seed,
                checkpointEvery, keepLast, validationEvery, nonFinite, gradientCheckpointing, mixedPrecision, rope,
                idToken, captionDropout, imageLatentDropout, ofs, sincosAtUntrainedSize, distributed);
    }

    /**
     * Overrides keys as a command line would ({@code --set lora.rank=8}): each value is read as a YAML scalar or
     * flow collection ({@code 8}, {@code 1e-4}, {@code true}, {@code [0.9, 0.99]}, {@code null} to remove), and the
     * result is validated as a whole.
     *
     * @param overrides dotted key path to value text, applied in order
     * @return the new configuration
     * @throws TrainingConfigException listing every problem of the result
     */
    public TrainingConfig withOverrides(Map<String, String> overrides) {
        checkNotNull(overrides, "overrides");
        ObjectNode root = toTree();
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, String> o : overrides.entrySet()) {
            String[] keys = o.getKey().split("\\.");
            ObjectNode parent = root;
            for (int i = 0; i < keys.length - 1 && parent != null; i++) {
                JsonNode next = parent.get(keys[i]);
                parent = next == null || next.isNull() ? parent.putObject(keys[i])
                        : next.isObject() ? (ObjectNode) next : null;
            }
            if (parent == null) {
                problems.add(o.getKey() + ": cannot override inside a value that is not a mapping");
                continue;
            }
            JsonNode value;
            try {
                value = YAML.readTree(o.getValue() == null ? "null" : o.getValue());
            } catch (JsonProcessingException e) {
                problems.add(o.getKey() + ": cannot read the value '" + o.getValue() + "': " + e.getOriginalMessage());
                continue;
            }
            String last = keys[keys.length - 1];
            if (value == null || value.isNull() || value.isMissingNode()) {
                parent.remove(last);
            } else {
                parent.set(last, value);
            }
            if (o.getKey().equals("full_finetune") && value != null && value.asBoolean(false)) {
                root.remove("lora"); // switching to a full fine-tune drops the LoRA section
            }
        }
        if (!problems.isEmpty()) {
            throw new TrainingConfigException("overrides", problems);
        }
        return fromTree(root, "config with overrides " + overrides.keySet());
    }

    // ---------------------------------------------------------------------------------------------------------
    // Validation

    /**
     * Checks the configuration as a whole.
     *
     * @return this configuration
     * @throws TrainingConfigException listing every problem (see {@link #problems()})
     */
    public TrainingConfig validate() {
        List<String> p = problems();
        if (!p.isEmpty()) {
            throw new TrainingConfigException("training config", p);
        }
        return this;
    }

    /**
     * Every problem of this configuration, each {@code "<key path>: <what is wrong>"}: ranges, contradictions, and
     * the file system (the model and cache folders must exist; the output folder must be a folder or creatable).
     *
     * @return the problems, empty when the configuration is usable
     */
    public List<String> problems() {
        List<String> p = new ArrayList<>();
        checkModel(p);
        checkData(p);
        checkOutputDir(p);
        if (fullFinetune && lora != null) {
            p.add("lora, full_finetune: give either a lora section or full_finetune: true, not both");
        } else if (!fullFinetune && lora == null) {
            p.add("lora: missing; give a lora section or full_finetune: true");
        }
        if (lora != null) {
            checkLora(p);
        }
        if (steps <= 0) {
            p.add("steps: must be > 0, got " + steps);
        } else if (steps > Integer.MAX_VALUE) {
            p.add("steps: must be at most " + Integer.MAX_VALUE + ", got " + steps);
        }
        positive(p, "batch_size", batchSize);
        positive(p, "gradient_accumulation", gradientAccumulation);
        if (!(learningRate > 0) || !Double.isFinite(learningRate)) {
            p.add("learning_rate: must be a finite number > 0, got " + learningRate);
        }
        if (betas == null || betas.size() != 2) {
            p.add("betas: expected two numbers [beta1, beta2], got " + betas);
        } else {
            for (int i = 0; i < 2; i++) {
                Double b = betas.get(i);
                if (b == null || !(b >= 0 && b < 1)) {
                    p.add("betas[" + i + "]: must be in [0, 1), got " + b);
                }
            }
        }
        if (!(epsilon > 0) || !Double.isFinite(epsilon)) {
            p.add("epsilon: must be a finite number > 0, got " + epsilon);
        }
        if (!(weightDecay >= 0) || !Double.isFinite(weightDecay)) {
            p.add("weight_decay: must be a finite number >= 0, got " + weightDecay);
        }
        checkSchedule(p);
        if (!(maxGradNorm > 0) || !Double.isFinite(maxGradNorm)) {
            p.add("max_grad_norm: must be a finite number > 0, got " + maxGradNorm);
        }
        if (checkpointEvery < 0) {
            p.add("checkpoint_every: must be >= 0 (0: only at the end), got " + checkpointEvery);
        }
        positive(p, "keep_last", keepLast);
        if (validationEvery < 0) {
            p.add("validation_every: must be >= 0 (0: never), got " + validationEvery);
        }
        required(p, "non_finite", nonFinite);
        required(p, "mixed_precision", mixedPrecision);
        required(p, "rope", rope);
        if (idToken != null && idToken.isBlank()) {
            p.add("id_token: must not be blank (leave it out for none)");
        }
        probability(p, "caption_dropout", captionDropout);
        probability(p, "image_latent_dropout", imageLatentDropout);
        if (!(ofs >= 0) || !Double.isFinite(ofs)) {
            p.add("ofs: must be a finite number >= 0, got " + ofs);
        }
        if (distributed == null) {
            p.add("distributed: missing");
        } else if (distributed.timeoutSeconds() <= 0) {
            p.add("distributed.timeout_seconds: must be > 0, got " + distributed.timeoutSeconds());
        }
        if (sincosAtUntrainedSize && model != null && model.builtinVariant().isPresent()
                && model.builtinVariant().get() != CogVideoXVariant.COGVIDEOX_5B_I2V) {
            p.add("sincos_at_untrained_size: applies to CogVideoX-5b-I2V only, but model.builtin is '"
                    + model.builtin() + "' (" + model.builtinVariant().get().displayName() + ")");
        }
        return p;
    }

    private void checkModel(List<String> p) {
        if (model == null || (model.path() == null) == (model.builtin() == null)) {
            p.add("model: give exactly one of model.path (a Diffusers folder) or model.builtin (one of "
                    + String.join(", ", BUILTINS.keySet()) + ")");
            return;
        }
        if (model.builtin() != null && !BUILTINS.containsKey(model.builtin())) {
            p.add("model.builtin: unknown model '" + model.builtin() + "'; expected one of "
                    + String.join(", ", BUILTINS.keySet()));
        }
        if (model.path() != null) {
            if (!Files.isDirectory(model.path())) {
                p.add("model.path: " + model.path() + " is not a folder (expected a Diffusers model folder)");
            } else if (!Files.isRegularFile(model.path().resolve("transformer").resolve("config.json"))
                    && !Files.isRegularFile(model.path().resolve("config.json"))) {
                p.add("model.path: " + model.path() + " has neither transformer/config.json nor config.json");
            }
        }
    }

    private void checkData(List<String> p) {
        if (data == null || (data.cache() == null) == (data.synthetic() == null)) {
            p.add("data: give exactly one of data.cache (a latent cache folder) or data.synthetic");
            return;
        }
        if (data.cache() != null && !Files.isDirectory(data.cache())) {
            p.add("data.cache: " + data.cache() + " is not a folder");
        }
        SyntheticData s = data.synthetic();
        if (s != null) {
            positive(p, "data.synthetic.samples", s.samples());
            if (s.buckets() == null || s.buckets().isEmpty()) {
                p.add("data.synthetic.buckets: must list at least one bucket, e.g. [9x64x96]");
            }
        }
    }

    private void checkOutputDir(List<String> p) {
        if (outputDir == null) {
            p.add("output_dir: missing");
            return;
        }
        Path abs = outputDir.toAbsolutePath();
        if (Files.exists(abs) && !Files.isDirectory(abs)) {
            p.add("output_dir: " + outputDir + " exists and is not a folder");
            return;
        }
        for (Path q = abs.getParent(); q != null; q = q.getParent()) {
            if (Files.exists(q)) {
                if (!Files.isDirectory(q)) {
                    p.add("output_dir: cannot create " + outputDir + " because " + q + " is a file");
                } else if (!Files.exists(abs) && !Files.isWritable(q)) {
                    p.add("output_dir: cannot create " + outputDir + " because " + q + " is not writable");
                }
                break;
            }
        }
    }

    private void checkLora(List<String> p) {
        positive(p, "lora.rank", lora.rank());
        if (!(lora.alpha() > 0) || !Double.isFinite(lora.alpha())) {
            p.add("lora.alpha: must be a finite number > 0, got " + lora.alpha());
        }
        if (lora.targetRegex() != null && !lora.targets().isEmpty()) {
            p.add("lora.targets, lora.target_regex: give one of them, not both");
        } else if (lora.targetRegex() == null && lora.targets().isEmpty()) {
            p.add("lora.targets: must list at least one module suffix (or give lora.target_regex)");
        }
        if (lora.targetRegex() != null) {
            try {
                Pattern.compile(lora.targetRegex());
            } catch (PatternSyntaxException e) {
                p.add("lora.target_regex: not a valid regular expression: " + e.getDescription() + " near index "
                        + e.getIndex());
            }
        }
        if (!(lora.dropout() >= 0 && lora.dropout() < 1)) {
            p.add("lora.dropout: must be in [0, 1), got " + lora.dropout());
        }
    }

    private void checkSchedule(List<String> p) {
        if (lrSchedule == null) {
            p.add("lr_schedule: missing");
            return;
        }
        try {
            LearningRateSchedule.Kind.fromDiffusersName(String.valueOf(lrSchedule.type()));
        } catch (IllegalArgumentException e) {
            p.add("lr_schedule.type: " + e.getMessage());
        }
        if (lrSchedule.warmupSteps() < 0) {
            p.add("lr_schedule.warmup_steps: must be >= 0, got " + lrSchedule.warmupSteps());
        } else if (steps > 0 && lrSchedule.warmupSteps() > steps) {
            p.add("lr_schedule.warmup_steps: " + lrSchedule.warmupSteps() + " is more than steps (" + steps
                    + "); the run would end before the warm-up does");
        }
        if (lrSchedule.numCycles() < 1) {
            p.add("lr_schedule.num_cycles: must be >= 1, got " + lrSchedule.numCycles());
        }
    }

    private static void positive(List<String> p, String key, long v) {
        if (v <= 0) {
            p.add(key + ": must be > 0, got " + v);
        }
    }

    private static void probability(List<String> p, String key, double v) {
        if (!(v >= 0 && v <= 1)) {
            p.add(key + ": must be a probability in [0, 1], got " + v);
        }
    }

    private static void required(List<String> p, String key, Object v) {
        if (v == null) {
            p.add(key + ": missing");
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Tree and text forms

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final YAMLMapper YAML = new YAMLMapper(YAMLFactory.builder()
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
            // A string that reads as a number (output_dir: "1e-4") stays quoted, so that toYaml() parses back to it.
            .enable(YAMLGenerator.Feature.ALWAYS_QUOTE_NUMBERS_AS_STRINGS)
            .build());

    private static final List<String> ROOT_KEYS = List.of("model", "data", "output_dir", "lora", "full_finetune",
            "steps", "batch_size", "gradient_accumulation", "learning_rate", "betas", "epsilon", "weight_decay",
            "lr_schedule", "max_grad_norm", "seed", "checkpoint_every", "keep_last", "validation_every",
            "non_finite", "gradient_checkpointing", "mixed_precision", "rope", "id_token", "caption_dropout",
            "image_latent_dropout", "ofs", "sincos_at_untrained_size", "distributed");
    private static final Pattern BUCKET =
            Pattern.compile("\\s*(\\d{1,9})\\s*[xX]\\s*(\\d{1,9})\\s*[xX]\\s*(\\d{1,9})\\s*");
    private static final TrainingConfig DEFAULTS = new TrainingConfig(null, null, null, LoraSettings.of(64, 64), false,
            1000, 1, 1, 1e-4, List.of(0.9, 0.95), 1e-8, 1e-4, new LrScheduleSettings("constant", 0, 1), 1.0, 42,
            500, 3, 0, NonFinite.SKIP, false, MixedPrecision.FP32, Rope.PIPELINE, null, 0.0, 0.05, 2.0, false,
            Distributed.DEFAULT);

    /** Keys that only say where or how often rank 0 writes, and may differ between the ranks of one run. */
    private static final List<String> OUTPUT_ONLY_KEYS = List.of("output_dir", "keep_last", "validation_every");

    /**
     * What every rank of a multi-rank run must agree on: a SHA-256 of the resolved configuration tree
     * ({@link #toTree()}, keys sorted) without the output-only keys {@code output_dir}, {@code keep_last} and
     * {@code validation_every}. Ranks started with different configs fail at the rendezvous.
     *
     * @return the hex digest
     */
    public String fingerprint() {
        ObjectNode tree = toTree();
        tree.remove(OUTPUT_ONLY_KEYS);
        try {
            return io.github.cogvideox4j.data.media.ContentHash.sha256("training-config/1\n"
                    + JSON.copy().disable(SerializationFeature.INDENT_OUTPUT)
                            .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
                            .writeValueAsString(JSON.treeToValue(tree, Object.class)));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write the config as JSON", e);
        }
    }

    /** @return the configuration as YAML with the file's keys (read back by {@link #parse}) */
    public String toYaml() {
        try {
            return YAML.writeValueAsString(toTree());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write the config as YAML", e);
        }
    }

    /** @return the configuration as pretty-printed JSON with the file's keys */
    public String toJson() {
        try {
            return JSON.writeValueAsString(toTree());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot write the config as JSON", e);
        }
    }

    /** @return a new tree with the file's keys (e.g. to store in a checkpoint's state); absent values omitted */
    public ObjectNode toTree() {
        ObjectNode r = JsonNodeFactory.instance.objectNode();
        if (model != null) {
            ObjectNode m = r.putObject("model");
            if (model.path() != null) {
                m.put("path", model.path().toString());
            }
            if (model.builtin() != null) {
                m.put("builtin", model.builtin());
            }
        }
        if (data != null) {
            ObjectNode d = r.putObject("data");
            if (data.cache() != null) {
                d.put("cache", data.cache().toString());
            }
            if (data.synthetic() != null) {
                ObjectNode s = d.putObject("synthetic");
                s.put("samples", data.synthetic().samples());
                ArrayNode b = s.putArray("buckets");
                if (data.synthetic().buckets() != null) {
                    data.synthetic().buckets().forEach(x -> b.add(x.toString()));
                }
            }
        }
        if (outputDir != null) {
            r.put("output_dir", outputDir.toString());
        }
        if (lora != null) {
            ObjectNode l = r.putObject("lora");
            l.put("rank", lora.rank());
            l.put("alpha", lora.alpha());
            if (lora.targetRegex() != null) {
                l.put("target_regex", lora.targetRegex());
            }
            if (!lora.targets().isEmpty()) {
                ArrayNode t = l.putArray("targets");
                lora.targets().forEach(t::add);
            }
            l.put("dropout", lora.dropout());
            l.put("init_seed", lora.initSeed());
        }
        r.put("full_finetune", fullFinetune);
        r.put("steps", steps);
        r.put("batch_size", batchSize);
        r.put("gradient_accumulation", gradientAccumulation);
        r.put("learning_rate", learningRate);
        if (betas != null) {
            ArrayNode b = r.putArray("betas");
            betas.forEach(b::add);
        }
        r.put("epsilon", epsilon);
        r.put("weight_decay", weightDecay);
        if (lrSchedule != null) {
            ObjectNode s = r.putObject("lr_schedule");
            s.put("type", lrSchedule.type());
            s.put("warmup_steps", lrSchedule.warmupSteps());
            s.put("num_cycles", lrSchedule.numCycles());
        }
        r.put("max_grad_norm", maxGradNorm);
        r.put("seed", seed);
        r.put("checkpoint_every", checkpointEvery);
        r.put("keep_last", keepLast);
        r.put("validation_every", validationEvery);
        putEnum(r, "non_finite", nonFinite);
        r.put("gradient_checkpointing", gradientCheckpointing);
        putEnum(r, "mixed_precision", mixedPrecision);
        putEnum(r, "rope", rope);
        if (idToken != null) {
            r.put("id_token", idToken);
        }
        r.put("caption_dropout", captionDropout);
        r.put("image_latent_dropout", imageLatentDropout);
        r.put("ofs", ofs);
        r.put("sincos_at_untrained_size", sincosAtUntrainedSize);
        if (distributed != null) {
            r.putObject("distributed").put("timeout_seconds", distributed.timeoutSeconds());
        }
        return r;
    }

    private static void putEnum(ObjectNode r, String key, Enum<?> v) {
        if (v != null) {
            r.put(key, v.name().toLowerCase(Locale.ROOT));
        }
    }

    /** Reads every key it knows, reporting problems into {@code t}; null only when the root is not a mapping. */
    private static TrainingConfig read(ConfigTree t, JsonNode root) {
        if (root == null || root.isNull() || root.isMissingNode()) {
            t.problem("(root)", "the file is empty; expected a mapping with at least model, data and output_dir");
            return null;
        }
        if (!root.isObject()) {
            t.problem("(root)", "expected a mapping of keys, got " + ConfigTree.describe(root));
            return null;
        }
        TrainingConfig d = DEFAULTS;
        t.checkKeys(root, "", ROOT_KEYS);

        ModelSource model = null;
        if (ConfigTree.child(root, "model") == null) {
            t.problem("model", "missing; give model.path (a Diffusers folder) or model.builtin (one of "
                    + String.join(", ", BUILTINS.keySet()) + ")");
        } else {
            ObjectNode m = t.object(root, "model", "");
            if (m != null) {
                t.checkKeys(m, "model", List.of("path", "builtin"));
                model = new ModelSource(t.path(m, "path", "model"), t.text(m, "builtin", "model"));
            }
        }

        DataSource data = null;
        if (ConfigTree.child(root, "data") == null) {
            t.problem("data", "missing; give data.cache (a latent cache folder) or data.synthetic");
        } else {
            ObjectNode dn = t.object(root, "data", "");
            if (dn != null) {
                t.checkKeys(dn, "data", List.of("cache", "synthetic"));
                SyntheticData synthetic = null;
                ObjectNode s = t.object(dn, "synthetic", "data");
                if (s != null) {
                    t.checkKeys(s, "data.synthetic", List.of("samples", "buckets"));
                    Integer samples = t.int32(s, "samples", "data.synthetic");
                    List<String> texts = t.texts(s, "buckets", "data.synthetic");
                    List<Bucket> buckets = new ArrayList<>();
                    if (texts != null) {
                        for (int i = 0; i < texts.size(); i++) {
                            Bucket b = bucket(t, texts.get(i), "data.synthetic.buckets[" + i + "]");
                            if (b != null) {
                                buckets.add(b);
                            }
                        }
                    }
                    synthetic = new SyntheticData(samples == null ? 4 : samples, buckets);
                }
                data = new DataSource(t.path(dn, "cache", "data"), synthetic);
            }
        }

        Path outputDir = null;
        if (ConfigTree.child(root, "output_dir") == null) {
            t.problem("output_dir", "missing; give the folder for checkpoints, metrics and exports");
        } else {
            outputDir = t.path(root, "output_dir", "");
        }

        boolean full = or(t.bool(root, "full_finetune", ""), d.fullFinetune());
        LoraSettings lora = null;
        ObjectNode ln = t.object(root, "lora", "");
        if (ln != null) {
            t.checkKeys(ln, "lora", List.of("rank", "alpha", "targets", "target_regex", "dropout", "init_seed"));
            int rank = or(t.int32(ln, "rank", "lora"), d.lora().rank());
            double alpha = or(t.number(ln, "alpha", "lora"), ConfigTree.child(ln, "rank") == null
                    ? d.lora().alpha() : rank);
            String regex = t.text(ln, "target_regex", "lora");
            List<String> targets = t.texts(ln, "targets", "lora");
            if (targets == null) {
                targets = regex == null ? LoraConfig.DEFAULT_TARGETS : List.of();
            }
            lora = new LoraSettings(rank, alpha, targets, regex, or(t.number(ln, "dropout", "lora"), 0.0),
                    or(t.integer(ln, "init_seed", "lora"), 0L));
        } else if (!full) {
            lora = d.lora();
        }

        LrScheduleSettings schedule = d.lrSchedule();
        ObjectNode sn = t.object(root, "lr_schedule", "");
        if (sn != null) {
            t.checkKeys(sn, "lr_schedule", List.of("type", "warmup_steps", "num_cycles"));
            schedule = new LrScheduleSettings(or(t.text(sn, "type", "lr_schedule"), schedule.type()),
                    or(t.int32(sn, "warmup_steps", "lr_schedule"), schedule.warmupSteps()),
                    or(t.int32(sn, "num_cycles", "lr_schedule"), schedule.numCycles()));
        }

        Distributed distributed = d.distributed();
        ObjectNode dist = t.object(root, "distributed", "");
        if (dist != null) {
            t.checkKeys(dist, "distributed", List.of("timeout_seconds"));
            distributed = new Distributed(or(t.integer(dist, "timeout_seconds", "distributed"),
                    distributed.timeoutSeconds()));
        }

        List<Double> betas = t.numbers(root, "betas", "");
        return new TrainingConfig(model, data, outputDir, lora, full,
                or(t.integer(root, "steps", ""), d.steps()),
                or(t.int32(root, "batch_size", ""), d.batchSize()),
                or(t.int32(root, "gradient_accumulation", ""), d.gradientAccumulation()),
                or(t.number(root, "learning_rate", ""), d.learningRate()),
                betas == null ? d.betas() : betas,
                or(t.number(root, "epsilon", ""), d.epsilon()),
                or(t.number(root, "weight_decay", ""), d.weightDecay()),
                schedule,
                or(t.number(root, "max_grad_norm", ""), d.maxGradNorm()),
                or(t.integer(root, "seed", ""), d.seed()),
                or(t.integer(root, "checkpoint_every", ""), d.checkpointEvery()),
                or(t.int32(root, "keep_last", ""), d.keepLast()),
                or(t.integer(root, "validation_every", ""), d.validationEvery()),
                or(t.enumValue(root, "non_finite", "", NonFinite.class), d.nonFinite()),
                or(t.bool(root, "gradient_checkpointing", ""), d.gradientCheckpointing()),
                or(t.enumValue(root, "mixed_precision", "", MixedPrecision.class), d.mixedPrecision()),
                or(t.enumValue(root, "rope", "", Rope.class), d.rope()),
                t.text(root, "id_token", ""),
                or(t.number(root, "caption_dropout", ""), d.captionDropout()),
                or(t.number(root, "image_latent_dropout", ""), d.imageLatentDropout()),
                or(t.number(root, "ofs", ""), d.ofs()),
                or(t.bool(root, "sincos_at_untrained_size", ""), d.sincosAtUntrainedSize()),
                distributed);
    }

    private static Bucket bucket(ConfigTree t, String text, String path) {
        Matcher m = BUCKET.matcher(text);
        if (!m.matches()) {
            t.problem(path, "expected FRAMESxHEIGHTxWIDTH such as 9x64x96, got '" + text + "'");
            return null;
        }
        int f = Integer.parseInt(m.group(1));
        int h = Integer.parseInt(m.group(2));
        int w = Integer.parseInt(m.group(3));
        if (f <= 0 || h <= 0 || w <= 0) {
            t.problem(path, "sizes must be positive, got '" + text + "'");
            return null;
        }
        return new Bucket(f, h, w);
    }

    private static <T> T or(T value, T fallback) {
        return value != null ? value : fallback;
    }

    private static Map<String, CogVideoXVariant> builtins() {
        Map<String, CogVideoXVariant> m = new LinkedHashMap<>();
        m.put("tiny-2b", CogVideoXVariant.COGVIDEOX_2B);
        m.put("tiny-5b", CogVideoXVariant.COGVIDEOX_5B);
        m.put("tiny-5b-i2v", CogVideoXVariant.COGVIDEOX_5B_I2V);
        m.put("tiny-1.5", CogVideoXVariant.COGVIDEOX_1_5_5B);
        m.put("tiny-1.5-i2v", CogVideoXVariant.COGVIDEOX_1_5_5B_I2V);
        return m;
    }
}
