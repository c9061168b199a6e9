package io.github.cogvideox4j.lora.train;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.config.CogVideoXVariant;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.schedule.CogVideoXDpmScheduler;
import io.github.cogvideox4j.core.schedule.SchedulerConfig;
import io.github.cogvideox4j.data.Bucket;
import io.github.cogvideox4j.data.BucketSampler;
import io.github.cogvideox4j.data.SamplerConfig;
import io.github.cogvideox4j.data.loader.Batch;
import io.github.cogvideox4j.data.loader.BatchLoader;
import io.github.cogvideox4j.data.loader.LoaderOptions;
import io.github.cogvideox4j.lora.LoraAdapter;
import io.github.cogvideox4j.lora.LoraConfig;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Training steps leave no native array behind: after a step only what the run owns remains — the model, the adapter,
 * the caller's batches and the AdamW moments (two per trainable parameter, created at the first step). Arrays are
 * counted over every manager of the engine (each base manager hangs under the engine's system manager), so arrays a
 * step left in the fine-tuner's, the optimizer's or the batches' managers are all seen. The tiny 1.5-I2V model with
 * caption and image-latent dropout on exercises every branch of the step's input building.
 */
class TrainingArrayLeakTest {
    private static final CogVideoXConfig CONFIG = CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_1_5_5B_I2V);
    private static final List<Bucket> BUCKETS = List.of(new Bucket(3, 8, 12));

    /** @return the number of arrays attached to any manager of the engine */
    private static int liveArrays() {
        try (NDManager probe = NDManager.newBaseManager()) {
            return probe.getParentManager().getManagedArrays().size();
        }
    }

    private static CogVideoXDpmScheduler scheduler() {
        return new CogVideoXDpmScheduler(SchedulerConfig.released(SchedulerConfig.DPM_CLASS, 1.0));
    }

    /** Loads every batch of the plan and lets the loader thread end, so that nothing allocates while counting. */
    private static List<Batch> load(SyntheticLatentDataset data, NDManager parent, int count) {
        List<int[]> plan = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            plan.add(new int[] {2 * i, 2 * i + 1});
        }
        List<Batch> batches = new ArrayList<>();
        try (BatchLoader loader = new BatchLoader(plan, data, parent, LoaderOptions.defaults())) {
            loader.forEachRemaining(batches::add);
        }
        return batches;
    }

    @ParameterizedTest(name = "lora={0} checkpointing={1}")
    @CsvSource({"true, false", "true, true", "false, false", "false, true"})
    void aStepLeavesOnlyTheOptimizerMomentsBehind(boolean lora, boolean checkpointing) {
        SyntheticLatentDataset data = new SyntheticLatentDataset(CONFIG, BUCKETS, 6, 2, 5);
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(CONFIG, manager, 5);
                LoraAdapter adapter = lora ? LoraAdapter.inject(model, LoraConfig.of(4, 8).withInitSeed(5)) : null;
                NDManager batchManager = manager.newSubManager()) {
            List<Batch> batches = load(data, batchManager, 3);
            try (FineTuner tuner = FineTuner.builder(model, scheduler()).lora(adapter)
                    .gradientCheckpointing(checkpointing).imageLatentDropout(0.5).captionDropout(0.5).seed(5)
                    .build()) {
                int moments = 2 * tuner.trainable().size();
                int beforeFirstStep = liveArrays();
                tuner.step(batches.get(0));
                assertThat(liveArrays() - beforeFirstStep).as("arrays added by the first step")
                        .isEqualTo(moments);
                int afterFirstStep = liveArrays();
                tuner.step(batches.get(1));
                tuner.step(batches.get(2), batches.get(0));                 // gradient accumulation
                assertThat(liveArrays()).as("arrays after two more steps").isEqualTo(afterFirstStep);
                assertThat(tuner.completedSteps()).isEqualTo(3);
            } finally {
                batches.forEach(Batch::close);
            }
        }
    }

    @Test
    void aTrainingRunLeavesOnlyTheOptimizerMomentsBehind() throws Exception {
        SyntheticLatentDataset data = new SyntheticLatentDataset(CONFIG, BUCKETS, 8, 2, 7);
        BucketSampler sampler = new BucketSampler(data.samples(), SamplerConfig.of(2, 7));
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(CONFIG, manager, 7);
                LoraAdapter adapter = LoraAdapter.inject(model, LoraConfig.of(4, 8).withInitSeed(7));
                FineTuner tuner = FineTuner.builder(model, scheduler()).lora(adapter).captionDropout(0.5)
                        .imageLatentDropout(0.5).seed(7).build()) {
            int before = liveArrays();
            List<StepResult> steps = TrainingRun.builder(tuner, sampler, data).totalSteps(3).build().run();
            assertThat(steps).hasSize(3);
            assertThat(liveArrays() - before).as("arrays added by a 3-step run")
                    .isEqualTo(2 * tuner.trainable().size());
        }
    }
}
