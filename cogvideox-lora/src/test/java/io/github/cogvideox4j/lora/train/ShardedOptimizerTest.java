package io.github.cogvideox4j.lora.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.config.CogVideoXVariant;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.schedule.CogVideoXDpmScheduler;
import io.github.cogvideox4j.core.schedule.SchedulerConfig;
import io.github.cogvideox4j.data.Bucket;
import io.github.cogvideox4j.data.BucketSampler;
import io.github.cogvideox4j.data.SamplerConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The ZeRO-1 sharded AdamW state on one rank, where it must move exactly as the plain AdamW (the same element-wise
 * code on flat shards instead of whole tensors), and the checkpoint forms of both: a state saved in one form resumes
 * into the other and continues the same trajectory bit for bit. Clipping is off here (max grad norm 0), because the
 * sharded norm is summed in another order than the single-process clipper's; the golden replays cover clipping.
 */
class ShardedOptimizerTest {
    private static final CogVideoXConfig CONFIG = CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_1_5_5B_I2V);
    private static final List<Bucket> BUCKETS = List.of(new Bucket(3, 8, 12), new Bucket(2, 8, 8));
    /** Small buckets: many of them, and parameters that span two. */
    private static final long BUCKET = 1000;

    @TempDir
    Path tmp;

    /** A full fine-tune of the tiny model to {@code steps}, checkpoints every 3 steps in {@code out} if given. */
    private static Map<String, float[]> fullFineTune(boolean sharded, long steps, Path out, int globalBatch,
            List<Double> losses) throws Exception {
        SyntheticLatentDataset data = new SyntheticLatentDataset(CONFIG, BUCKETS, 8, 2, 5);
        BucketSampler sampler = new BucketSampler(data.samples(), SamplerConfig.of(globalBatch, 5));
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(CONFIG, manager, 5);
                FineTuner tuner = FineTuner.builder(model,
                                new CogVideoXDpmScheduler(SchedulerConfig.released(SchedulerConfig.DPM_CLASS, 1.0)))
                        .optimizer(AdamW.builder().learningRate(1e-3).betas(0.9, 0.95).weightDecay(1e-2).build())
                        .maxGradNorm(0).seed(5).shardOptimizerState(sharded).bucketElements(BUCKET).build()) {
            assertThat(tuner.shardedOptimizer().isPresent()).isEqualTo(sharded);
            TrainingRun.Builder run = TrainingRun.builder(tuner, sampler, data).totalSteps(steps).prefetch(1);
            if (out != null) {
                run.checkpoints(CheckpointStore.open(out, 5), 3);
            }
            for (StepResult r : run.build().run()) {
                losses.add(r.loss());
            }
            Map<String, float[]> weights = new LinkedHashMap<>();
            tuner.trainable().forEach((k, v) -> weights.put(k, v.toFloatArray()));
            return weights;
        }
    }

    private static void assertBitIdentical(Map<String, float[]> expected, Map<String, float[]> actual) {
        assertThat(actual.keySet()).containsExactlyElementsOf(expected.keySet());
        expected.forEach((k, v) -> assertThat(actual.get(k)).as(k).containsExactly(v));
    }

    @Test
    void theShardedStateOnOneRankMovesTheWeightsBitForBitAsAdamW() throws Exception {
        List<Double> plainLosses = new ArrayList<>();
        List<Double> shardedLosses = new ArrayList<>();
        Map<String, float[]> plain = fullFineTune(false, 4, null, 2, plainLosses);
        Map<String, float[]> sharded = fullFineTune(true, 4, null, 2, shardedLosses);
        assertThat(shardedLosses).containsExactlyElementsOf(plainLosses);
        assertBitIdentical(plain, sharded);
    }

    @Test
    void aShardedCheckpointResumesIntoAReplicatedStateOnTheSameTrajectory() throws Exception {
        Map<String, float[]> straight = fullFineTune(false, 6, null, 2, new ArrayList<>());
        Path out = tmp.resolve("sharded-then-replicated");
        fullFineTune(true, 3, out, 2, new ArrayList<>());
        assertThat(out.resolve(CheckpointStore.folderName(3)).resolve(CheckpointStore.shardFileName(0, 1)))
                .isRegularFile();
        assertBitIdentical(straight, fullFineTune(false, 6, out, 2, new ArrayList<>()));
    }

    @Test
    void aReplicatedCheckpointResumesIntoAShardedStateOnTheSameTrajectory() throws Exception {
        Map<String, float[]> straight = fullFineTune(false, 6, null, 2, new ArrayList<>());
        Path out = tmp.resolve("replicated-then-sharded");
        fullFineTune(false, 3, out, 2, new ArrayList<>());
        assertBitIdentical(straight, fullFineTune(true, 6, out, 2, new ArrayList<>()));
    }

    @Test
    void resumingWithAnotherGlobalBatchFailsSayingWhichSettingsGiveTheSavedOne() throws Exception {
        Path out = tmp.resolve("g2");
        fullFineTune(true, 3, out, 2, new ArrayList<>());
        assertThatThrownBy(() -> fullFineTune(true, 6, out, 4, new ArrayList<>()))
                .isInstanceOf(CheckpointException.class)
                .hasMessageContaining("written with a global batch of 2")
                .hasMessageContaining("this run has 4")
                .hasMessageContaining("batch_size=2 gradient_accumulation=1 or batch_size=1 gradient_accumulation=2");
    }
}
