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
import io.github.cogvideox4j.core.model.BasePrecision;
import io.github.cogvideox4j.core.model.ComputePrecision;
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
import java.util.function.Consumer;
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
 * output_dir: runs/tiny-5b  
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
 * validation_every: 0                   # 0: no validation; else held-out loss (synthetic data) and the videos
 * validation:                           # optional: validation videos every validation_every steps
 *   prompts: ["A panda plays a small guitar."]
 *   images: [panda.png]                 # image-to-video only; see ValidationSettings
 *   seed: 42
 *   size: 480x720
 *   frames: 49
 *   steps: 50
 *   guidance: 6.0
 *   fps: 8
 * non_finite: skip                      # or stop
 * gradient_checkpointing: false
 * gradient_checkpointing_segment: 1     # blocks per checkpoint; 5 keeps the fewest of 42 blocks' inputs
 * gradient_checkpointing_chunks: 1      # token chunks per block backward; 4 shrinks a block's working set
 * mixed_precision: fp32                 # or bf16
 * base_precision: int8                 # frozen base weights (LoRA): fp32, bf16 or int8; default see below
 * rope: pipeline                        # or diffusers_480x720
 * id_token: BW_STYLE                    # optional, prepended to captions
 * caption_dropout: 0.0
 * image_latent_dropout: 0.05            # I2V only
 * ofs: 2.0                              # CogVideoX1.5-I2V only
 * sincos_at_untrained_size: false       # CogVideoX-5b-I2V only
 * distributed: {timeout_seconds: 1800}  # several ranks: rendezvous and collective timeout
 * memory_budget_gb: 20                  # optional: refuse to start when the memory plan peaks above 20 GiB
 * }</pre>
 *
 * <p>Only {@code model}, {@code data} and {@code output_dir} are required. Defaults of the other keys (the reference
 * trainers' where they agree): steps 1000, batch size 1, accumulation 1, learning rate 1e-4, betas (0.9, 0.95),
 * epsilon 1e-8, weight decay 1e-4, schedule {@code constant} without warm-up (1 cycle), max grad norm 1.0, seed 42,
 * checkpoint every 500 steps keeping 3, no validation, {@code non_finite: skip}, no gradient checkpointing (a
 * segment of 1 block when on), {@code fp32}, {@code rope: pipeline}, no id token, caption dropout 0, image-latent
 * dropout 0.05, OFS 2.0, no sincos opt-in, a distributed timeout of 1800 s, and {@code base_precision} {@code bf16}
 * for a LoRA on a model path with {@code mixed_precision: bf16}, else {@code fp32}. Without {@code lora} and
 * {@code full_finetune}, a LoRA of rank 64, alpha 64 on the default targets is trained; inside {@code lora}, a
 * missing {@code alpha} equals the rank. Relative paths are kept as written (resolved against the working
 * directory by whoever uses them).
 *
 * <p>Validation: {@link #read(Path)} and {@link #parse} check the whole file before returning and throw one
 * {@link TrainingConfigException} listing every problem with its key path (unknown keys with a suggestion, wrong
 * types, out-of-range values, contradictions, missing folders). Configurations built in code are not checked by
 * {@link Builder#build()}; call {@link #validate()} (or {@link #problems()}) before using one.
 *
 * <p>In code, build one with {@link #builder()} (which starts from the file's defaults) or change a copy with
 * {@link #toBuilder()}; the accessors carry the file keys' meaning. Adding a key is local to this class: a
 * {@link Builder} field with its default and setter, an accessor, its name in the list of known keys, a line where
 * the tree is read (see {@link #fromTree}) and one in {@link #toTree()}, and its check in {@link #problems()}.
 *
 * <p>Thread safety: immutable (the lists are unmodifiable copies); a {@link Builder} is not thread-safe.
 */
public final class TrainingConfig {
    /** Names of the built-in tiny models ({@code model.builtin}) and the release whose structure each copies. */
    public static final Map<String, CogVideoXVariant> BUILTINS = Collections.unmodifiableMap(builtins());

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

    /**
     * Builds a {@link TrainingConfig}; starts from the file's defaults ({@link TrainingConfig#builder()}) or from a
     * configuration ({@link TrainingConfig#toBuilder()}). Setters take any value: {@link #build()} does not check,
     * {@link TrainingConfig#validate()} does. Each setter sets the file key of the accessor with the same name.
     *
     * <p>Thread safety: not thread-safe; the configurations it builds are independent of it.
     */
    public static final class Builder implements Cloneable {
        // one field per key, holding the file's default (copied shallowly: every value is immutable)
        private ModelSource model;
        private DataSource data;
        private Path outputDir;
        private LoraSettings lora = LoraSettings.of(64, 64);
        private boolean fullFinetune;
        private long steps = 1000;
        private int batchSize = 1;
        private int gradientAccumulation = 1;
        private double learningRate = 1e-4;
        private List<Double> betas = List.of(0.9, 0.95);
        private double epsilon = 1e-8;
        private double weightDecay = 1e-4;
        private LrScheduleSettings lrSchedule = new LrScheduleSettings("constant", 0, 1);
        private double maxGradNorm = 1.0;
        private long seed = 42;
        private long checkpointEvery = 500;
        private int keepLast = 3;
        private long validationEvery;
        private FineTuner.NonFinitePolicy nonFinite = FineTuner.NonFinitePolicy.SKIP;
        private boolean gradientCheckpointing;
        private int gradientCheckpointingSegment = 1;
        private int gradientCheckpointingChunks = 1;
        private ComputePrecision mixedPrecision = ComputePrecision.FP32;
        private BasePrecision basePrecision;
        private FineTuner.RopeRule rope = FineTuner.RopeRule.PIPELINE;
        private String idToken;
        private double captionDropout;
        private double imageLatentDropout = 0.05;
        private double ofs = 2.0;
        private boolean sincosAtUntrainedSize;
        private Distributed distributed = Distributed.DEFAULT;
        private ValidationSettings validation;
        private Double memoryBudgetGb;

        private Builder() {}

        /**
         * @param value {@code model}
         * @return this builder
         */
        public Builder model(ModelSource value) {
            this.model = value;
            return this;
        }

        /**
         * @param value {@code data}
         * @return this builder
         */
        public Builder data(DataSource value) {
            this.data = value;
            return this;
        }

        /**
         * @param value {@code output_dir}
         * @return this builder
         */
        public Builder outputDir(Path value) {
            this.outputDir = value;
            return this;
        }

        /**
         * @param value {@code lora} (default rank 64, alpha 64, default targets), {@code null} for none
         * @return this builder
         */
        public Builder lora(LoraSettings value) {
            this.lora = value;
            return this;
        }

        /**
         * @param value {@code full_finetune}; a full fine-tune also needs {@code lora(null)}
         * @return this builder
         */
        public Builder fullFinetune(boolean value) {
            this.fullFinetune = value;
            return this;
        }

        /**
         * @param value {@code steps}
         * @return this builder
         */
        public Builder steps(long value) {
            this.steps = value;
            return this;
        }

        /**
         * @param value {@code batch_size}
         * @return this builder
         */
        public Builder batchSize(int value) {
            this.batchSize = value;
            return this;
        }

        /**
         * @param value {@code gradient_accumulation}
         * @return this builder
         */
        public Builder gradientAccumulation(int value) {
            this.gradientAccumulation = value;
            return this;
        }

        /**
         * @param value {@code learning_rate}
         * @return this builder
         */
        public Builder learningRate(double value) {
            this.learningRate = value;
            return this;
        }

        /**
         * @param value {@code betas}, copied (null stays null, reported by validation)
         * @return this builder
         */
        public Builder betas(List<Double> value) {
            this.betas = value == null ? null : Collections.unmodifiableList(new ArrayList<>(value));
            return this;
        }

        /**
         * @param value {@code epsilon}
         * @return this builder
         */
        public Builder epsilon(double value) {
            this.epsilon = value;
            return this;
        }

        /**
         * @param value {@code weight_decay}
         * @return this builder
         */
        public Builder weightDecay(double value) {
            this.weightDecay = value;
            return this;
        }

        /**
         * @param value {@code lr_schedule}
         * @return this builder
         */
        public Builder lrSchedule(LrScheduleSettings value) {
            this.lrSchedule = value;
            return this;
        }

        /**
         * @param value {@code max_grad_norm}
         * @return this builder
         */
        public Builder maxGradNorm(double value) {
            this.maxGradNorm = value;
            return this;
        }

        /**
         * @param value {@code seed}
         * @return this builder
         */
        public Builder seed(long value) {
            this.seed = value;
            return this;
        }

        /**
         * @param value {@code checkpoint_every}
         * @return this builder
         */
        public Builder checkpointEvery(long value) {
            this.checkpointEvery = value;
            return this;
        }

        /**
         * @param value {@code keep_last}
         * @return this builder
         */
        public Builder keepLast(int value) {
            this.keepLast = value;
            return this;
        }

        /**
         * @param value {@code validation_every}
         * @return this builder
         */
        public Builder validationEvery(long value) {
            this.validationEvery = value;
            return this;
        }

        /**
         * @param value {@code non_finite}
         * @return this builder
         */
        public Builder nonFinite(FineTuner.NonFinitePolicy value) {
            this.nonFinite = value;
            return this;
        }

        /**
         * @param value {@code gradient_checkpointing}
         * @return this builder
         */
        public Builder gradientCheckpointing(boolean value) {
            this.gradientCheckpointing = value;
            return this;
        }

        /**
         * @param value {@code gradient_checkpointing_segment}
         * @return this builder
         */
        public Builder gradientCheckpointingSegment(int value) {
            this.gradientCheckpointingSegment = value;
            return this;
        }

        /**
         * @param value {@code gradient_checkpointing_chunks}
         * @return this builder
         */
        public Builder gradientCheckpointingChunks(int value) {
            this.gradientCheckpointingChunks = value;
            return this;
        }

        /**
         * @param value {@code mixed_precision}
         * @return this builder
         */
        public Builder mixedPrecision(ComputePrecision value) {
            this.mixedPrecision = value;
            return this;
        }

        /**
         * @param value {@code base_precision}, or {@code null} for the default (see {@link #basePrecision()})
         * @return this builder
         */
        public Builder basePrecision(BasePrecision value) {
            this.basePrecision = value;
            return this;
        }

        /**
         * @param value {@code rope}
         * @return this builder
         */
        public Builder rope(FineTuner.RopeRule value) {
            this.rope = value;
            return this;
        }

        /**
         * @param value {@code id_token}, or {@code null} for none
         * @return this builder
         */
        public Builder idToken(String value) {
            this.idToken = value;
            return this;
        }

        /**
         * @param value {@code caption_dropout}
         * @return this builder
         */
        public Builder captionDropout(double value) {
            this.captionDropout = value;
            return this;
        }

        /**
         * @param value {@code image_latent_dropout}
         * @return this builder
         */
        public Builder imageLatentDropout(double value) {
            this.imageLatentDropout = value;
            return this;
        }

        /**
         * @param value {@code ofs}
         * @return this builder
         */
        public Builder ofs(double value) {
            this.ofs = value;
            return this;
        }

        /**
         * @param value {@code sincos_at_untrained_size}
         * @return this builder
         */
        public Builder sincosAtUntrainedSize(boolean value) {
            this.sincosAtUntrainedSize = value;
            return this;
        }

        /**
         * @param value {@code distributed}
         * @return this builder
         */
        public Builder distributed(Distributed value) {
            this.distributed = value;
            return this;
        }

        /**
         * @param value {@code validation}: the validation videos, or {@code null} for none
         * @return this builder
         */
        public Builder validation(ValidationSettings value) {
            this.validation = value;
            return this;
        }

        /**
         * @param value {@code memory_budget_gb}, or {@code null} for no budget
         * @return this builder
         */
        public Builder memoryBudgetGb(Double value) {
            this.memoryBudgetGb = value;
            return this;
        }

        /** @return a configuration of the current values (not validated; see {@link TrainingConfig#validate()}) */
        public TrainingConfig build() {
            return new TrainingConfig(this);
        }

        private Builder copy() {
            try {
                return (Builder) clone();
            } catch (CloneNotSupportedException e) {
                throw new AssertionError(e);
            }
        }
    }

    /** The values, a private copy of the builder that is never changed after construction. */
    private final Builder v;

    private TrainingConfig(Builder b) {
        this.v = b.copy();
    }

    // ---------------------------------------------------------------------------------------------------------
    // Factories

    /**
     * A builder holding the file's defaults (see the class comment); {@code model}, {@code data} and
     * {@code outputDir} are unset.
     *
     * @return a new builder
     */
    public static Builder builder() {
        return new Builder();
    }

    /** @return a builder holding this configuration's values */
    public Builder toBuilder() {
        return v.copy();
    }

    /**
     * The built-in default, what {@code cogvideox train} trains without {@code --config} (the README's main job): a
     * tiny model with random weights and the CogVideoX1.5-5B-I2V structure (OFS and slice RoPE on), 48 synthetic
     * latent samples over three buckets (9x64x96, 9x96x64, 17x64x64), a rank-16 LoRA on the attention, feed-forward
     * and output projections, 300 steps of batch 2 at learning rate 5e-3, checkpoints and held-out validation every
     * 50 steps, output in {@code runs/demo}.
     *
     * @return the valid built-in default configuration
     */
    public static TrainingConfig builtinDefault() {
        return builder().model(ModelSource.builtin("tiny-1.5-i2v"))
                .data(DataSource.synthetic(48, List.of(new Bucket(9, 64, 96), new Bucket(9, 96, 64),
                        new Bucket(17, 64, 64))))
                .outputDir(Path.of("runs", "demo"))
                .lora(new LoraSettings(16, 16, List.of("to_q", "to_k", "to_v", "to_out.0", "ff.net.0.proj", "ff.net.2",
                        "proj_out"), null, 0.0, 42))
                .steps(300).batchSize(2).learningRate(5e-3).checkpointEvery(50).keepLast(2).validationEvery(50)
                .build();
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
    // Values (key in the file, see the class comment)

    /** @return {@code model}: the model to fine-tune */
    public ModelSource model() {
        return v.model;
    }

    /** @return {@code data}: where the training samples come from */
    public DataSource data() {
        return v.data;
    }

    /** @return {@code output_dir}: where checkpoints, metrics and exports go */
    public Path outputDir() {
        return v.outputDir;
    }

    /** @return {@code lora}: the LoRA to train, or {@code null} for a full fine-tune */
    public LoraSettings lora() {
        return v.lora;
    }

    /** @return {@code full_finetune}: train every weight instead of a LoRA */
    public boolean fullFinetune() {
        return v.fullFinetune;
    }

    /** @return {@code steps}: optimizer steps of the run (&gt; 0) */
    public long steps() {
        return v.steps;
    }

    /** @return {@code batch_size}: samples per micro-batch (&gt; 0; per rank) */
    public int batchSize() {
        return v.batchSize;
    }

    /** @return {@code gradient_accumulation}: micro-batches per optimizer step (&gt; 0) */
    public int gradientAccumulation() {
        return v.gradientAccumulation;
    }

    /** @return {@code learning_rate}: AdamW's base learning rate (&gt; 0) */
    public double learningRate() {
        return v.learningRate;
    }

    /** @return {@code betas}: AdamW's (beta1, beta2), each in [0, 1); unmodifiable */
    public List<Double> betas() {
        return v.betas;
    }

    /** @return {@code epsilon}: AdamW's epsilon (&gt; 0) */
    public double epsilon() {
        return v.epsilon;
    }

    /** @return {@code weight_decay}: AdamW's decoupled weight decay (&gt;= 0) */
    public double weightDecay() {
        return v.weightDecay;
    }

    /** @return {@code lr_schedule}: the learning-rate schedule section */
    public LrScheduleSettings lrSchedule() {
        return v.lrSchedule;
    }

    /** @return {@code max_grad_norm}: the global gradient-norm clip (&gt; 0) */
    public double maxGradNorm() {
        return v.maxGradNorm;
    }

    /** @return {@code seed}: the master seed (noise, timesteps, dropout and sampler streams derive from it) */
    public long seed() {
        return v.seed;
    }

    /** @return {@code checkpoint_every}: save a checkpoint every this many steps (0: only at the end) */
    public long checkpointEvery() {
        return v.checkpointEvery;
    }

    /** @return {@code keep_last}: checkpoints to keep (&gt;= 1) */
    public int keepLast() {
        return v.keepLast;
    }

    /** @return {@code validation_every}: run validation every this many steps (0: never) */
    public long validationEvery() {
        return v.validationEvery;
    }

    /** @return {@code non_finite}: what a non-finite loss or gradient does ({@code skip} or {@code stop}) */
    public FineTuner.NonFinitePolicy nonFinite() {
        return v.nonFinite;
    }

    /** @return {@code gradient_checkpointing}: recompute block activations in backward to save memory */
    public boolean gradientCheckpointing() {
        return v.gradientCheckpointing;
    }

    /**
     * @return {@code gradient_checkpointing_segment}: blocks per checkpoint under gradient checkpointing (default 1,
     *     every block's input kept). A segment of k keeps the inputs of blocks 0, k, 2k, ... and recomputes the
     *     blocks between them once more in backward: at most {@link MemoryPlan#heldBlockInputs} block inputs are
     *     held instead of n (42 blocks: 22 at k = 2, 12 at k = 5), for {@code n - ceil(n / k)} more block forwards
     *     per step (21 and 33; a block's forward is about a third of its step at real size, so about 17% and 27%
     *     more time).
     *     In fp32 the result does not depend on it, bit for bit
     */
    public int gradientCheckpointingSegment() {
        return v.gradientCheckpointingSegment;
    }

    /**
     * @return {@code gradient_checkpointing_chunks}: token chunks per block backward under gradient checkpointing
     *     (default 1). With c chunks each block's recompute is recorded and gone back through on {@code 1/c} of
     *     the tokens at a time, the attention's queries of the chunk against the keys and values of all tokens, so
     *     a block's working set shrinks to the keys, the values, their gradients and one chunk of the rest. The
     *     price is the k and v projections computed once more per block. Gradients change only by the order of the float sums over the tokens
     */
    public int gradientCheckpointingChunks() {
        return v.gradientCheckpointingChunks;
    }

    /** @return {@code mixed_precision}: the compute precision ({@code fp32} or {@code bf16}) */
    public ComputePrecision mixedPrecision() {
        return v.mixedPrecision;
    }

    /**
     * @return {@code base_precision}: how the frozen base Linear weights are held; when not given, {@code bf16} for a
     *     LoRA on a model path with {@code mixed_precision: bf16}, else {@code fp32}
     */
    public BasePrecision basePrecision() {
        if (v.basePrecision != null) {
            return v.basePrecision;
        }
        boolean bf16Lora = mixedPrecision() == ComputePrecision.BF16 && !fullFinetune() && model() != null
                && model().path() != null;
        return bf16Lora ? BasePrecision.BF16 : BasePrecision.FP32;
    }

    /** @return {@code rope}: how a batch's RoPE table is built ({@code pipeline} or {@code diffusers_480x720}) */
    public FineTuner.RopeRule rope() {
        return v.rope;
    }

    /** @return {@code id_token}: a token prepended to every caption, or {@code null} */
    public String idToken() {
        return v.idToken;
    }

    /** @return {@code caption_dropout}: probability of training a sample on the empty prompt, in [0, 1] */
    public double captionDropout() {
        return v.captionDropout;
    }

    /** @return {@code image_latent_dropout}: I2V: probability of zeroing a sample's image latents, in [0, 1] */
    public double imageLatentDropout() {
        return v.imageLatentDropout;
    }

    /** @return {@code ofs}: CogVideoX1.5-I2V: the OFS value (finite, &gt;= 0) */
    public double ofs() {
        return v.ofs;
    }

    /** @return {@code sincos_at_untrained_size}: CogVideoX-5b-I2V: allow buckets other than the trained size */
    public boolean sincosAtUntrainedSize() {
        return v.sincosAtUntrainedSize;
    }

    /** @return {@code distributed}: settings of a run on several ranks (ignored by a single process) */
    public Distributed distributed() {
        return v.distributed;
    }

    /**
     * @return {@code validation}: the validation videos sampled every {@link #validationEvery()} steps from the
     *     prompts' embeddings that {@code prepare --validation} stored in {@code data.cache}, or {@code null}
     */
    public ValidationSettings validation() {
        return v.validation;
    }

    /**
     * @return {@code memory_budget_gb}: the run refuses to start when its {@link MemoryPlan} peaks above this many
     *     GiB (&gt; 0), or {@code null} for no budget
     */
    public Double memoryBudgetGb() {
        return v.memoryBudgetGb;
    }

    /** Two configurations are equal when their file forms ({@link #toTree()}) are. */
    @Override
    public boolean equals(Object o) {
        return o instanceof TrainingConfig c && toTree().equals(c.toTree());
    }

    @Override
    public int hashCode() {
        return toTree().hashCode();
    }

    /** @return {@code TrainingConfig} and the file form as one-line JSON */
    @Override
    public String toString() {
        return "TrainingConfig" + toTree();
    }

    // ---------------------------------------------------------------------------------------------------------
    // Derived values

    /** @return the AdamW beta1 */
    public double beta1() {
        return betas().get(0);
    }

    /** @return the AdamW beta2 */
    public double beta2() {
        return betas().get(1);
    }

    /** @return the learning-rate schedule over {@link #steps()} */
    public LearningRateSchedule schedule() {
        return LearningRateSchedule.of(lrSchedule().type(), learningRate(), lrSchedule().warmupSteps(),
                Math.toIntExact(steps()), lrSchedule().numCycles());
    }

    /** @return the LoRA adapter configuration, or empty for a full fine-tune */
    public Optional<LoraConfig> loraConfig() {
        return fullFinetune() || lora() == null ? Optional.empty() : Optional.of(lora().toLoraConfig());
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
        if (fullFinetune() && lora() != null) {
            p.add("lora, full_finetune: give either a lora section or full_finetune: true, not both");
        } else if (!fullFinetune() && lora() == null) {
            p.add("lora: missing; give a lora section or full_finetune: true");
        }
        if (lora() != null) {
            checkLora(p);
        }
        if (steps() <= 0) {
            p.add("steps: must be > 0, got " + steps());
        } else if (steps() > Integer.MAX_VALUE) {
            p.add("steps: must be at most " + Integer.MAX_VALUE + ", got " + steps());
        }
        positive(p, "batch_size", batchSize());
        positive(p, "gradient_accumulation", gradientAccumulation());
        if (!(learningRate() > 0) || !Double.isFinite(learningRate())) {
            p.add("learning_rate: must be a finite number > 0, got " + learningRate());
        }
        if (betas() == null || betas().size() != 2) {
            p.add("betas: expected two numbers [beta1, beta2], got " + betas());
        } else {
            for (int i = 0; i < 2; i++) {
                Double b = betas().get(i);
                if (b == null || !(b >= 0 && b < 1)) {
                    p.add("betas[" + i + "]: must be in [0, 1), got " + b);
                }
            }
        }
        if (!(epsilon() > 0) || !Double.isFinite(epsilon())) {
            p.add("epsilon: must be a finite number > 0, got " + epsilon());
        }
        if (!(weightDecay() >= 0) || !Double.isFinite(weightDecay())) {
            p.add("weight_decay: must be a finite number >= 0, got " + weightDecay());
        }
        checkSchedule(p);
        if (!(maxGradNorm() > 0) || !Double.isFinite(maxGradNorm())) {
            p.add("max_grad_norm: must be a finite number > 0, got " + maxGradNorm());
        }
        if (checkpointEvery() < 0) {
            p.add("checkpoint_every: must be >= 0 (0: only at the end), got " + checkpointEvery());
        }
        positive(p, "keep_last", keepLast());
        if (validationEvery() < 0) {
            p.add("validation_every: must be >= 0 (0: never), got " + validationEvery());
        }
        required(p, "non_finite", nonFinite());
        checkpointingCount(p, "gradient_checkpointing_segment", gradientCheckpointingSegment(),
                "blocks per checkpoint");
        checkpointingCount(p, "gradient_checkpointing_chunks", gradientCheckpointingChunks(),
                "token chunks per block backward");
        required(p, "mixed_precision", mixedPrecision());
        if (fullFinetune() && basePrecision() != BasePrecision.FP32) {
            p.add("base_precision: " + basePrecision().name().toLowerCase(Locale.ROOT) + " holds the frozen base "
                    + "weights in reduced precision, but full_finetune trains them; use base_precision: fp32 "
                    + "(optionally with mixed_precision: bf16) or train a lora");
        }
        if (basePrecision() == BasePrecision.BF16 && model() != null && model().builtin() != null) {
            p.add("base_precision: bf16 needs a model path; the built-in models are random FLOAT32 (use fp32 or "
                    + "int8)");
        }
        required(p, "rope", rope());
        if (idToken() != null && idToken().isBlank()) {
            p.add("id_token: must not be blank (leave it out for none)");
        }
        probability(p, "caption_dropout", captionDropout());
        probability(p, "image_latent_dropout", imageLatentDropout());
        if (!(ofs() >= 0) || !Double.isFinite(ofs())) {
            p.add("ofs: must be a finite number >= 0, got " + ofs());
        }
        if (memoryBudgetGb() != null && !(memoryBudgetGb() > 0 && Double.isFinite(memoryBudgetGb()))) {
            p.add("memory_budget_gb: must be a finite number > 0 (GiB), got " + memoryBudgetGb());
        }
        if (distributed() == null) {
            p.add("distributed: missing");
        } else if (distributed().timeoutSeconds() <= 0) {
            p.add("distributed.timeout_seconds: must be > 0, got " + distributed().timeoutSeconds());
        }
        checkValidation(p);
        if (sincosAtUntrainedSize() && model() != null && model().builtinVariant().isPresent()
                && model().builtinVariant().get() != CogVideoXVariant.COGVIDEOX_5B_I2V) {
            p.add("sincos_at_untrained_size: applies to CogVideoX-5b-I2V only, but model.builtin is '"
                    + model().builtin() + "' (" + model().builtinVariant().get().displayName() + ")");
        }
        return p;
    }

    private void checkValidation(List<String> p) {
        ValidationSettings val = validation();
        if (val == null) {
            return;
        }
        p.addAll(val.problems());
        if (validationEvery() == 0) {
            p.add("validation: the videos are sampled every validation_every steps; set validation_every > 0");
        }
        if (model() != null && model().builtin() != null) {
            p.add("validation: validation videos need model.path (a Diffusers pipeline folder with vae/), not "
                    + "model.builtin");
        }
        if (data() != null && data().cache() == null) {
            p.add("validation: validation videos need data.cache, prepared with cogvideox prepare --validation "
                    + "(the run samples from the stored prompt embeddings and never loads T5)");
        }
    }

    private void checkModel(List<String> p) {
        if (model() == null || (model().path() == null) == (model().builtin() == null)) {
            p.add("model: give exactly one of model.path (a Diffusers folder) or model.builtin (one of "
                    + String.join(", ", BUILTINS.keySet()) + ")");
            return;
        }
        if (model().builtin() != null && !BUILTINS.containsKey(model().builtin())) {
            p.add("model.builtin: unknown model '" + model().builtin() + "'; expected one of "
                    + String.join(", ", BUILTINS.keySet()));
        }
        if (model().path() != null) {
            if (!Files.isDirectory(model().path())) {
                p.add("model.path: " + model().path() + " is not a folder (expected a Diffusers model folder)");
            } else if (!Files.isRegularFile(model().path().resolve("transformer").resolve("config.json"))
                    && !Files.isRegularFile(model().path().resolve("config.json"))) {
                p.add("model.path: " + model().path() + " has neither transformer/config.json nor config.json");
            }
        }
    }

    private void checkData(List<String> p) {
        if (data() == null || (data().cache() == null) == (data().synthetic() == null)) {
            p.add("data: give exactly one of data.cache (a latent cache folder) or data.synthetic");
            return;
        }
        if (data().cache() != null && !Files.isDirectory(data().cache())) {
            p.add("data.cache: " + data().cache() + " is not a folder");
        }
        SyntheticData s = data().synthetic();
        if (s != null) {
            positive(p, "data.synthetic.samples", s.samples());
            if (s.buckets() == null || s.buckets().isEmpty()) {
                p.add("data.synthetic.buckets: must list at least one bucket, e.g. [9x64x96]");
            }
        }
    }

    private void checkOutputDir(List<String> p) {
        if (outputDir() == null) {
            p.add("output_dir: missing");
            return;
        }
        Path abs = outputDir().toAbsolutePath();
        if (Files.exists(abs) && !Files.isDirectory(abs)) {
            p.add("output_dir: " + outputDir() + " exists and is not a folder");
            return;
        }
        for (Path q = abs.getParent(); q != null; q = q.getParent()) {
            if (Files.exists(q)) {
                if (!Files.isDirectory(q)) {
                    p.add("output_dir: cannot create " + outputDir() + " because " + q + " is a file");
                } else if (!Files.exists(abs) && !Files.isWritable(q)) {
                    p.add("output_dir: cannot create " + outputDir() + " because " + q + " is not writable");
                }
                break;
            }
        }
    }

    private void checkLora(List<String> p) {
        positive(p, "lora.rank", lora().rank());
        if (!(lora().alpha() > 0) || !Double.isFinite(lora().alpha())) {
            p.add("lora.alpha: must be a finite number > 0, got " + lora().alpha());
        }
        if (lora().targetRegex() != null && !lora().targets().isEmpty()) {
            p.add("lora.targets, lora.target_regex: give one of them, not both");
        } else if (lora().targetRegex() == null && lora().targets().isEmpty()) {
            p.add("lora.targets: must list at least one module suffix (or give lora.target_regex)");
        }
        if (lora().targetRegex() != null) {
            try {
                Pattern.compile(lora().targetRegex());
            } catch (PatternSyntaxException e) {
                p.add("lora.target_regex: not a valid regular expression: " + e.getDescription() + " near index "
                        + e.getIndex());
            }
        }
        if (!(lora().dropout() >= 0 && lora().dropout() < 1)) {
            p.add("lora.dropout: must be in [0, 1), got " + lora().dropout());
        }
    }

    private void checkSchedule(List<String> p) {
        if (lrSchedule() == null) {
            p.add("lr_schedule: missing");
            return;
        }
        try {
            LearningRateSchedule.Kind.fromDiffusersName(String.valueOf(lrSchedule().type()));
        } catch (IllegalArgumentException e) {
            p.add("lr_schedule.type: " + e.getMessage());
        }
        if (lrSchedule().warmupSteps() < 0) {
            p.add("lr_schedule.warmup_steps: must be >= 0, got " + lrSchedule().warmupSteps());
        } else if (steps() > 0 && lrSchedule().warmupSteps() > steps()) {
            p.add("lr_schedule.warmup_steps: " + lrSchedule().warmupSteps() + " is more than steps (" + steps()
                    + "); the run would end before the warm-up does");
        }
        if (lrSchedule().numCycles() < 1) {
            p.add("lr_schedule.num_cycles: must be >= 1, got " + lrSchedule().numCycles());
        }
    }

    /** A count that only checkpointing uses: at least 1, and above 1 only with {@code gradient_checkpointing}. */
    private void checkpointingCount(List<String> p, String key, int v, String unit) {
        if (v < 1) {
            p.add(key + ": must be >= 1 (" + unit + "), got " + v);
        } else if (v > 1 && !gradientCheckpointing()) {
            p.add(key + ": " + v + " needs gradient_checkpointing: true");
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
            "non_finite", "gradient_checkpointing", "gradient_checkpointing_segment",
            "gradient_checkpointing_chunks", "mixed_precision",
            "base_precision", "rope", "id_token", "caption_dropout", "image_latent_dropout", "ofs", "sincos_at_untrained_size", "distributed", "validation",
            "memory_budget_gb");
    private static final Pattern BUCKET =
            Pattern.compile("\\s*(\\d{1,9})\\s*[xX]\\s*(\\d{1,9})\\s*[xX]\\s*(\\d{1,9})\\s*");
    /** Keys that only say where or how often rank 0 writes, and may differ between the ranks of one run. */
    private static final List<String> OUTPUT_ONLY_KEYS = List.of("output_dir", "keep_last", "validation_every",
            "validation");

    /**
     * What every rank of a multi-rank run must agree on: a SHA-256 of the resolved configuration tree
     * ({@link #toTree()}, keys sorted) without the output-only keys {@code output_dir}, {@code keep_last},
     * {@code validation_every} and {@code validation} (rank 0 alone samples the videos). Ranks started with different
     * configs fail at the rendezvous.
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
        if (model() != null) {
            ObjectNode m = r.putObject("model");
            if (model().path() != null) {
                m.put("path", model().path().toString());
            }
            if (model().builtin() != null) {
                m.put("builtin", model().builtin());
            }
        }
        if (data() != null) {
            ObjectNode d = r.putObject("data");
            if (data().cache() != null) {
                d.put("cache", data().cache().toString());
            }
            if (data().synthetic() != null) {
                ObjectNode s = d.putObject("synthetic");
                s.put("samples", data().synthetic().samples());
                ArrayNode b = s.putArray("buckets");
                if (data().synthetic().buckets() != null) {
                    data().synthetic().buckets().forEach(x -> b.add(x.toString()));
                }
            }
        }
        if (outputDir() != null) {
            r.put("output_dir", outputDir().toString());
        }
        if (lora() != null) {
            ObjectNode l = r.putObject("lora");
            l.put("rank", lora().rank());
            l.put("alpha", lora().alpha());
            if (lora().targetRegex() != null) {
                l.put("target_regex", lora().targetRegex());
            }
            if (!lora().targets().isEmpty()) {
                ArrayNode t = l.putArray("targets");
                lora().targets().forEach(t::add);
            }
            l.put("dropout", lora().dropout());
            l.put("init_seed", lora().initSeed());
        }
        r.put("full_finetune", fullFinetune());
        r.put("steps", steps());
        r.put("batch_size", batchSize());
        r.put("gradient_accumulation", gradientAccumulation());
        r.put("learning_rate", learningRate());
        if (betas() != null) {
            ArrayNode b = r.putArray("betas");
            betas().forEach(b::add);
        }
        r.put("epsilon", epsilon());
        r.put("weight_decay", weightDecay());
        if (lrSchedule() != null) {
            ObjectNode s = r.putObject("lr_schedule");
            s.put("type", lrSchedule().type());
            s.put("warmup_steps", lrSchedule().warmupSteps());
            s.put("num_cycles", lrSchedule().numCycles());
        }
        r.put("max_grad_norm", maxGradNorm());
        r.put("seed", seed());
        r.put("checkpoint_every", checkpointEvery());
        r.put("keep_last", keepLast());
        r.put("validation_every", validationEvery());
        putEnum(r, "non_finite", nonFinite());
        r.put("gradient_checkpointing", gradientCheckpointing());
        r.put("gradient_checkpointing_segment", gradientCheckpointingSegment());
        r.put("gradient_checkpointing_chunks", gradientCheckpointingChunks());
        putEnum(r, "mixed_precision", mixedPrecision());
        putEnum(r, "base_precision", v.basePrecision);
        putEnum(r, "rope", rope());
        if (idToken() != null) {
            r.put("id_token", idToken());
        }
        r.put("caption_dropout", captionDropout());
        r.put("image_latent_dropout", imageLatentDropout());
        r.put("ofs", ofs());
        r.put("sincos_at_untrained_size", sincosAtUntrainedSize());
        if (distributed() != null) {
            r.putObject("distributed").put("timeout_seconds", distributed().timeoutSeconds());
        }
        if (validation() != null) {
            r.set("validation", validation().toTree());
        }
        if (memoryBudgetGb() != null) {
            r.put("memory_budget_gb", memoryBudgetGb());
        }
        return r;
    }

    private static void putEnum(ObjectNode r, String key, Enum<?> e) {
        if (e != null) {
            r.put(key, e.name().toLowerCase(Locale.ROOT));
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
        Builder b = builder();   // holds the defaults; every key present in the file replaces one
        t.checkKeys(root, "", ROOT_KEYS);

        if (ConfigTree.child(root, "model") == null) {
            t.problem("model", "missing; give model.path (a Diffusers folder) or model.builtin (one of "
                    + String.join(", ", BUILTINS.keySet()) + ")");
        } else {
            ObjectNode m = t.object(root, "model", "");
            if (m != null) {
                t.checkKeys(m, "model", List.of("path", "builtin"));
                b.model(new ModelSource(t.path(m, "path", "model"), t.text(m, "builtin", "model")));
            }
        }

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
                            Bucket bucket = bucket(t, texts.get(i), "data.synthetic.buckets[" + i + "]");
                            if (bucket != null) {
                                buckets.add(bucket);
                            }
                        }
                    }
                    synthetic = new SyntheticData(samples == null ? 4 : samples, buckets);
                }
                b.data(new DataSource(t.path(dn, "cache", "data"), synthetic));
            }
        }

        if (ConfigTree.child(root, "output_dir") == null) {
            t.problem("output_dir", "missing; give the folder for checkpoints, metrics and exports");
        } else {
            b.outputDir(t.path(root, "output_dir", ""));
        }

        set(t.bool(root, "full_finetune", ""), b::fullFinetune);
        ObjectNode ln = t.object(root, "lora", "");
        if (ln != null) {
            t.checkKeys(ln, "lora", List.of("rank", "alpha", "targets", "target_regex", "dropout", "init_seed"));
            int rank = or(t.int32(ln, "rank", "lora"), b.lora.rank());
            double alpha = or(t.number(ln, "alpha", "lora"), ConfigTree.child(ln, "rank") == null
                    ? b.lora.alpha() : rank);
            String regex = t.text(ln, "target_regex", "lora");
            List<String> targets = t.texts(ln, "targets", "lora");
            if (targets == null) {
                targets = regex == null ? LoraConfig.DEFAULT_TARGETS : List.of();
            }
            b.lora(new LoraSettings(rank, alpha, targets, regex, or(t.number(ln, "dropout", "lora"), 0.0),
                    or(t.integer(ln, "init_seed", "lora"), 0L)));
        } else if (b.fullFinetune) {
            b.lora(null);   // a full fine-tune without a lora section trains no LoRA
        }

        ObjectNode sn = t.object(root, "lr_schedule", "");
        if (sn != null) {
            t.checkKeys(sn, "lr_schedule", List.of("type", "warmup_steps", "num_cycles"));
            LrScheduleSettings d = b.lrSchedule;
            b.lrSchedule(new LrScheduleSettings(or(t.text(sn, "type", "lr_schedule"), d.type()),
                    or(t.int32(sn, "warmup_steps", "lr_schedule"), d.warmupSteps()),
                    or(t.int32(sn, "num_cycles", "lr_schedule"), d.numCycles())));
        }

        ObjectNode dist = t.object(root, "distributed", "");
        if (dist != null) {
            t.checkKeys(dist, "distributed", List.of("timeout_seconds"));
            b.distributed(new Distributed(or(t.integer(dist, "timeout_seconds", "distributed"),
                    b.distributed.timeoutSeconds())));
        }

        set(t.integer(root, "steps", ""), b::steps);
        set(t.int32(root, "batch_size", ""), b::batchSize);
        set(t.int32(root, "gradient_accumulation", ""), b::gradientAccumulation);
        set(t.number(root, "learning_rate", ""), b::learningRate);
        set(t.numbers(root, "betas", ""), b::betas);
        set(t.number(root, "epsilon", ""), b::epsilon);
        set(t.number(root, "weight_decay", ""), b::weightDecay);
        set(t.number(root, "max_grad_norm", ""), b::maxGradNorm);
        set(t.integer(root, "seed", ""), b::seed);
        set(t.integer(root, "checkpoint_every", ""), b::checkpointEvery);
        set(t.int32(root, "keep_last", ""), b::keepLast);
        set(t.integer(root, "validation_every", ""), b::validationEvery);
        set(t.enumValue(root, "non_finite", "", FineTuner.NonFinitePolicy.class), b::nonFinite);
        set(t.bool(root, "gradient_checkpointing", ""), b::gradientCheckpointing);
        set(t.int32(root, "gradient_checkpointing_segment", ""), b::gradientCheckpointingSegment);
        set(t.int32(root, "gradient_checkpointing_chunks", ""), b::gradientCheckpointingChunks);
        set(t.enumValue(root, "mixed_precision", "", ComputePrecision.class), b::mixedPrecision);
        set(t.enumValue(root, "base_precision", "", BasePrecision.class), b::basePrecision);
        set(t.enumValue(root, "rope", "", FineTuner.RopeRule.class), b::rope);
        set(t.text(root, "id_token", ""), b::idToken);
        set(t.number(root, "caption_dropout", ""), b::captionDropout);
        set(t.number(root, "image_latent_dropout", ""), b::imageLatentDropout);
        set(t.number(root, "ofs", ""), b::ofs);
        set(t.bool(root, "sincos_at_untrained_size", ""), b::sincosAtUntrainedSize);
        b.validation(ValidationSettings.read(t, root));
        set(t.number(root, "memory_budget_gb", ""), b::memoryBudgetGb);
        return b.build();
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

    /** Calls the setter when the file gave the key (a problem already reported leaves the default). */
    private static <T> void set(T value, Consumer<T> setter) {
        if (value != null) {
            setter.accept(value);
        }
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
