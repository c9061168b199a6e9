package io.github.cogvideox4j.lora.train;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import com.google.common.base.Preconditions;
import io.github.cogvideox4j.core.CogVideoXException;
import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.dist.ProcessGroup;
import io.github.cogvideox4j.core.embed.RopeGrid;
import io.github.cogvideox4j.core.embed.RotaryPositionalEmbedding3d;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.schedule.CogVideoXObjective;
import io.github.cogvideox4j.core.schedule.CogVideoXScheduler;
import io.github.cogvideox4j.core.schedule.TrainingInput;
import io.github.cogvideox4j.data.loader.Batch;
import io.github.cogvideox4j.lora.LoraAdapter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fine-tunes a CogVideoX transformer: LoRA (a {@link LoraAdapter} injected into the model, base frozen) or full
 * (every parameter). {@link #step(Batch...)} is one optimizer step, short enough to read and copy:
 *
 * <ol>
 *   <li>draw every sample's timestep, noise and dropout coins from seeded streams derived from (seed, stream, step,
 *       the sample's position in the global batch) — so a resumed run draws exactly what the uninterrupted one would
 *       have (DJL cannot save the engine's generator), and the draws do not depend on how the global batch is cut
 *       into ranks and micro-batches;</li>
 *   <li>build the {@link TrainingInput} (RoPE per bucket with the pipeline's rule, or the Diffusers scripts'
 *       480x720-base rule; OFS for 1.5-I2V; image latents for I2V);</li>
 *   <li>loss and backward through {@link CogVideoXObjective} (with activation checkpointing when enabled), summed
 *       over gradient-accumulation micro-batches and averaged;</li>
 *   <li>with a {@link ProcessGroup} of several ranks: the gradients are averaged over the ranks in flat buckets of
 *       about 25 MB ({@link FlatLayout}) and the loss is summed over them, so the step's loss is the mean over
 *       the global batch;</li>
 *   <li>global-norm clipping (with several ranks, of the averaged gradients); a non-finite loss or gradient on any
 *       rank skips the update or stops the run on every rank, as configured;</li>
 *   <li>{@link AdamW} at the schedule's learning rate (it clears the gradients) — or, for a full fine-tune on
 *       several ranks, {@link ShardedAdamW} (ZeRO-1: each rank keeps and updates the moments of its shard, the
 *       updated parameters are all-gathered);</li>
 *   <li>a {@link StepResult} to the listeners.</li>
 * </ol>
 * Every temporary of a step lives in a sub-manager closed at the end of the step.
 *
 * <p>Device: everything the fine-tuner makes (noise, timesteps, masks, gradient buckets) is made on the model's
 * {@link #device()}; the batches must be on it too ({@code TrainingRun} loads them there).
 *
 * <p>Data parallel: {@code batch_size} is the per-rank micro-batch; the global batch is micro-batch × accumulation ×
 * world size. Every rank must call {@link #step} with the same number of micro-batches of the same size, its slice of
 * the global batch (see {@link #step(Batch...)} for the positions); {@code TrainingRun} does the slicing.
 *
 * <p>Thread safety: not thread-safe; confine to one thread (DJL allows one gradient collector per process).
 */
public final class FineTuner implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(FineTuner.class);

    /** What to do when a step's loss or gradient norm is NaN or infinite. */
    public enum NonFinitePolicy {
        /** Clear the gradients, skip the update, report the step and its samples, go on. */
        SKIP,
        /** Clear the gradients and throw {@link NonFiniteException}; nothing non-finite reaches the weights. */
        STOP
    }

    /** How the RoPE table of a batch is built. */
    public enum RopeRule {
        /** As the inference pipelines build it for the batch's latent size (the seed's RoPE fix; the default). */
        PIPELINE,
        /** As the Diffusers training scripts build it: 1.0 crop-region grid against a hard-coded 480x720 base. */
        DIFFUSERS_480X720
    }

    private static final long STREAM_TIMESTEPS = 1;
    private static final long STREAM_NOISE = 2;
    private static final long STREAM_IMAGE_DROPOUT = 3;
    private static final long STREAM_CAPTION_DROPOUT = 4;
    private static final long VALIDATION_STEP = -1;

    private final CogVideoXTransformer model;
    private final LoraAdapter lora;
    private final Map<String, NDArray> trainable;
    private final CogVideoXObjective objective;
    private final AdamW optimizer;
    private final LearningRateSchedule schedule;
    private final double maxGradNorm;
    private final long seed;
    private final NonFinitePolicy nonFinitePolicy;
    private final boolean gradientCheckpointing;
    private final int gradientCheckpointingSegment;
    private final int gradientCheckpointingChunks;
    private final Float ofs;
    private final RopeRule ropeRule;
    private final double imageLatentDropout;
    private final double captionDropout;
    private final boolean sincosAtUntrainedSize;
    private final IsolatedListeners listeners;
    private final NDManager manager;
    private final ProcessGroup group;
    private final FlatLayout layout;
    private final ReplicatedGradients replicated;
    private final ShardedAdamW sharded;
    private long completedSteps;
    private int epoch;

    private FineTuner(Builder b) {
        this.model = b.model;
        this.lora = b.lora;
        this.objective = CogVideoXObjective.of(b.scheduler);
        this.optimizer = b.optimizer != null ? b.optimizer : AdamW.builder().build();
        this.schedule = b.schedule != null ? b.schedule : LearningRateSchedule.constant(optimizer.learningRate());
        this.maxGradNorm = b.maxGradNorm;
        this.seed = b.seed;
        this.nonFinitePolicy = b.nonFinitePolicy;
        this.gradientCheckpointing = b.gradientCheckpointing;
        this.gradientCheckpointingSegment = b.gradientCheckpointingSegment;
        this.gradientCheckpointingChunks = b.gradientCheckpointingChunks;
        this.ropeRule = b.ropeRule;
        this.imageLatentDropout = b.imageLatentDropout;
        this.captionDropout = b.captionDropout;
        this.sincosAtUntrainedSize = b.sincosAtUntrainedSize;
        this.listeners = new IsolatedListeners(b.listeners);
        CogVideoXConfig config = model.config();
        this.ofs = config.ofsEmbedDim() == null ? null : (float) b.ofs;
        if (lora != null) {
            model.setRequiresGradient(false);
            this.trainable = lora.namedParameters();
        } else {
            model.setRequiresGradient(true);
            this.trainable = model.namedParameters();
        }
        this.manager = NDManager.newBaseManager(model.device());
        this.group = b.group;
        this.layout = FlatLayout.of(trainable, b.bucketElements, group.worldSize());
        boolean shard = b.shardOptimizerState != null ? b.shardOptimizerState : lora == null && group.worldSize() > 1;
        this.sharded = shard ? new ShardedAdamW(optimizer, group, layout, manager) : null;
        this.replicated = !shard && group.worldSize() > 1 ? new ReplicatedGradients(group, layout, manager) : null;
    }

    /**
     * @param model the transformer to fine-tune
     * @param scheduler the noise schedule of the objective (the model's {@code scheduler_config.json})
     * @return a builder; LoRA when {@link Builder#lora} is set, full fine-tune otherwise
     */
    public static Builder builder(CogVideoXTransformer model, CogVideoXScheduler scheduler) {
        return new Builder(model, scheduler);
    }

    /** @return the trainable parameters (LoRA A/B under the exported keys, or every model parameter) */
    public Map<String, NDArray> trainable() {
        return trainable;
    }

    /**
     * @return the optimizer: its hyper-parameters, learning rate and step count; its moments too, unless the state is
     *     sharded ({@link #shardedOptimizer()})
     */
    public AdamW optimizer() {
        return optimizer;
    }

    /** @return the ZeRO-1 sharded optimizer state of a full fine-tune on several ranks, else empty */
    public java.util.Optional<ShardedAdamW> shardedOptimizer() {
        return java.util.Optional.ofNullable(sharded);
    }

    /** @return the ranks this fine-tuner trains with ({@link ProcessGroup#single()} by default) */
    public ProcessGroup processGroup() {
        return group;
    }

    /** @return the flat layout of the trainable parameters: gradient buckets and optimizer shards */
    public FlatLayout layout() {
        return layout;
    }

    /** @return the device of the model, where the fine-tuner makes its arrays and where batches must be */
    public Device device() {
        return manager.getDevice();
    }

    /** @return the model being trained */
    public CogVideoXTransformer model() {
        return model;
    }

    /** @return the LoRA adapter, or {@code null} for a full fine-tune */
    public LoraAdapter lora() {
        return lora;
    }

    /** @return steps completed so far (the next step is {@code completedSteps() + 1}) */
    public long completedSteps() {
        return completedSteps;
    }

    /** @return the seed of the step streams */
    public long seed() {
        return seed;
    }

    /**
     * Continues a run: the next step is {@code steps + 1}, with the epoch the sampler is in. Restore the weights and
     * the optimizer state first (see {@code TrainingRun}).
     *
     * @param steps steps already completed
     * @param currentEpoch the epoch of the next step
     */
    public void resumeAt(long steps, int currentEpoch) {
        Preconditions.checkArgument(steps >= 0, "steps must be >= 0, got %s", steps);
        this.completedSteps = steps;
        this.epoch = currentEpoch;
    }

    /**
     * @param currentEpoch the epoch the next steps belong to (reported in {@link StepResult})
     */
    public void setEpoch(int currentEpoch) {
        this.epoch = currentEpoch;
    }

    /**
     * One optimizer step over one or more micro-batches (gradient accumulation): every random draw comes from the
     * step streams. The batches stay owned by the caller.
     *
     * <p>Positions in the global batch, which key every sample's draws: the samples of the micro-batches count on
     * from {@code rank × n}, where {@code n} is the number of samples passed here (every rank passes as many), in
     * order — rank {@code r} holds positions {@code [r·n, (r+1)·n)} of the global batch, as {@code TrainingRun}
     * slices it. One process at batch size 2, one at batch size 1 with two micro-batches, and two ranks at batch size
     * 1 therefore draw the same noise for the same samples.
     *
     * @param microBatches batches of one bucket each (they may differ between micro-batches)
     * @return what the step did
     * @throws NonFiniteException under {@link NonFinitePolicy#STOP} when the loss or gradient is not finite
     */
    public StepResult step(Batch... microBatches) {
        Preconditions.checkArgument(microBatches.length > 0, "at least one batch");
        long stepNo = completedSteps + 1;
        long local = 0;
        for (Batch b : microBatches) {
            local += b.size();
        }
        try (NDManager s = manager.newSubManager()) {
            List<TrainingInput> inputs = new ArrayList<>();
            List<String> sources = new ArrayList<>();
            long position = group.rank() * local;
            for (Batch microBatch : microBatches) {
                inputs.add(inputFor(microBatch, stepNo, position, s, true));
                position += microBatch.size();
                sources.addAll(microBatch.sources());
            }
            return step(inputs, bucketName(microBatches[0]), sources);
        }
    }

    /**
     * One optimizer step over explicit inputs (every draw given: the research-loop form the golden tests use). With
     * several ranks, each rank passes the inputs of its slice of the global batch (the same number of micro-batches
     * of the same size on every rank); the group averages the gradients and the loss.
     *
     * @param microInputs this rank's micro-batches of the step, each a complete objective input
     * @param bucket a label for the listeners
     * @param sources the samples of the step, named when a non-finite value is reported
     * @return what the step did
     * @throws NonFiniteException under {@link NonFinitePolicy#STOP} when the loss or gradient is not finite
     */
    public StepResult step(List<TrainingInput> microInputs, String bucket, List<String> sources) {
        Preconditions.checkArgument(!microInputs.isEmpty(), "at least one input");
        long start = System.nanoTime();
        long stepNo = completedSteps + 1;
        // 1. learning rate of this step (LambdaLR counts from 0)
        double lr = schedule.learningRate(completedSteps);
        optimizer.setLearningRate(lr);
        // 2. loss and backward per micro-batch; gradients add up in the parameters
        double lossSum = 0;
        for (TrainingInput in : microInputs) {
            try (NDManager scope = manager.newSubManager()) {
                NDArray loss;
                if (gradientCheckpointing) {
                    loss = objective.lossAndBackward(model, in, gradientCheckpointingSegment,
                            gradientCheckpointingChunks);
                } else {
                    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                        loss = objective.loss(model, in);
                        loss.attach(scope);     // backward's ones(loss) seed joins the loss's manager: this scope
                        gc.backward(loss);
                    }
                }
                loss.attach(scope);
                lossSum += loss.getDouble();
            }
        }
        if (microInputs.size() > 1) {
            scaleGradients(1.0 / microInputs.size());
        }
        double lossValue;
        double gradNorm;
        float clip = 1f;
        List<NDArray> parameters = new ArrayList<>(trainable.values());
        if (sharded == null && replicated == null) {
            lossValue = lossSum / microInputs.size();
            // 3. clipping (returns the pre-clip norm), non-finite guard
            gradNorm = maxGradNorm > 0 ? GradientClipper.clipGlobalNorm(trainable.values(), maxGradNorm)
                    : GradientClipper.globalNorm(trainable.values());
        } else {
            // 3. average the gradients over the ranks; loss, squared norm and micro-batch count summed over them:
            //    every rank then holds the same numbers and takes the same decisions
            double sumSq = sharded != null ? sharded.reduce(parameters) : replicated.reduce(parameters);
            double[] global = {lossSum, sumSq, microInputs.size()};
            group.allReduce(ProcessGroup.ReduceOp.SUM, global);
            if (global[2] != (double) microInputs.size() * group.worldSize()) {
                throw new IllegalStateException("step " + stepNo + ": rank " + group.rank() + " ran "
                        + microInputs.size() + " micro-batches, but the ranks ran " + (long) global[2]
                        + " together (expected the same number on every rank)");
            }
            lossValue = global[0] / global[2];
            float total = (float) Math.sqrt(global[1]);
            gradNorm = total;
            if (maxGradNorm > 0 && Float.isFinite(total)) {
                clip = GradientClipper.coefficient(total, maxGradNorm);
            }
        }
        boolean skipped = false;
        if (!Double.isFinite(lossValue) || !Double.isFinite(gradNorm)) {
            trainable.values().forEach(Gradients::clear);
            String what = "step " + stepNo + ": loss " + lossValue + ", gradient norm " + gradNorm + " (samples "
                    + sources + (group.worldSize() > 1 ? " on rank " + group.rank() + " of " + group.worldSize()
                            + "; the value is the ranks' reduction" : "") + ")";
            if (nonFinitePolicy == NonFinitePolicy.STOP) {
                throw new NonFiniteException(stepNo, sources, what + "; the update was not applied");
            }
            LOG.warn("non-finite {}; update skipped", what);
            skipped = true;
        } else if (sharded != null) {
            // 4. ZeRO-1: each rank updates its shards, the parameters are all-gathered; clears the gradients
            sharded.apply(parameters, clip);
        } else {
            if (clip < 1f) {
                scaleGradients(clip);
            }
            // 4. AdamW (decoupled weight decay, bias correction); clears the gradients
            optimizer.step(trainable);
        }
        completedSteps = stepNo;
        StepResult result = new StepResult(stepNo, epoch, lossValue, lr, gradNorm, skipped, bucket,
                (System.nanoTime() - start) / 1_000_000);
        listeners.onStep(result);
        return result;
    }

    /**
     * The held-out loss at fixed draws: every batch uses the timesteps, noise and dropout coins of the fixed
     * validation streams (independent of the training step; samples numbered on over the batches), without recording
     * gradients, so the number is comparable across steps and runs. Image-latent and caption dropout are off. It runs
     * on this process alone (no collective): in a multi-rank run, call it on rank 0.
     *
     * @param batches held-out batches (owned by the caller)
     * @return the mean loss over the batches
     */
    public double validationLoss(List<Batch> batches) {
        Preconditions.checkArgument(!batches.isEmpty(), "at least one validation batch");
        double sum = 0;
        long position = 0;
        try (NDManager s = manager.newSubManager()) {
            for (int i = 0; i < batches.size(); i++) {
                TrainingInput in = inputFor(batches.get(i), VALIDATION_STEP, position, s, false);
                position += batches.get(i).size();
                try (NDArray loss = objective.loss(model, in)) {
                    sum += loss.getDouble();
                }
            }
        }
        return sum / batches.size();
    }

    private void scaleGradients(double factor) {
        try (NDManager s = manager.newSubManager()) {
            for (NDArray p : trainable.values()) {
                Gradients.of(p, s).muli((float) factor);
            }
        }
    }

    /**
     * The objective input of a batch: every sample's timestep, noise and dropout coins from the streams of (seed,
     * step, its position in the global batch); the batch's first sample is at {@code firstPosition}.
     */
    private TrainingInput inputFor(Batch batch, long stepNo, long firstPosition, NDManager s, boolean dropout) {
        CogVideoXConfig config = model.config();
        NDArray latents = batch.latents();                                                   // [B, F, C, h, w]
        Shape shape = latents.getShape();
        int b = (int) shape.get(0);
        long f = shape.get(1);
        int pt = config.patchSizeT() == null ? 1 : config.patchSizeT();
        long fp = f + (pt - f % pt) % pt;                                                    // padded frame count
        // 1. timesteps ~ U{0..num_train_timesteps-1}, noise ~ N(0, I) at the padded frame count, per sample
        long[] t = new long[b];
        int numTrain = objective.scheduler().config().numTrainTimesteps();
        Shape noiseShape = new Shape(b, fp, shape.get(2), shape.get(3), shape.get(4));
        int perSample = Math.toIntExact(noiseShape.size() / b);
        float[] noise = new float[Math.toIntExact(noiseShape.size())];
        for (int i = 0; i < b; i++) {
            t[i] = stream(STREAM_TIMESTEPS, stepNo, firstPosition + i).nextInt(numTrain);
            SplittableRandom n = stream(STREAM_NOISE, stepNo, firstPosition + i);
            for (int j = i * perSample; j < (i + 1) * perSample; j++) {
                noise[j] = (float) n.nextGaussian();
            }
        }
        NDArray prompt = batch.promptEmbeddings();
        // 2. caption dropout: a sample's prompt embedding becomes zeros with the configured probability
        if (dropout && captionDropout > 0) {
            // the mask first: the product joins the step's manager, not the caller's batch
            prompt = keepMask(STREAM_CAPTION_DROPOUT, stepNo, firstPosition, b, captionDropout, s,
                    new Shape(b, 1, 1)).mul(prompt);
        }
        TrainingInput in = TrainingInput.of(latents, prompt, EngineArrays.create(s, t, new Shape(b)),
                EngineArrays.create(s, noise, noiseShape));
        // 3. image-to-video: the first-frame image latents, dropped per sample with the configured probability
        if (config.isImageToVideo()) {
            NDArray image = batch.imageLatents().orElseThrow(() -> new CogVideoXException(config.variant()
                    + " is an image-to-video model, but the batch of " + batch.sources() + " has no image latents"));
            if (dropout && imageLatentDropout > 0) {
                image = keepMask(STREAM_IMAGE_DROPOUT, stepNo, firstPosition, b, imageLatentDropout, s,
                        new Shape(b, 1, 1, 1, 1)).mul(image);
            }
            in = in.withImageLatents(image);
        }
        // 4. OFS (1.5-I2V), the RoPE rule, the 5b-I2V bucket opt-in
        if (ofs != null) {
            in = in.withOfs(EngineArrays.create(s, new float[] {ofs}, new Shape(1)));
        }
        if (ropeRule == RopeRule.DIFFUSERS_480X720 && config.useRotaryPositionalEmbeddings()) {
            int p = config.patchSize();
            RopeGrid grid = RopeGrid.linspace((int) ((fp + pt - 1) / pt), (int) shape.get(3) / p,
                    (int) shape.get(4) / p, 480 / 8 / p, 720 / 8 / p);
            NDList table = RotaryPositionalEmbedding3d.compute(grid, config.attentionHeadDim()).toNDList(s);
            in = in.withRotaryEmbedding(table.get(0), table.get(1));
        }
        if (sincosAtUntrainedSize) {
            in = in.withSincosAtUntrainedSize();
        }
        return in;
    }

    /** Per sample: 0 with the drop probability, else 1, each coin from the sample's own stream. */
    private NDArray keepMask(long streamId, long stepNo, long firstPosition, int b, double dropProbability,
            NDManager s, Shape shape) {
        float[] keep = new float[b];
        for (int i = 0; i < b; i++) {
            keep[i] = stream(streamId, stepNo, firstPosition + i).nextDouble() < dropProbability ? 0f : 1f;
        }
        return EngineArrays.create(s, keep, shape);
    }

    /**
     * A generator for (seed, stream, step, position in the global batch): independent of what ran before, so resume
     * is exact, and of the rank and micro-batch that hold the sample, so the world size is only a speed setting.
     */
    private SplittableRandom stream(long stream, long stepNo, long position) {
        long h = mix(seed ^ mix(stream * 0x9E3779B97F4A7C15L + stepNo) ^ mix(position + 0x632BE59BD9B4E019L));
        return new SplittableRandom(h);
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    private static String bucketName(Batch batch) {
        Shape s = batch.latents().getShape();
        return s.get(1) + "x" + s.get(3) + "x" + s.get(4);
    }

    /** @return the listeners, in order; unmodifiable */
    public List<TrainingListener> listeners() {
        return listeners.listeners();
    }

    /** @return every listener behind one call each, failures isolated (see {@link IsolatedListeners}) */
    TrainingListener events() {
        return listeners;
    }

    /**
     * Frees the step manager, the flat buffers and the optimizer state; the model, the adapter and the process group
     * stay the caller's.
     */
    @Override
    public void close() {
        if (sharded != null) {
            sharded.close();
        }
        if (replicated != null) {
            replicated.close();
        }
        optimizer.close();
        manager.close();
    }

    /** Builds a {@link FineTuner}; every option has the reference trainers' default. */
    public static final class Builder {
        private final CogVideoXTransformer model;
        private final CogVideoXScheduler scheduler;
        private LoraAdapter lora;
        private AdamW optimizer;
        private LearningRateSchedule schedule;
        private double maxGradNorm = 1.0;
        private long seed = 42;
        private NonFinitePolicy nonFinitePolicy = NonFinitePolicy.SKIP;
        private boolean gradientCheckpointing;
        private int gradientCheckpointingSegment = 1;
        private int gradientCheckpointingChunks = 1;
        private double ofs = 2.0;
        private RopeRule ropeRule = RopeRule.PIPELINE;
        private double imageLatentDropout = 0.05;
        private double captionDropout;
        private boolean sincosAtUntrainedSize;
        private ProcessGroup group = ProcessGroup.single();
        private Boolean shardOptimizerState;
        private long bucketElements = FlatLayout.DEFAULT_BUCKET_ELEMENTS;
        private final List<TrainingListener> listeners = new ArrayList<>();

        private Builder(CogVideoXTransformer model, CogVideoXScheduler scheduler) {
            this.model = Preconditions.checkNotNull(model, "model");
            this.scheduler = Preconditions.checkNotNull(scheduler, "scheduler");
        }

        /**
         * @param adapter the LoRA injected into the model (its A/B are trained, the base is frozen)
         * @return this builder
         */
        public Builder lora(LoraAdapter adapter) {
            this.lora = adapter;
            return this;
        }

        /**
         * @param adamW the optimizer (default: AdamW with its builder's defaults)
         * @return this builder
         */
        public Builder optimizer(AdamW adamW) {
            this.optimizer = adamW;
            return this;
        }

        /**
         * @param lrSchedule the learning-rate schedule (default: constant at the optimizer's rate)
         * @return this builder
         */
        public Builder schedule(LearningRateSchedule lrSchedule) {
            this.schedule = lrSchedule;
            return this;
        }

        /**
         * @param norm the global gradient-norm limit; 0 disables clipping (default 1.0)
         * @return this builder
         */
        public Builder maxGradNorm(double norm) {
            Preconditions.checkArgument(norm >= 0, "maxGradNorm must be >= 0, got %s", norm);
            this.maxGradNorm = norm;
            return this;
        }

        /**
         * @param value the seed of the step streams (timesteps, noise, dropout)
         * @return this builder
         */
        public Builder seed(long value) {
            this.seed = value;
            return this;
        }

        /**
         * @param policy what a non-finite loss or gradient does (default SKIP)
         * @return this builder
         */
        public Builder nonFinite(NonFinitePolicy policy) {
            this.nonFinitePolicy = Preconditions.checkNotNull(policy);
            return this;
        }

        /**
         * @param enabled activation checkpointing per transformer block (default off)
         * @return this builder
         */
        public Builder gradientCheckpointing(boolean enabled) {
            this.gradientCheckpointing = enabled;
            return this;
        }

        /**
         * Blocks per checkpoint under gradient checkpointing (default 1: every block's input is kept, the Diffusers
         * way). A segment of {@code k} keeps the inputs of blocks 0, k, 2k, ... and recomputes the others from them
         * in backward: fewer kept inputs for {@code n - ceil(n / k)} more block forwards per step (see
         * {@link CogVideoXTransformer#forwardBackwardWithRecompute(
         * io.github.cogvideox4j.core.model.TransformerInput, java.util.function.Function, int)}).
         *
         * @param blocks blocks per checkpoint, at least 1; more than 1 needs {@link #gradientCheckpointing(boolean)}
         * @return this builder
         * @throws IllegalArgumentException if {@code blocks < 1}
         */
        public Builder gradientCheckpointingSegment(int blocks) {
            Preconditions.checkArgument(blocks >= 1, "gradient checkpointing segment must be >= 1 block, got %s",
                    blocks);
            this.gradientCheckpointingSegment = blocks;
            return this;
        }

        /**
         * Token chunks per block backward under gradient checkpointing (default 1). With {@code c} chunks each
         * block's recompute is recorded and gone back through on {@code 1/c} of the tokens at a time, its queries
         * against the keys and values of all tokens, so a block's working set shrinks to the keys, the values, their
         * gradients and one chunk of the rest, for the k and v projections computed once more; gradients change only by the order of the float sums over the tokens (see
         * {@link CogVideoXTransformer#forwardBackwardWithRecompute(
         * io.github.cogvideox4j.core.model.TransformerInput, java.util.function.Function, int, int)}).
         *
         * @param chunks token chunks, at least 1; more than 1 needs {@link #gradientCheckpointing(boolean)}
         * @return this builder
         * @throws IllegalArgumentException if {@code chunks < 1}
         */
        public Builder gradientCheckpointingChunks(int chunks) {
            Preconditions.checkArgument(chunks >= 1, "gradient checkpointing chunks must be >= 1, got %s", chunks);
            this.gradientCheckpointingChunks = chunks;
            return this;
        }

        /**
         * @param value the OFS value of 1.5-I2V models (default 2.0, as every reference trainer); ignored by others
         * @return this builder
         */
        public Builder ofs(double value) {
            this.ofs = value;
            return this;
        }

        /**
         * @param rule how RoPE tables are built (default: the pipeline's rule)
         * @return this builder
         */
        public Builder rope(RopeRule rule) {
            this.ropeRule = Preconditions.checkNotNull(rule);
            return this;
        }

        /**
         * @param probability per-sample image-latent dropout of I2V models (default 0.05, the Diffusers script)
         * @return this builder
         */
        public Builder imageLatentDropout(double probability) {
            Preconditions.checkArgument(probability >= 0 && probability <= 1, "probability in [0, 1]");
            this.imageLatentDropout = probability;
            return this;
        }

        /**
         * @param probability per-sample caption dropout to a zero embedding (default 0)
         * @return this builder
         */
        public Builder captionDropout(double probability) {
            Preconditions.checkArgument(probability >= 0 && probability <= 1, "probability in [0, 1]");
            this.captionDropout = probability;
            return this;
        }

        /**
         * @param enabled 5b-I2V at bucket sizes its learned table does not cover uses the sincos table (a documented
         *     departure from the trained model; default off)
         * @return this builder
         */
        public Builder sincosAtUntrainedSize(boolean enabled) {
            this.sincosAtUntrainedSize = enabled;
            return this;
        }

        /**
         * @param processGroup the ranks that share every step (default {@link ProcessGroup#single()}); the caller
         *     keeps ownership and closes it after the fine-tuner
         * @return this builder
         */
        public Builder processGroup(ProcessGroup processGroup) {
            this.group = Preconditions.checkNotNull(processGroup, "processGroup");
            return this;
        }

        /**
         * @param enabled whether the AdamW state is sharded over the ranks (ZeRO-1, {@link ShardedAdamW}); default:
         *     for a full fine-tune on more than one rank
         * @return this builder
         */
        public Builder shardOptimizerState(boolean enabled) {
            this.shardOptimizerState = enabled;
            return this;
        }

        /**
         * @param elements FLOAT32 elements per gradient bucket (default {@link FlatLayout#DEFAULT_BUCKET_ELEMENTS},
         *     about 25 MB)
         * @return this builder
         */
        public Builder bucketElements(long elements) {
            Preconditions.checkArgument(elements > 0, "bucketElements must be positive, got %s", elements);
            this.bucketElements = elements;
            return this;
        }

        /**
         * @param listener receives the run's events; a {@link RuntimeException} or {@link LinkageError} it throws is
         *     logged at WARN and does not stop training or the other listeners (other errors propagate)
         * @return this builder
         */
        public Builder listener(TrainingListener listener) {
            this.listeners.add(Preconditions.checkNotNull(listener));
            return this;
        }

        /**
         * @return the fine-tuner
         * @throws IllegalArgumentException if a checkpointing segment above one block, or more than one token chunk,
         *     is set without checkpointing
         */
        public FineTuner build() {
            Preconditions.checkArgument(gradientCheckpointing || gradientCheckpointingSegment == 1,
                    "a gradient checkpointing segment of %s blocks needs gradientCheckpointing(true)",
                    gradientCheckpointingSegment);
            Preconditions.checkArgument(gradientCheckpointing || gradientCheckpointingChunks == 1,
                    "%s gradient checkpointing chunks need gradientCheckpointing(true)", gradientCheckpointingChunks);
            return new FineTuner(this);
        }
    }
}
