package io.github.cogvideox4j.lora.train;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.common.base.Preconditions;
import com.fasterxml.jackson.databind.JsonNode;
import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.core.dist.ProcessGroup;
import io.github.cogvideox4j.data.BatchPlan;
import io.github.cogvideox4j.data.BucketSampler;
import io.github.cogvideox4j.data.DropLastPolicy;
import io.github.cogvideox4j.data.loader.BadSamplePolicy;
import io.github.cogvideox4j.data.loader.Batch;
import io.github.cogvideox4j.data.loader.BatchLoader;
import io.github.cogvideox4j.data.loader.LoaderOptions;
import io.github.cogvideox4j.data.loader.SampleSource;
import io.github.cogvideox4j.lora.NoGrad;
import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A whole fine-tuning run: iterates the bucketed batches of a {@link BucketSampler} through a prefetching
 * {@link BatchLoader}, calls {@link FineTuner#step(Batch...)}, writes checkpoints and tells the listeners (through
 * the fine-tuner, which isolates their failures). A run resumes from the newest readable checkpoint in its store (see
 * {@link CheckpointStore#latest}: it fails rather than restart from step 0 when none is readable): the trainable
 * weights, the AdamW moments and step, and the step counter are restored, and because the sampler, the loader seeds
 * and the step streams are functions of (seed, epoch, step, position in the global batch), the resumed run continues
 * exactly as the uninterrupted one would have.
 *
 * <p>Data parallel: the sampler plans global batches — its batch size is the global batch {@code G = b × a × W}
 * (micro-batch {@code b}, {@link Builder#gradientAccumulation accumulation} {@code a}, the fine-tuner's
 * {@link FineTuner#processGroup() world size} {@code W}) and must be divisible by {@code a × W}. Rank {@code r} takes
 * positions {@code [r·b·a, (r+1)·b·a)} of every global batch, cut into {@code a} micro-batches of {@code b}. One
 * optimizer step is one global batch, so the sequence of steps depends only on the seed and {@code G}: the world size
 * is a speed setting. Only rank 0 tells the listeners (which should be attached on rank 0 only), runs validation and
 * samples validation videos; every rank takes part in the checkpoints.
 *
 * <p>Checkpoint layout ({@link CheckpointStore}): rank 0's tensor file holds the trainable weights under their names
 * and, for a replicated optimizer state, {@code adam.exp_avg.<name>} and {@code adam.exp_avg_sq.<name>}; with ZeRO-1
 * every rank writes its flat shards ({@link ShardedAdamW#shardTensors()}). State JSON: {@code step}, {@code epoch},
 * {@code seed}, {@code optimizer_step}, {@code provenance} and the caller's {@code config}. The manifest adds
 * {@code global_batch_size}, {@code batch_size}, {@code gradient_accumulation}, {@code optimizer} ({@code sharding}
 * {@code replicated} or {@code zero1}, {@code step}) and {@code layout} ({@link FlatLayout#toJson()}). A run resumes
 * at the same world size or another one (the moments are re-sharded from the saved flat ranges); the global batch
 * size must be the same, or {@link #run()} fails saying which batch size and accumulation give it.
 *
 * <p>Thread safety: not thread-safe; one run per thread.
 */
public final class TrainingRun {
    private static final Logger LOG = LoggerFactory.getLogger(TrainingRun.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final FineTuner tuner;
    private final ProcessGroup group;
    private final BucketSampler sampler;
    private final SampleSource source;
    private final long totalSteps;
    private final int accumulation;
    private final int microBatch;
    private final CheckpointStore store;
    private final long checkpointEvery;
    private final Path outputDir;
    private final ObjectNode config;
    private final int prefetch;
    private final String description;
    private final List<int[]> validationBatches;
    private final long validationEvery;
    private final ValidationVideos videos;
    private final long videosEvery;

    private TrainingRun(Builder b) {
        this.tuner = b.tuner;
        this.group = b.tuner.processGroup();
        this.sampler = b.sampler;
        this.source = b.source;
        this.totalSteps = b.totalSteps;
        this.accumulation = b.accumulation;
        this.microBatch = b.sampler.config().batchSize() / (b.accumulation * group.worldSize());
        this.store = b.store;
        this.checkpointEvery = b.checkpointEvery;
        this.outputDir = b.outputDir;
        this.config = b.config;
        this.prefetch = b.prefetch;
        this.description = b.description;
        this.validationBatches = b.validationBatches;
        this.validationEvery = b.validationEvery;
        this.videos = b.videos;
        this.videosEvery = b.videosEvery;
    }

    /**
     * @param tuner the fine-tuner (model, trainable parameters, optimizer, listeners, process group)
     * @param sampler the bucketed plan of global batches (its batch size is the global batch)
     * @param source loads a sample by index
     * @return a builder
     */
    public static Builder builder(FineTuner tuner, BucketSampler sampler, SampleSource source) {
        return new Builder(tuner, sampler, source);
    }

    /** @return the global batch: samples per optimizer step over all ranks */
    public int globalBatchSize() {
        return sampler.config().batchSize();
    }

    /** @return the per-rank micro-batch size */
    public int microBatchSize() {
        return microBatch;
    }

    /**
     * Runs (or resumes) until {@code totalSteps}. Collective: with several ranks every rank calls it.
     *
     * @return the results of the steps this call ran
     * @throws IOException if a checkpoint cannot be read or written (the previous one stays intact)
     * @throws CheckpointException if the newest checkpoint was written with another global batch size, for other
     *     parameters, or the ranks do not see the same checkpoint
     */
    public List<StepResult> run() throws IOException {
        List<StepResult> results = new ArrayList<>();
        long done = restore();
        int perEpoch = sampler.stepsPerEpoch();
        Preconditions.checkState(perEpoch > 0, "the sampler yields no batch (%s)", sampler.report());
        boolean coordinator = group.isCoordinator();
        tuner.events().onStart(new TrainingStart(done + 1, totalSteps, outputDir, description));
        while (tuner.completedSteps() < totalSteps) {
            long completed = tuner.completedSteps();
            int epoch = (int) (completed / perEpoch);
            int position = (int) (completed % perEpoch);
            tuner.setEpoch(epoch);
            List<BatchPlan> plan = sampler.resume(epoch, position);
            LoaderOptions options = new LoaderOptions(prefetch, BadSamplePolicy.FAIL, tuner.seed(),
                    (long) epoch * perEpoch + position, accumulation);
            try (NDManager loaderManager = NDManager.newBaseManager(tuner.device());
                    BatchLoader loader = new BatchLoader(slices(plan), source, loaderManager, options)) {
                while (tuner.completedSteps() < totalSteps && loader.hasNext()) {
                    List<Batch> batches = new ArrayList<>();
                    try {
                        while (batches.size() < accumulation && loader.hasNext()) {
                            batches.add(loader.next());
                        }
                        Preconditions.checkState(batches.size() == accumulation, "the plan ended inside a global "
                                + "batch (%s of %s micro-batches)", batches.size(), accumulation);
                        results.add(tuner.step(batches.toArray(new Batch[0])));
                    } finally {
                        batches.forEach(Batch::close);
                    }
                    long step = tuner.completedSteps();
                    if (store != null && (step % checkpointEvery == 0 || step == totalSteps)) {
                        Path dir = save(step, (int) (step / perEpoch));
                        tuner.events().onCheckpoint(step, dir);
                    }
                    if (coordinator && validationEvery > 0 && (step % validationEvery == 0 || step == totalSteps)) {
                        double v = validate();
                        tuner.events().onValidation(step, v);
                    }
                    if (coordinator && videos != null && (step % videosEvery == 0 || step == totalSteps)) {
                        List<Path> files = validationVideos(step);
                        if (!files.isEmpty()) {
                            tuner.events().onValidationVideos(step, files);
                        }
                    }
                    if (step % 250 == 0) {
                        System.gc(); // docs/djl-engine.md §4: some native memory is released only on Java GC
                    }
                }
            }
        }
        tuner.events().onEnd(tuner.completedSteps());
        return results;
    }

    /**
     * This rank's micro-batches of the planned global batches, in order: positions {@code [r·b·a, (r+1)·b·a)} of
     * each, cut into {@code a} groups of {@code b}.
     */
    private Iterable<int[]> slices(List<BatchPlan> plan) {
        int perRank = microBatch * accumulation;
        int first = group.rank() * perRank;
        return () -> new java.util.Iterator<>() {
            private int batch;
            private int micro;

            @Override
            public boolean hasNext() {
                return batch < plan.size();
            }

            @Override
            public int[] next() {
                if (!hasNext()) {
                    throw new java.util.NoSuchElementException();
                }
                BatchPlan p = plan.get(batch);
                Preconditions.checkState(p.size() == globalBatchSize(), "planned batch %s has %s samples, expected "
                        + "the global batch of %s", p, p.size(), globalBatchSize());
                int[] indices = new int[microBatch];
                for (int i = 0; i < microBatch; i++) {
                    indices[i] = p.sampleIndex(first + micro * microBatch + i);
                }
                if (++micro == accumulation) {
                    micro = 0;
                    batch++;
                }
                return indices;
            }
        };
    }

    /** The held-out loss over the validation batches (loaded without prefetch, at fixed draws). */
    private double validate() {
        try (NDManager m = NDManager.newBaseManager(tuner.device());
                BatchLoader loader = new BatchLoader(validationBatches, source, m,
                        new LoaderOptions(1, BadSamplePolicy.FAIL, tuner.seed(), 0))) {
            List<Batch> batches = new ArrayList<>();
            try {
                while (loader.hasNext()) {
                    batches.add(loader.next());
                }
                double loss = tuner.validationLoss(batches);
                LOG.info("validation loss after step {}: {}", tuner.completedSteps(), loss);
                return loss;
            } finally {
                batches.forEach(Batch::close);
            }
        }
    }

    /**
     * Samples and writes the validation videos; a failure to write them is logged and training goes on (they are
     * diagnostics), returning no files.
     */
    private List<Path> validationVideos(long step) {
        try {
            return videos.run(step, outputDir);
        } catch (IOException e) {
            LOG.warn("validation videos of step {} could not be written; training goes on", step, e);
            return List.of();
        }
    }

    private Path save(long step, int epoch) throws IOException {
        // checkpoint tensors made from Java data go to the file through host memory: CPU, whatever the model's device
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            Optional<ShardedAdamW> sharded = tuner.shardedOptimizer();
            Map<String, NDArray> tensors = new LinkedHashMap<>();
            ObjectNode json = null;
            ObjectNode manifest = JSON.createObjectNode();
            long optimizerStep = tuner.optimizer().stepCount();
            if (group.isCoordinator()) {
                tensors.putAll(tuner.trainable());
                if (sharded.isEmpty()) {
                    OptimizerState state = tuner.optimizer().state();
                    state.moments().forEach((name, mom) -> {
                        Shape shape = new Shape(mom.shape());
                        tensors.put(SavedMoments.EXP_AVG + name, EngineArrays.create(m, mom.expAvg(), shape));
                        tensors.put(SavedMoments.EXP_AVG_SQ + name, EngineArrays.create(m, mom.expAvgSq(), shape));
                    });
                }
                json = JSON.createObjectNode();
                json.put("step", step);
                json.put("epoch", epoch);
                json.put("seed", tuner.seed());
                json.put("optimizer_step", optimizerStep);
                json.set("provenance", Provenance.current().toJson());
                if (config != null) {
                    json.set("config", config.deepCopy());
                }
                manifest.put("global_batch_size", globalBatchSize());
                manifest.put("batch_size", microBatch);
                manifest.put("gradient_accumulation", accumulation);
                manifest.putObject("optimizer").put("type", "adamw")
                        .put("sharding", sharded.isPresent() ? "zero1" : "replicated").put("step", optimizerStep);
                manifest.set("layout", tuner.layout().toJson());
            }
            Map<String, NDArray> shard = sharded.map(ShardedAdamW::shardTensors).orElse(Map.of());
            return store.save(group, step, tensors, json, shard, manifest);
        }
    }

    /** Restores the newest checkpoint, if any; returns the steps already completed. Collective. */
    private long restore() throws IOException {
        if (store == null) {
            return tuner.completedSteps();
        }
        // read on the CPU: the saved tensors are copied into the parameters and the optimizer through Java arrays
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            Optional<Checkpoint> latest = store.latest(m);
            agreeOnCheckpoint(latest.map(Checkpoint::step).orElse(-1L));
            if (latest.isEmpty()) {
                return tuner.completedSteps();
            }
            Checkpoint ck = latest.get();
            ObjectNode manifest = ck.manifest();
            checkGlobalBatch(ck);
            FlatLayout layout = tuner.layout();
            // 1. the trainable weights (rank 0 wrote them; every rank reads them)
            for (Map.Entry<String, NDArray> e : tuner.trainable().entrySet()) {
                NDArray saved = ck.tensors().get(e.getKey());
                if (saved == null || !saved.getShape().equals(e.getValue().getShape())) {
                    throw new CheckpointException(ck.dir() + ": no tensor " + e.getKey() + " of shape "
                            + e.getValue().getShape() + (saved == null ? "" : " (it has " + saved.getShape() + ")"));
                }
                try (NoGrad ignored = NoGrad.enter()) {
                    e.getValue().set(FloatBuffer.wrap(saved.toFloatArray()));
                }
            }
            // 2. the moments, from whichever form was saved, into whichever form this run keeps
            long optimizerStep = ck.state().get("optimizer_step").asLong();
            try (FlatMoments moments = savedMoments(ck, layout)) {
                Optional<ShardedAdamW> sharded = tuner.shardedOptimizer();
                if (sharded.isPresent()) {
                    sharded.get().load(moments);
                    tuner.optimizer().loadState(new OptimizerState(optimizerStep, Map.of()), tuner.device());
                } else {
                    Map<String, OptimizerState.Moments> byName = new LinkedHashMap<>();
                    if (optimizerStep > 0) {
                        for (int i = 0; i < layout.parameterCount(); i++) {
                            String name = layout.names().get(i);
                            int n = Math.toIntExact(layout.numel(i));
                            float[] avg = new float[n];
                            float[] sq = new float[n];
                            moments.read(false, layout.offset(i), avg, 0, n);
                            moments.read(true, layout.offset(i), sq, 0, n);
                            byName.put(name, new OptimizerState.Moments(
                                    tuner.trainable().get(name).getShape().getShape(), avg, sq));
                        }
                    }
                    tuner.optimizer().loadState(new OptimizerState(optimizerStep, byName), tuner.device());
                }
            }
            tuner.resumeAt(ck.step(), ck.state().get("epoch").asInt());
            int savedWorld = manifest.get("world_size").asInt();
            LOG.info("resumed from {} (step {}{})", ck.dir(), ck.step(), savedWorld == group.worldSize() ? ""
                    : ", written by " + savedWorld + " rank" + (savedWorld == 1 ? "" : "s") + ", now "
                            + group.worldSize());
            return ck.step();
        }
    }

    /** Every rank must resume from the same checkpoint (they share the folder); fails clearly when they do not. */
    private void agreeOnCheckpoint(long step) {
        int world = group.worldSize();
        if (world == 1) {
            return;
        }
        double[] steps = new double[world];
        steps[group.rank()] = step;
        group.allReduce(ProcessGroup.ReduceOp.SUM, steps);
        for (int r = 0; r < world; r++) {
            if (steps[r] != step) {
                throw new CheckpointException("rank " + group.rank() + " found " + describeStep(step) + " in "
                        + store.dir() + ", but rank " + r + " found " + describeStep((long) steps[r])
                        + ": every rank must see the same checkpoint folder (a shared file system)");
            }
        }
    }

    private static String describeStep(long step) {
        return step < 0 ? "no checkpoint" : "the checkpoint of step " + step;
    }

    /** The global batch is what makes the trajectory; a checkpoint continues only with the same one. */
    private void checkGlobalBatch(Checkpoint ck) {
        ObjectNode manifest = ck.manifest();
        if (!manifest.path("global_batch_size").canConvertToInt()) {
            throw new CheckpointException(ck.dir() + ": the manifest has no global_batch_size; it was not written"
                    + " by a training run");
        }
        int saved = manifest.get("global_batch_size").asInt();
        int world = group.worldSize();
        if (saved == globalBatchSize()) {
            return;
        }
        String was = "batch_size " + manifest.path("batch_size").asText("?") + " x gradient_accumulation "
                + manifest.path("gradient_accumulation").asText("?") + " x " + manifest.get("world_size").asInt()
                + " rank(s)";
        String hint;
        if (saved % world != 0) {
            hint = "a global batch of " + saved + " cannot be shared by " + world + " ranks; run on a number of ranks"
                    + " that divides " + saved;
        } else {
            int perRank = saved / world;
            List<String> options = new ArrayList<>();
            for (int b = perRank; b >= 1 && options.size() < 4; b--) {
                if (perRank % b == 0) {
                    options.add("batch_size=" + b + " gradient_accumulation=" + perRank / b);
                }
            }
            hint = "at " + world + " rank" + (world == 1 ? "" : "s") + " use batch_size x gradient_accumulation = "
                    + perRank + ", e.g. " + String.join(" or ", options);
        }
        throw new CheckpointException(ck.dir() + " was written with a global batch of " + saved + " (" + was
                + "), this run has " + globalBatchSize() + " (batch_size " + microBatch + " x gradient_accumulation "
                + accumulation + " x " + world + " rank" + (world == 1 ? "" : "s") + "); the global batch must stay "
                + "the same to continue the trajectory: " + hint);
    }

    /** The saved moments by flat position, replicated or sharded, checked against this run's parameters. */
    private FlatMoments savedMoments(Checkpoint ck, FlatLayout layout) {
        ObjectNode manifest = ck.manifest();
        String sharding = manifest.path("optimizer").path("sharding").asText("replicated");
        if (!sharding.equals("zero1")) {
            return SavedMoments.replicated(ck.tensors(), layout, ck.dir());
        }
        FlatLayout saved = FlatLayout.fromJson(manifest.get("layout"), ck.dir() + "/" + CheckpointStore.MANIFEST_FILE);
        if (!saved.names().equals(layout.names()) || !sameSizes(saved, layout)) {
            throw new CheckpointException(ck.dir() + ": the sharded optimizer state is of other parameters ("
                    + saved.parameterCount() + " parameters, " + saved.totalElements() + " elements; this run trains "
                    + layout.parameterCount() + ", " + layout.totalElements() + ")");
        }
        JsonNode files = manifest.get("shards");
        String[] byRank = new String[saved.worldSize()];
        for (int r = 0; r < byRank.length; r++) {
            JsonNode f = files == null ? null : files.get(r);
            byRank[r] = f == null || f.isNull() ? null : f.asText();
        }
        return SavedMoments.sharded(ck.dir(), saved, byRank);
    }

    private static boolean sameSizes(FlatLayout a, FlatLayout b) {
        for (int i = 0; i < a.parameterCount(); i++) {
            if (a.numel(i) != b.numel(i)) {
                return false;
            }
        }
        return true;
    }

    /** Builds a {@link TrainingRun}. */
    public static final class Builder {
        private final FineTuner tuner;
        private final BucketSampler sampler;
        private final SampleSource source;
        private long totalSteps = 100;
        private int accumulation = 1;
        private CheckpointStore store;
        private long checkpointEvery = 100;
        private Path outputDir;
        private ObjectNode config;
        private int prefetch = 2;
        private String description = "CogVideoX fine-tune";
        private List<int[]> validationBatches = List.of();
        private long validationEvery;
        private ValidationVideos videos;
        private long videosEvery;

        private Builder(FineTuner tuner, BucketSampler sampler, SampleSource source) {
            this.tuner = Preconditions.checkNotNull(tuner);
            this.sampler = Preconditions.checkNotNull(sampler);
            this.source = Preconditions.checkNotNull(source);
        }

        /**
         * @param steps the last step of the run
         * @return this builder
         */
        public Builder totalSteps(long steps) {
            Preconditions.checkArgument(steps > 0, "totalSteps must be positive, got %s", steps);
            this.totalSteps = steps;
            return this;
        }

        /**
         * @param microBatches micro-batches per optimizer step and rank (gradient accumulation); the per-rank
         *     micro-batch is the sampler's (global) batch size divided by {@code microBatches × world size}
         * @return this builder
         */
        public Builder gradientAccumulation(int microBatches) {
            Preconditions.checkArgument(microBatches > 0, "gradientAccumulation must be positive");
            this.accumulation = microBatches;
            return this;
        }

        /**
         * @param checkpoints where checkpoints go (and where the run resumes from); {@code null}: none
         * @param every save every this many steps (and at the last step)
         * @return this builder
         */
        public Builder checkpoints(CheckpointStore checkpoints, long every) {
            Preconditions.checkArgument(every > 0, "checkpoint interval must be positive");
            this.store = checkpoints;
            this.checkpointEvery = every;
            return this;
        }

        /**
         * @param dir the run's output folder (told to listeners)
         * @return this builder
         */
        public Builder outputDir(Path dir) {
            this.outputDir = dir;
            return this;
        }

        /**
         * @param runConfig the run's configuration, stored in every checkpoint
         * @return this builder
         */
        public Builder config(ObjectNode runConfig) {
            this.config = runConfig;
            return this;
        }

        /**
         * @param depth batches prefetched ahead of training
         * @return this builder
         */
        public Builder prefetch(int depth) {
            this.prefetch = depth;
            return this;
        }

        /**
         * @param text a one-line summary for listeners
         * @return this builder
         */
        public Builder description(String text) {
            this.description = text;
            return this;
        }

        /**
         * @param batches held-out batches (sample indices of the same source, one bucket each)
         * @param every compute the held-out loss every this many steps (and at the last step)
         * @return this builder
         */
        public Builder validation(List<int[]> batches, long every) {
            Preconditions.checkArgument(!batches.isEmpty() && every > 0, "validation needs batches and an interval");
            this.validationBatches = List.copyOf(batches);
            this.validationEvery = every;
            return this;
        }

        /**
         * Samples validation videos during the run: after every {@code every}-th step (and the last step) calls
         * {@link ValidationVideos#run(long, Path)} with the run's {@link #outputDir(Path) output folder} (required)
         * and tells the listeners {@link TrainingListener#onValidationVideos}. An I/O failure while writing them is
         * logged and does not stop training.
         *
         * @param validationVideos what to sample (its pipeline should wrap the transformer being trained)
         * @param every sample every this many steps (&gt; 0)
         * @return this builder
         */
        public Builder validationVideos(ValidationVideos validationVideos, long every) {
            Preconditions.checkArgument(every > 0, "validation video interval must be positive, got %s", every);
            this.videos = Preconditions.checkNotNull(validationVideos, "validationVideos");
            this.videosEvery = every;
            return this;
        }

        /**
         * @return the run
         * @throws IllegalStateException if validation videos are requested without an output folder
         */
        public TrainingRun build() {
            Preconditions.checkState(videos == null || outputDir != null,
                    "validation videos need the run's outputDir");
            int global = sampler.config().batchSize();
            int world = tuner.processGroup().worldSize();
            if (global % (accumulation * world) != 0) {
                throw new IllegalArgumentException("the sampler's batch size " + global + " is the global batch and "
                        + "must be a multiple of gradient accumulation x world size = " + accumulation + " x " + world);
            }
            if (accumulation * world > 1 && sampler.config().dropLast() != DropLastPolicy.DROP_PARTIAL) {
                throw new IllegalArgumentException("with gradient accumulation " + accumulation + " and " + world
                        + " rank(s) every global batch must be full: use DropLastPolicy.DROP_PARTIAL, not "
                        + sampler.config().dropLast());
            }
            return new TrainingRun(this);
        }
    }
}
