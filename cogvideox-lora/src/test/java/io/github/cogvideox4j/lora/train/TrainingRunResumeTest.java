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
import io.github.cogvideox4j.lora.LoraAdapter;
import io.github.cogvideox4j.lora.LoraConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A run stopped after a checkpoint and resumed in a fresh model and fine-tuner continues exactly. */
class TrainingRunResumeTest {
    private static final CogVideoXConfig CONFIG = CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_1_5_5B_I2V);
    private static final List<Bucket> BUCKETS = List.of(new Bucket(3, 8, 12), new Bucket(2, 8, 8),
            new Bucket(3, 12, 8));

    @TempDir
    Path tmp;

    /** Runs to {@code steps} with a checkpoint every 3 steps; returns the losses and the final LoRA weights. */
    private static Map<String, float[]> run(Path out, long steps, List<Double> losses) throws Exception {
        SyntheticLatentDataset data = new SyntheticLatentDataset(CONFIG, BUCKETS, 12, 3, 7);
        BucketSampler sampler = new BucketSampler(data.samples(), SamplerConfig.of(2, 7));
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(CONFIG, manager, 7);
                LoraAdapter lora = LoraAdapter.inject(model, LoraConfig.of(4, 8).withInitSeed(7));
                FineTuner tuner = FineTuner.builder(model,
                                new CogVideoXDpmScheduler(SchedulerConfig.released(SchedulerConfig.DPM_CLASS, 1.0)))
                        .lora(lora).optimizer(AdamW.builder().learningRate(1e-2).build()).seed(7)
                        .imageLatentDropout(0.3).captionDropout(0.2).build()) {
            for (StepResult r : TrainingRun.builder(tuner, sampler, data).totalSteps(steps)
                    .checkpoints(CheckpointStore.open(out, 3), 3).build().run()) {
                losses.add(r.loss());
            }
            Map<String, float[]> weights = new LinkedHashMap<>();
            lora.namedParameters().forEach((k, v) -> weights.put(k, v.toFloatArray()));
            return weights;
        }
    }

    @Test
    void aResumedRunProducesTheSameLossesAndWeightsAsAnUninterruptedOne() throws Exception {
        List<Double> straight = new ArrayList<>();
        Map<String, float[]> expected = run(tmp.resolve("straight"), 14, straight);

        List<Double> first = new ArrayList<>();
        run(tmp.resolve("resumed"), 9, first);                 // stops after the checkpoint of step 9
        List<Double> second = new ArrayList<>();
        Map<String, float[]> actual = run(tmp.resolve("resumed"), 14, second);   // a new process would do the same

        assertThat(first).hasSize(9);
        assertThat(second).hasSize(5);
        List<Double> resumed = new ArrayList<>(first);
        resumed.addAll(second);
        assertThat(resumed).containsExactlyElementsOf(straight);
        assertThat(actual.keySet()).containsExactlyElementsOf(expected.keySet());
        expected.forEach((k, v) -> assertThat(actual.get(k)).as(k).containsExactly(v));
    }
}
