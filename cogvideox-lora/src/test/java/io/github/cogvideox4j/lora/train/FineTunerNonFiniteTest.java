package io.github.cogvideox4j.lora.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.config.CogVideoXVariant;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.schedule.CogVideoXDpmScheduler;
import io.github.cogvideox4j.core.schedule.SchedulerConfig;
import io.github.cogvideox4j.core.schedule.TrainingInput;
import io.github.cogvideox4j.lora.LoraAdapter;
import io.github.cogvideox4j.lora.LoraConfig;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** A NaN in a batch is caught at its step: the weights are untouched, the step and its samples are reported. */
class FineTunerNonFiniteTest {
    @ParameterizedTest
    @EnumSource(FineTuner.NonFinitePolicy.class)
    void aNonFiniteLossNeverReachesTheWeights(FineTuner.NonFinitePolicy policy) {
        CogVideoXConfig config = CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_5B);
        try (NDManager m = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(config, m, 1);
                LoraAdapter lora = LoraAdapter.inject(model, LoraConfig.of(4, 4));
                FineTuner tuner = FineTuner.builder(model,
                                new CogVideoXDpmScheduler(SchedulerConfig.released(SchedulerConfig.DPM_CLASS, 1.0)))
                        .lora(lora).nonFinite(policy).build()) {
            Map<String, float[]> before = new LinkedHashMap<>();
            tuner.trainable().forEach((k, v) -> before.put(k, v.toFloatArray()));
            float[] x = new float[2 * 2 * 4 * 8 * 12];
            x[17] = Float.NaN;
            Shape shape = new Shape(2, 2, 4, 8, 12);
            TrainingInput in = TrainingInput.of(EngineArrays.create(m, x, shape), m.randomNormal(new Shape(2, 8, 32)),
                    EngineArrays.create(m, new long[] {10, 20}, new Shape(2)), m.randomNormal(shape));
            List<String> samples = List.of("clip_a.mp4", "clip_b.mp4");
            if (policy == FineTuner.NonFinitePolicy.STOP) {
                assertThatThrownBy(() -> tuner.step(List.of(in), "2x8x12", samples))
                        .isInstanceOfSatisfying(NonFiniteException.class, e -> {
                            assertThat(e.step()).isEqualTo(1);
                            assertThat(e.samples()).containsExactlyElementsOf(samples);
                            assertThat(e.getMessage()).contains("step 1", "clip_a.mp4", "NaN");
                        });
            } else {
                StepResult r = tuner.step(List.of(in), "2x8x12", samples);
                assertThat(r.skipped()).isTrue();
                assertThat(r.loss()).isNaN();
            }
            tuner.trainable().forEach((k, v) -> assertThat(v.toFloatArray()).as(k).containsExactly(before.get(k)));
            // and the gradients are clean for the next step
            tuner.trainable().values().forEach(p -> {
                NDArray g = p.getGradient();
                assertThat(Arrays.stream(toDoubles(g.toFloatArray())).allMatch(d -> d == 0)).isTrue();
                g.close();
            });
        }
    }

    private static double[] toDoubles(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }
}
