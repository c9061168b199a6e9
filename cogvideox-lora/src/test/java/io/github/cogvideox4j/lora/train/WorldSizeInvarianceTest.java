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
import io.github.cogvideox4j.data.DropLastPolicy;
import io.github.cogvideox4j.data.SamplerConfig;
import io.github.cogvideox4j.lora.LoraAdapter;
import io.github.cogvideox4j.lora.LoraConfig;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One process: how a global batch is cut into micro-batches does not change the trajectory. A run at batch size 2
 * and a run at batch size 1 with two accumulated micro-batches see the same samples with the same draws (every draw
 * is keyed by the sample's position in the global batch) and end with the same weights up to float summation order.
 * (The two-rank leg of the parity runs in {@code DataParallelCliTest}.)
 */
class WorldSizeInvarianceTest {
    private static final Logger LOG = LoggerFactory.getLogger(WorldSizeInvarianceTest.class);
    private static final CogVideoXConfig CONFIG = CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_1_5_5B_I2V);
    private static final List<Bucket> BUCKETS = List.of(new Bucket(3, 8, 12), new Bucket(2, 8, 8));
    /**
     * Float summation order only: the batch-2 forward sums its GEMMs in another order than two batch-1 forwards, and
     * AdamW turns those ~1e-7 relative gradient differences into parameter differences of the same order (measured
     * 2.6e-7 over 6 steps; the bound leaves room for other CPUs' kernels).
     */
    private static final double SUMMATION_ORDER = 1e-6;

    /** Runs 6 LoRA steps with caption and image dropout on; returns the losses and the final weights. */
    private static Map<String, float[]> run(int microBatch, int accumulation, List<Double> losses) throws Exception {
        SyntheticLatentDataset data = new SyntheticLatentDataset(CONFIG, BUCKETS, 8, 2, 11);
        BucketSampler sampler = new BucketSampler(data.samples(), SamplerConfig.of(microBatch * accumulation, 11));
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(CONFIG, manager, 11);
                LoraAdapter lora = LoraAdapter.inject(model, LoraConfig.of(4, 8).withInitSeed(11));
                FineTuner tuner = FineTuner.builder(model,
                                new CogVideoXDpmScheduler(SchedulerConfig.released(SchedulerConfig.DPM_CLASS, 1.0)))
                        .lora(lora).optimizer(AdamW.builder().learningRate(1e-2).build()).seed(11)
                        .imageLatentDropout(0.3).captionDropout(0.3).build()) {
            TrainingRun run = TrainingRun.builder(tuner, sampler, data).totalSteps(6)
                    .gradientAccumulation(accumulation).prefetch(1).build();
            assertThat(run.microBatchSize()).isEqualTo(microBatch);
            for (StepResult r : run.run()) {
                losses.add(r.loss());
            }
            Map<String, float[]> weights = new LinkedHashMap<>();
            lora.namedParameters().forEach((k, v) -> weights.put(k, v.toFloatArray()));
            return weights;
        }
    }

    static double maxAbsDifference(Map<String, float[]> a, Map<String, float[]> b) {
        assertThat(b.keySet()).containsExactlyElementsOf(a.keySet());
        double max = 0;
        for (Map.Entry<String, float[]> e : a.entrySet()) {
            float[] x = e.getValue();
            float[] y = b.get(e.getKey());
            assertThat(y).as(e.getKey()).hasSameSizeAs(x);
            for (int i = 0; i < x.length; i++) {
                max = Math.max(max, Math.abs(x[i] - y[i]));
            }
        }
        return max;
    }

    @Test
    void aBatchOfTwoAndTwoAccumulatedMicroBatchesOfOneEndWithTheSameWeights() throws Exception {
        List<Double> whole = new ArrayList<>();
        List<Double> accumulated = new ArrayList<>();
        Map<String, float[]> a = run(2, 1, whole);
        Map<String, float[]> b = run(1, 2, accumulated);
        double maxDiff = maxAbsDifference(a, b);
        double maxLossRel = 0;
        for (int i = 0; i < whole.size(); i++) {
            maxLossRel = Math.max(maxLossRel, Math.abs(whole.get(i) - accumulated.get(i)) / whole.get(i));
        }
        LOG.info("batch 2 vs batch 1 x accumulation 2, 6 steps: max |weight difference| {}, max loss rel diff {}",
                maxDiff, maxLossRel);
        assertThat(accumulated).hasSize(6);
        assertThat(maxLossRel).isLessThan(1e-5);
        assertThat(maxDiff).isLessThanOrEqualTo(SUMMATION_ORDER);
    }

    @Test
    void aGlobalBatchThatTheAccumulationDoesNotDivideIsRefused() {
        SyntheticLatentDataset data = new SyntheticLatentDataset(CONFIG, BUCKETS, 8, 2, 11);
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(CONFIG, manager, 11);
                FineTuner tuner = FineTuner.builder(model,
                        new CogVideoXDpmScheduler(SchedulerConfig.released(SchedulerConfig.DPM_CLASS, 1.0))).build()) {
            assertThatThrownBy(() -> TrainingRun.builder(tuner, new BucketSampler(data.samples(),
                    SamplerConfig.of(3, 1)), data).gradientAccumulation(2).build())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("batch size 3 is the global batch");
            assertThatThrownBy(() -> TrainingRun.builder(tuner, new BucketSampler(data.samples(),
                    SamplerConfig.of(2, 1).withDropLast(DropLastPolicy.KEEP_PARTIAL)), data).gradientAccumulation(2)
                    .build()).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("DROP_PARTIAL");
        }
    }
}
