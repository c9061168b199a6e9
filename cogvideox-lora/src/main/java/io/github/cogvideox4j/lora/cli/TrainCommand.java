package io.github.cogvideox4j.lora.cli;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.common.io.MoreFiles;
import io.github.cogvideox4j.core.CogVideoXException;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.config.CogVideoXVariant;
import io.github.cogvideox4j.core.io.DiffusersFolderWriter;
import io.github.cogvideox4j.core.io.SafetensorsDType;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.model.BasePrecision;
import io.github.cogvideox4j.core.model.ParameterLayout;
import io.github.cogvideox4j.core.schedule.CogVideoXDpmScheduler;
import io.github.cogvideox4j.core.schedule.CogVideoXScheduler;
import io.github.cogvideox4j.core.schedule.SchedulerConfig;
import io.github.cogvideox4j.data.Bucket;
import io.github.cogvideox4j.data.BucketSampler;
import io.github.cogvideox4j.data.BucketedSample;
import io.github.cogvideox4j.data.cache.CacheKey;
import io.github.cogvideox4j.data.cache.LatentCache;
import io.github.cogvideox4j.data.loader.CachedSampleSource;
import io.github.cogvideox4j.data.loader.SampleSource;
import io.github.cogvideox4j.data.SamplerConfig;
import io.github.cogvideox4j.lora.LoraAdapter;
import io.github.cogvideox4j.lora.train.AdamW;
import io.github.cogvideox4j.lora.train.CheckpointStore;
import io.github.cogvideox4j.lora.train.FineTuner;
import io.github.cogvideox4j.lora.train.MemoryBudgetException;
import io.github.cogvideox4j.lora.train.MemoryPlan;
import io.github.cogvideox4j.lora.train.StepResult;
import io.github.cogvideox4j.lora.train.SyntheticLatentDataset;
import io.github.cogvideox4j.lora.train.TrainingConfig;
import io.github.cogvideox4j.lora.train.TrainingListener;
import io.github.cogvideox4j.lora.train.TrainingRun;
import io.github.cogvideox4j.lora.train.TrainingStart;
import io.github.cogvideox4j.lora.train.ValidationSettings;
import io.github.cogvideox4j.lora.train.ValidationVideos;
import io.github.cogvideox4j.core.pipeline.CogVideoXPipeline;
import io.github.cogvideox4j.core.pipeline.CogVideoXSampler;
import io.github.cogvideox4j.core.pipeline.PromptEncoder;
import io.github.cogvideox4j.core.vae.AutoencoderKLCogVideoX;
import io.github.cogvideox4j.data.cache.ValidationInputs;
import io.github.cogvideox4j.core.dist.ProcessGroup;
import java.io.OutputStream;
import java.io.PrintStream;
import java.time.Duration;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code cogvideox train}: the README's main job. Without {@code --config} it fine-tunes a LoRA on the built-in tiny
 * default — a random model with the CogVideoX1.5-5B-I2V structure (OFS and slice RoPE on) and a learnable synthetic
 * latent dataset over three buckets ({@link TrainingConfig#builtinDefault()}) — prints progress and held-out losses,
 * exports the LoRA and prints its learning check (see {@link ConsoleProgress}). With {@code --config run.yaml} the same
 * command trains what the file describes (a real Diffusers model folder, or a built-in tiny one). A run resumes from
 * its newest readable checkpoint; {@code --fresh} starts from step 0 instead.
 *
 * <p>Exit status: 0 when the run trained to its last step and exported, non-zero when it failed (an exception; for a
 * fresh built-in default run also a loss that did not fall). A resumed or config-driven run never fails because of
 * its loss values.
 *
 * <p>As one rank of several ({@code cogvideox launch}, or torchrun-style variables): the ranks form a group from the
 * environment (timeout {@code distributed.timeout_seconds}, or the launcher's; the config's fingerprint must match on
 * every rank), {@code batch_size} is the per-rank micro-batch and the sampler plans global batches of
 * {@code batch_size × gradient_accumulation × world size}. Only rank 0 prints, writes metrics, TensorBoard and the loss
 * curve, validates and exports; every rank takes part in the checkpoints, which live in the shared output folder.
 */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Fine-tune CogVideoX (default: the built-in tiny CogVideoX1.5-I2V LoRA default).")
final class TrainCommand implements Callable<Integer> {
    @Option(names = "--config", description = "a YAML or JSON training config (default: the built-in tiny default)")
    private Path configFile;

    @Option(names = "--set", description = "override a config key, e.g. --set steps=50 --set lora.rank=8")
    private Map<String, String> overrides = new LinkedHashMap<>();

    @Option(names = "--fresh", description = "start from step 0: delete the output folder's checkpoints first "
            + "(else the run resumes from the newest readable one)")
    private boolean fresh;

    @Option(names = "--dry-run", description = "print the buckets, steps and estimated memory and time per step, then stop")
    private boolean dryRun;

    @Option(names = "--export-dtype", paramLabel = "F32|F16|BF16", converter = DTypeOption.class,
            defaultValue = "BF16", description = "dtype of the full fine-tune's exported transformer folder (default: "
                    + "${DEFAULT-VALUE}, like the 5B releases; F16 for the 2B release's dtype, F32 to keep every bit "
                    + "of the fp32 master weights). A LoRA file is always F32.")
    private SafetensorsDType exportDtype;

    /** The group options of a run: the config's timeout unless the launcher set one, and the config's fingerprint. */
    static ProcessGroup.Options groupOptions(TrainingConfig cfg, Map<String, String> env) {
        String t = env.get(RankRuntime.TIMEOUT_ENV);
        if (t != null && !t.isBlank()) {
            return RankRuntime.groupOptions(env, cfg.fingerprint());
        }
        return ProcessGroup.Options.builder().timeout(Duration.ofSeconds(cfg.distributed().timeoutSeconds()))
                .fingerprint(cfg.fingerprint()).build();
    }

    @Override
    public Integer call() throws Exception {
        TrainingConfig cfg = (configFile == null ? TrainingConfig.builtinDefault() : TrainingConfig.read(configFile));
        if (!overrides.isEmpty()) {
            cfg = cfg.withOverrides(overrides);
        }
        cfg.validate();
        try (ProcessGroup group = ProcessGroup.fromEnvironment(groupOptions(cfg, System.getenv()))) {
            return train(cfg, group);
        }
    }

    private Integer train(TrainingConfig cfg, ProcessGroup group) throws Exception {
        boolean coordinator = group.isCoordinator();
        // one voice: only rank 0 prints
        PrintStream out = coordinator ? System.out : new PrintStream(OutputStream.nullOutputStream());
        Path output = cfg.outputDir();
        Files.createDirectories(output);
        if (fresh && coordinator && Files.isDirectory(output.resolve("checkpoints"))) {
            MoreFiles.deleteRecursively(output.resolve("checkpoints"));
        }
        int world = group.worldSize();
        int globalBatch = Math.multiplyExact(Math.multiplyExact(cfg.batchSize(), cfg.gradientAccumulation()), world);
        Engine.getInstance().setRandomSeed((int) cfg.seed());
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = loadModel(cfg, manager)) {
            CogVideoXConfig config = model.config();
            model.setComputePrecision(cfg.mixedPrecision());   // bf16: bf16 GEMMs, fp32 master weights and LoRA
            // data: a latent cache (every entry, grouped by its bucket) or synthetic latents (+ held-out batches)
            SampleSource data;
            BucketSampler sampler;
            List<int[]> heldOut = List.of();
            int trainSamples;
            List<Bucket> latentBuckets = new ArrayList<>();
            if (cfg.data().cache() != null) {
                LatentCache cache = new LatentCache(cfg.data().cache());
                List<CacheKey> keys = cache.keys();
                if (keys.isEmpty()) {
                    throw new CogVideoXException("data.cache: no cache entries in " + cfg.data().cache());
                }
                List<BucketedSample> samples = new ArrayList<>();
                List<String> sources = new ArrayList<>();
                for (int i = 0; i < keys.size(); i++) {
                    samples.add(BucketedSample.video(i, keys.get(i).bucket()));
                    sources.add(cache.pathOf(keys.get(i)).toString());
                    Bucket b = keys.get(i).bucket();                     // pixel frames x height x width
                    Bucket latent = new Bucket((b.frames() - 1) / 4 + 1, b.height() / 8, b.width() / 8);
                    if (!latentBuckets.contains(latent)) {
                        latentBuckets.add(latent);
                    }
                }
                data = new CachedSampleSource(cache, keys, sources);
                sampler = new BucketSampler(samples, SamplerConfig.of(globalBatch, cfg.seed()));
                trainSamples = keys.size();
            } else {
                for (Bucket b : cfg.data().synthetic().buckets()) {
                    latentBuckets.add(new Bucket((b.frames() - 1) / 4 + 1, b.height() / 8, b.width() / 8));
                }
                trainSamples = cfg.data().synthetic().samples();
                int held = latentBuckets.size() * cfg.batchSize();
                SyntheticLatentDataset synthetic = new SyntheticLatentDataset(config, latentBuckets,
                        trainSamples + held, 4, cfg.seed());
                data = synthetic;
                sampler = new BucketSampler(synthetic.samples().subList(0, trainSamples),
                        SamplerConfig.of(globalBatch, cfg.seed()));
                heldOut = heldOutBatches(trainSamples, latentBuckets.size(), cfg.batchSize());
            }
            out.printf("CogVideoX4J train: %s (%s), %s; %d samples; %d steps; MKL vendor switch %s%n",
                    cfg.model().builtin() != null ? "built-in " + cfg.model().builtin() : cfg.model().path(),
                    config.variant(), cfg.fullFinetune() ? "full fine-tune" : "LoRA r" + cfg.lora().rank()
                            + " alpha " + cfg.lora().alpha(), trainSamples, cfg.steps(), MklSwitch.describe());
            if (model.hasInt8Base() || model.hasBf16Storage()) {
                out.printf("frozen base weights: %s, %d bytes%n",
                        cfg.basePrecision().name().toLowerCase(java.util.Locale.ROOT), model.weightBytes());
            }
            if (world > 1 || cfg.gradientAccumulation() > 1) {
                out.printf("%d rank%s: global batch %d = batch_size %d x gradient_accumulation %d x %d rank%s%s%n",
                        world, world == 1 ? "" : "s", globalBatch, cfg.batchSize(), cfg.gradientAccumulation(), world,
                        world == 1 ? "" : "s", cfg.fullFinetune() && world > 1
                                ? "; AdamW state sharded over the ranks (ZeRO-1)" : "");
            }
            out.println(sampler.report().format());
            if (dryRun) {
                printEstimate(out, cfg, config, latentBuckets);
            }
            try {
                MemoryPlan plan = MemoryPlan.requireWithinBudget(cfg, config, latentBuckets);
                if (cfg.memoryBudgetGb() != null) {
                    out.printf("memory plan %.3f GiB fits memory_budget_gb %s%n", plan.peakBytes() / (double) (1L << 30),
                            cfg.memoryBudgetGb());
                }
            } catch (MemoryBudgetException e) {
                System.err.println("cogvideox train: " + e.getMessage());
                return 2;
            }
            if (dryRun) {
                return 0;
            }
            LoraAdapter lora = cfg.loraConfig().map(c -> LoraAdapter.inject(model, c)).orElse(null);
            try {
                ConsoleProgress progress = new ConsoleProgress(out);
                FineTuner.Builder builder = FineTuner.builder(model, scheduler(cfg, config))
                        .lora(lora).processGroup(group)
                        .optimizer(AdamW.builder().learningRate(cfg.learningRate()).betas(cfg.beta1(), cfg.beta2())
                                .epsilon(cfg.epsilon()).weightDecay(cfg.weightDecay()).build())
                        .schedule(cfg.schedule()).maxGradNorm(cfg.maxGradNorm()).seed(cfg.seed())
                        .nonFinite(cfg.nonFinite())
                        .gradientCheckpointing(cfg.gradientCheckpointing())
                        .gradientCheckpointingSegment(cfg.gradientCheckpointingSegment())
                        .gradientCheckpointingChunks(cfg.gradientCheckpointingChunks())
                        .ofs(cfg.ofs()).rope(cfg.rope())
                        .imageLatentDropout(cfg.imageLatentDropout()).captionDropout(cfg.captionDropout())
                        .sincosAtUntrainedSize(cfg.sincosAtUntrainedSize());
                if (coordinator) {
                    builder.listener(progress);
                    for (TrainingListener l : Listeners.standard(output, cfg.steps())) {
                        builder.listener(l);
                    }
                }
                try (FineTuner tuner = builder.build();
                        RunValidation videos = coordinator && cfg.validation() != null
                                ? RunValidation.open(cfg, model, scheduler(cfg, config), manager) : null) {
                    TrainingRun.Builder run = TrainingRun.builder(tuner, sampler, data).totalSteps(cfg.steps())
                            .gradientAccumulation(cfg.gradientAccumulation())
                            .checkpoints(CheckpointStore.open(output.resolve("checkpoints"), cfg.keepLast(), group),
                                    cfg.checkpointEvery() > 0 ? cfg.checkpointEvery() : cfg.steps())
                            .outputDir(output).config(cfg.toTree()).description(config.variant() + " fine-tune");
                    if (cfg.validationEvery() > 0 && !heldOut.isEmpty()) {
                        run.validation(heldOut, cfg.validationEvery());
                    }
                    if (videos != null) {
                        run.validationVideos(videos.videos(), cfg.validationEvery());
                    }
                    List<StepResult> results = run.build().run();
                    if (!coordinator) {
                        return 0;
                    }
                    if (lora != null) {
                        Path loraFile = output.resolve("pytorch_lora_weights.safetensors");
                        lora.save(loraFile);
                        out.printf("exported %s%n", loraFile);
                    } else {
                        // full fine-tune: a Diffusers transformer folder (--export-dtype), shards of at most 5 GB
                        Map<String, NDArray> state = new LinkedHashMap<>(model.namedBuffers());
                        state.putAll(model.namedParameters());
                        DiffusersFolderWriter.write(output.resolve("transformer"), config, state, exportDtype,
                                5_000_000_000L);
                        out.printf("exported %s (%s)%n", output.resolve("transformer"), exportDtype);
                    }
                    return progress.summary(results, configFile == null) ? 0 : 1;
                }
            } finally {
                if (lora != null) {
                    lora.close();
                }
            }
        }
    }

    /**
     * The validation videos of a config-driven run: the transformer being trained, the VAE of the model's pipeline
     * folder and a fresh scheduler behind a pipeline view without a text encoder, sampling from the prompt
     * embeddings (and images) that {@code prepare --validation} stored in the cache. Closes the VAE and the stored
     * arrays.
     */
    private static final class RunValidation implements AutoCloseable {
        private final NDManager scope;
        private final AutoencoderKLCogVideoX vae;
        private final ValidationVideos videos;

        private RunValidation(NDManager scope, AutoencoderKLCogVideoX vae, ValidationVideos videos) {
            this.scope = scope;
            this.vae = vae;
            this.videos = videos;
        }

        static RunValidation open(TrainingConfig cfg, CogVideoXTransformer model, CogVideoXScheduler scheduler,
                NDManager manager) throws java.io.IOException {
            ValidationSettings v = cfg.validation();
            Path cache = cfg.data().cache();
            Path model0 = cfg.model().path();
            Path vaeDir = Files.isDirectory(model0.resolve("vae")) ? model0.resolve("vae")
                    : model0.resolveSibling("vae");
            if (!Files.isRegularFile(vaeDir.resolve("config.json"))) {
                throw new CogVideoXException("validation: no VAE for the videos: neither " + model0.resolve("vae")
                        + " nor " + model0.resolveSibling("vae") + " holds a config.json (model.path must be a "
                        + "pipeline folder or its transformer/ folder)");
            }
            NDManager scope = manager.newSubManager();
            AutoencoderKLCogVideoX vae = null;
            try {
                ValidationInputs inputs = ValidationInputs.read(cache, scope).orElseThrow(() ->
                        new CogVideoXException("validation: " + cache.resolve(ValidationInputs.FILE) + " is missing;"
                                + " run cogvideox prepare --validation <this config> to store the prompts' "
                                + "embeddings (the run never loads T5)"));
                if (!inputs.prompts().equals(v.prompts())) {
                    throw new CogVideoXException("validation: " + cache.resolve(ValidationInputs.FILE)
                            + " holds the embeddings of " + inputs.prompts() + ", but validation.prompts is "
                            + v.prompts() + "; re-run cogvideox prepare --validation <this config>");
                }
                List<String> images = v.images().stream().map(Path::toString).toList();
                if (!images.isEmpty() && !inputs.imageSources().equals(images)) {
                    throw new CogVideoXException("validation: the stored images come from " + inputs.imageSources()
                            + ", but validation.images is " + images + "; re-run cogvideox prepare --validation");
                }
                CogVideoXConfig c = model.config();
                int h = v.height() != null ? v.height() : c.sampleHeight() * CogVideoXSampler.VAE_SCALE_FACTOR_SPATIAL;
                int w = v.width() != null ? v.width() : c.sampleWidth() * CogVideoXSampler.VAE_SCALE_FACTOR_SPATIAL;
                if (inputs.images().isPresent() && (inputs.images().get().getShape().get(2) != h
                        || inputs.images().get().getShape().get(3) != w)) {
                    throw new CogVideoXException("validation: the stored images are "
                            + inputs.images().get().getShape().get(2) + "x" + inputs.images().get().getShape().get(3)
                            + " but the videos are " + h + "x" + w + "; re-run cogvideox prepare --validation");
                }
                vae = AutoencoderKLCogVideoX.load(vaeDir, scope);
                CogVideoXPipeline view = CogVideoXPipeline.of(scope, model, vae, scheduler,
                        PromptEncoder.unavailable());
                ValidationVideos videos = ValidationVideos.builder(view, inputs).size(h, w)
                        .numFrames(v.frames() != null ? v.frames() : c.sampleFrames()).inferenceSteps(v.steps())
                        .guidanceScale(v.guidance()).seed(v.seed()).fps(v.fps()).build();
                return new RunValidation(scope, vae, videos);
            } catch (java.io.IOException | RuntimeException e) {
                if (vae != null) {
                    vae.close();
                }
                scope.close();
                throw e;
            }
        }

        ValidationVideos videos() {
            return videos;
        }

        @Override
        public void close() {
            try {
                vae.close();
            } finally {
                scope.close();
            }
        }
    }

    private static CogVideoXTransformer loadModel(TrainingConfig cfg, NDManager manager) throws java.io.IOException {
        // base_precision (validated against full_finetune): bf16 storage at load (the 5B base is 22 GB in fp32,
        // 11 GB in bf16), or int8 codes made layer by layer after load (5.6 GB)
        BasePrecision base = cfg.basePrecision();
        CogVideoXTransformer model;
        if (cfg.model().builtin() != null) {
            CogVideoXVariant variant = cfg.model().builtinVariant().orElseThrow();
            model = CogVideoXTransformer.random(CogVideoXConfig.tiny(variant), manager, cfg.seed());
        } else {
            model = CogVideoXTransformer.load(cfg.model().path(), manager,
                    base == BasePrecision.BF16 ? DataType.BFLOAT16 : DataType.FLOAT32);
        }
        if (base == BasePrecision.INT8) {
            try {
                model.setRequiresGradient(false);
                model.quantizeBaseWeightsToInt8();
            } catch (RuntimeException e) {
                model.close();
                throw e;
            }
        }
        return model;
    }

    /** The model folder's scheduler config (pipeline root), else the released DPM schedule of its family. */
    private static CogVideoXScheduler scheduler(TrainingConfig cfg, CogVideoXConfig config) throws java.io.IOException {
        if (cfg.model().path() != null) {
            for (Path p : List.of(cfg.model().path().resolve("scheduler/scheduler_config.json"),
                    cfg.model().path().resolveSibling("scheduler").resolve("scheduler_config.json"))) {
                if (Files.isRegularFile(p)) {
                    return CogVideoXScheduler.fromConfig(p);
                }
            }
        }
        double shift = config.variant() == CogVideoXVariant.COGVIDEOX_2B ? 3.0 : 1.0;
        return new CogVideoXDpmScheduler(SchedulerConfig.released(SchedulerConfig.DPM_CLASS, shift));
    }

    private static List<int[]> heldOutBatches(int first, int buckets, int batchSize) {
        List<int[]> batches = new ArrayList<>();
        for (int b = 0; b < buckets; b++) {
            int[] idx = new int[batchSize];
            for (int i = 0; i < batchSize; i++) {
                int k = first + i * buckets;
                idx[i] = k + Math.floorMod(b - k, buckets);                 // same bucket: index % buckets == b
            }
            batches.add(idx);
        }
        return batches;
    }

    /** Parameters and the memory plan by shape arithmetic; time from a GEMM measured here. */
    private static void printEstimate(PrintStream out, TrainingConfig cfg, CogVideoXConfig c, List<Bucket> buckets) {
        ParameterLayout layout = ParameterLayout.of(c);
        long params = layout.totalElements();
        long trainable = cfg.fullFinetune() ? layout.parameterElements()
                : 2L * cfg.lora().rank() * c.innerDim() * 4 * c.numLayers();
        long d = c.innerDim();
        double gflops = measureGemmGflops();
        out.printf("parameters %,d (%.1f MB fp32); trainable %,d; AdamW state %.1f MB%n", params, params * 4 / 1e6,
                trainable, trainable * 8 / 1e6);
        out.print(MemoryPlan.of(cfg, c, buckets).format());
        for (Bucket b : buckets) {
            long s = MemoryPlan.tokens(c, b);
            long batch = cfg.batchSize();
            // per block forward: q,k,v,out 4*2*S*D^2, ff 2*2*S*D*4D, attention 4*S^2*D; a step is the forward and a
            // backward of twice its cost, plus with checkpointing the recompute of every block and, with a segment
            // of k blocks, n - ceil(n / k) more block forwards, and with token chunks k,v once more per block
            int n = c.numLayers();
            int k = Math.min(cfg.gradientCheckpointingSegment(), n);
            double forwardPasses = 3.0 * n + (cfg.gradientCheckpointing() ? n + n - (n + k - 1) / k : 0);
            double flops = forwardPasses * batch * (8.0 * s * d * d + 16.0 * s * d * d + 4.0 * s * s * d)
                    + (cfg.gradientCheckpointingChunks() > 1 ? n * batch * 4.0 * s * d * d : 0);
            double act = MemoryPlan.of(cfg, c, List.of(b)).activationBytes();
            out.printf("bucket %s latents: %,d tokens; step ~%.2f GFLOP -> ~%.0f ms at the measured %.0f GFLOP/s; "
                    + "activations ~%.1f MiB%n", b, s, flops / 1e9, flops / 1e9 / gflops * 1e3, gflops,
                    act / (1 << 20));
        }
    }

    private static double measureGemmGflops() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray a = m.randomNormal(new ai.djl.ndarray.types.Shape(512, 512));
            a.matMul(a).close();
            long t0 = System.nanoTime();
            for (int i = 0; i < 10; i++) {
                a.matMul(a).close();
            }
            double s = (System.nanoTime() - t0) / 1e9;
            return 10 * 2.0 * 512 * 512 * 512 / s / 1e9;
        }
    }

    /**
     * Prints the held-out losses and, at the end, a summary. The built-in default run ({@code train} without
     * {@code --config}) that started at step 1 is also judged by its learning check: the mean loss of steps 1-20
     * against that of the last 20 steps of the whole run (at least 40 steps); the check is printed, and a loss that
     * did not fall fails the run, because showing that the model learns is that job's purpose. A config-driven or
     * resumed run is never judged by its loss values: its exit status says only whether it ran.
     */
    static final class ConsoleProgress implements TrainingListener {
        /** Steps averaged at each end of the run by the learning check. */
        static final int WINDOW = 20;

        private final PrintStream out;
        private final long start = System.nanoTime();
        private final List<Double> validation = new ArrayList<>();
        private long firstStep = 1;

        ConsoleProgress(PrintStream out) {
            this.out = out;
        }

        @Override
        public void onStart(TrainingStart s) {
            firstStep = s.firstStep();
        }

        @Override
        public void onValidation(long step, double loss) {
            out.printf("step %4d  held-out loss %.4f (fixed timesteps and noise)%n", step, loss);
            validation.add(loss);
        }

        /**
         * @param results the steps this process ran, in order
         * @param builtinDefault whether the run is the built-in default (no {@code --config})
         * @return false only when the learning check ran and the loss did not fall
         */
        boolean summary(List<StepResult> results, boolean builtinDefault) {
            if (validation.size() >= 2) {
                out.printf("held-out loss %.4f after the first validation, %.4f at the end (%.0f%% lower)%n",
                        validation.get(0), validation.get(validation.size() - 1),
                        100 * (1 - validation.get(validation.size() - 1) / validation.get(0)));
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            long last = firstStep + results.size() - 1;
            if (results.isEmpty()) {
                out.printf("nothing to run: the newest checkpoint is at the last step, %d%n", firstStep - 1);
                return true;
            }
            if (firstStep > 1) {
                out.printf("ran steps %d-%d in %.1f s (resumed after step %d; no learning check)%n", firstStep, last,
                        seconds, firstStep - 1);
                return true;
            }
            if (!builtinDefault || results.size() < 2 * WINDOW) {
                out.printf("ran steps 1-%d in %.1f s%n", last, seconds);
                return true;
            }
            double first = mean(results.subList(0, WINDOW));
            double end = mean(results.subList(results.size() - WINDOW, results.size()));
            boolean fell = end < first;
            out.printf("learning check: mean loss of steps 1-%d %.4f, of steps %d-%d %.4f (%.0f%% lower) in %.1f s: "
                    + "%s%n", WINDOW, first, last - WINDOW + 1, last, end, 100 * (1 - end / first), seconds,
                    fell ? "PASSED" : "FAILED (the loss did not fall)");
            return fell;
        }

        private static double mean(List<StepResult> rs) {
            return rs.stream().mapToDouble(StepResult::loss).average().orElse(Double.NaN);
        }
    }
}
