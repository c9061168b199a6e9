package io.github.cogvideox4j.lora.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.common.base.Preconditions;
import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.data.BatchPlan;
import io.github.cogvideox4j.data.BucketSampler;
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
 * {@link BatchLoader}, calls {@link FineTuner#step(Batch...)}, writes checkpoints and tells the listeners. A run
 * resumes from the newest checkpoint in its store: the trainable weights, the AdamW moments and step, and the step
 * counter are restored, and because the sampler, the loader seeds and the step streams are functions of (seed, epoch,
 * step), the resumed run continues exactly as the uninterrupted one would have.
 *
 * <p>Checkpoint layout: tensors under the trainable names, plus {@code adam.exp_avg.<name>} and
 * {@code adam.exp_avg_sq.<name>}; state JSON {@code step}, {@code epoch}, {@code seed}, {@code optimizer_step},
 * {@code provenance} and the caller's {@code config}.
 *
 * <p>Thread safety: not thread-safe; one run per thread.
 */
public final class TrainingRun {
    private static final Logger LOG = LoggerFactory.getLogger(TrainingRun.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final FineTuner tuner;
    private final BucketSampler sampler;
    private final SampleSource source;
    private final long totalSteps;
    private final int accumulation;
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
        this.sampler = b.sampler;
        this.source = b.source;
        this.totalSteps = b.totalSteps;
        this.accumulation = b.accumulation;
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
     * @param tuner the fine-tuner (model, trainable parameters, optimizer, listeners)
     * @param sampler the bucketed batch plan
     * @param source loads a sample by index
     * @return a builder
     */
    public static Builder builder(FineTuner tuner, BucketSampler sampler, SampleSource source) {
        return new Builder(tuner, sampler, source);
    }

    /**
     * Runs (or resumes) until {@code totalSteps}.
     *
     * @return the results of the steps this call ran
     * @throws IOException if a checkpoint cannot be read or written (the previous one stays intact)
     */
    public List<StepResult> run() throws IOException {
        List<StepResult> results = new ArrayList<>();
        long done = restore();
        int perEpoch = sampler.stepsPerEpoch();
        Preconditions.checkState(perEpoch > 0, "the sampler yields no batch (%s)", sampler.report());
        for (TrainingListener l : tuner.listeners()) {
            safe(() -> l.onStart(new TrainingStart(done + 1, totalSteps, outputDir, description)));
        }
        long micro = done * accumulation;                 // micro-batches consumed so far
        while (tuner.completedSteps() < totalSteps) {
            int epoch = (int) (micro / perEpoch);
            int position = (int) (micro % perEpoch);
            tuner.setEpoch(epoch);
            List<BatchPlan> plan = sampler.resume(epoch, position);
            List<int[]> indices = new ArrayList<>(plan.size());
            plan.forEach(p -> indices.add(p.sampleIndices()));
            LoaderOptions options = new LoaderOptions(prefetch, BadSamplePolicy.FAIL, tuner.seed(),
                    (long) epoch * perEpoch + position);
            try (NDManager loaderManager = NDManager.newBaseManager();
                    BatchLoader loader = new BatchLoader(indices, source, loaderManager, options)) {
                while (tuner.completedSteps() < totalSteps && loader.hasNext()) {
                    List<Batch> batches = new ArrayList<>();
                    try {
                        while (batches.size() < accumulation && loader.hasNext()) {
                            batches.add(loader.next());
                        }
                        micro += batches.size();
                        results.add(tuner.step(batches.toArray(new Batch[0])));
                    } finally {
                        batches.forEach(Batch::close);
                    }
                    long step = tuner.completedSteps();
                    if (store != null && (step % checkpointEvery == 0 || step == totalSteps)) {
                        Path dir = save(step, (int) (micro / perEpoch));
                        for (TrainingListener l : tuner.listeners()) {
                            safe(() -> l.onCheckpoint(step, dir));
                        }
                    }
                    if (validationEvery > 0 && (step % validationEvery == 0 || step == totalSteps)) {
                        double v = validate();
                        for (TrainingListener l : tuner.listeners()) {
                            safe(() -> l.onValidation(step, v));
                        }
                    }
                    if (videos != null && (step % videosEvery == 0 || step == totalSteps)) {
                        List<Path> files = validationVideos(step);
                        if (!files.isEmpty()) {
                            for (TrainingListener l : tuner.listeners()) {
                                safe(() -> l.onValidationVideos(step, files));
                            }
                        }
                    }
                    if (step % 250 == 0) {
                        System.gc(); // DJL-NOTES 5: some native memory is released only on Java GC
                    }
                }
            }
        }
        for (TrainingListener l : tuner.listeners()) {
            safe(() -> l.onEnd(tuner.completedSteps()));
        }
        return results;
    }

    /** The held-out loss over the validation batches (loaded without prefetch, at fixed draws). */
    private double validate() {
        try (NDManager m = NDManager.newBaseManager();
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
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> tensors = new LinkedHashMap<>(tuner.trainable());
            OptimizerState state = tuner.optimizer().state();
            state.moments().forEach((name, mom) -> {
                Shape shape = new Shape(mom.shape());
                tensors.put("adam.exp_avg." + name, EngineArrays.create(m, mom.expAvg(), shape));
                tensors.put("adam.exp_avg_sq." + name, EngineArrays.create(m, mom.expAvgSq(), shape));
            });
            ObjectNode json = JSON.createObjectNode();
            json.put("step", step);
            json.put("epoch", epoch);
            json.put("seed", tuner.seed());
            json.put("optimizer_step", state.step());
            json.set("provenance", Provenance.current().toJson());
            if (config != null) {
                json.set("config", config.deepCopy());
            }
            return store.save(step, tensors, json);
        }
    }

    /** Restores the newest checkpoint, if any; returns the steps already completed. */
    private long restore() throws IOException {
        if (store == null) {
            return tuner.completedSteps();
        }
        try (NDManager m = NDManager.newBaseManager()) {
            Optional<Checkpoint> latest = store.latest(m);
            if (latest.isEmpty()) {
                return tuner.completedSteps();
            }
            Checkpoint ck = latest.get();
            Map<String, OptimizerState.Moments> moments = new LinkedHashMap<>();
            for (Map.Entry<String, NDArray> e : tuner.trainable().entrySet()) {
                NDArray saved = ck.tensors().get(e.getKey());
                Preconditions.checkState(saved != null && saved.getShape().equals(e.getValue().getShape()),
                        "checkpoint %s has no tensor %s of shape %s", ck.dir(), e.getKey(), e.getValue().getShape());
                try (NoGrad ignored = NoGrad.enter()) {
                    e.getValue().set(FloatBuffer.wrap(saved.toFloatArray()));
                }
                NDArray avg = ck.tensors().get("adam.exp_avg." + e.getKey());
                NDArray sq = ck.tensors().get("adam.exp_avg_sq." + e.getKey());
                if (avg != null && sq != null) {
                    moments.put(e.getKey(), new OptimizerState.Moments(saved.getShape().getShape(),
                            avg.toFloatArray(), sq.toFloatArray()));
                }
            }
            tuner.optimizer().loadState(new OptimizerState(ck.state().get("optimizer_step").asLong(), moments));
            tuner.resumeAt(ck.step(), ck.state().get("epoch").asInt());
            LOG.info("resumed from {} (step {})", ck.dir(), ck.step());
            return ck.step();
        }
    }

    private static void safe(Runnable r) {
        try {
            r.run();
        } catch (RuntimeException e) {
            LOG.warn("listener failed", e);
        }
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
         * @param microBatches micro-batches per optimizer step (gradient accumulation)
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
            return new TrainingRun(this);
        }
    }
}
