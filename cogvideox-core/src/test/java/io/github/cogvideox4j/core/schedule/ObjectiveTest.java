package io.github.cogvideox4j.core.schedule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.config.CogVideoXVariant;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The objective on tiny random models: the v-MSE identity, the weights, gradients, ownership, bad input. */
class ObjectiveTest {
    private static final CogVideoXDpmScheduler SCHEDULER =
            new CogVideoXDpmScheduler(SchedulerConfig.released(SchedulerConfig.DPM_CLASS, 1.0));

    private static NDArray randn(NDManager m, SplittableRandom r, long... shape) {
        Shape s = new Shape(shape);
        float[] v = new float[Math.toIntExact(s.size())];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) r.nextGaussian();
        }
        return m.create(v, s);
    }

    private static TrainingInput input(NDManager m, long seed, long... timesteps) {
        SplittableRandom r = new SplittableRandom(seed);
        int b = timesteps.length;
        return TrainingInput.of(randn(m, r, b, 3, 4, 8, 12), randn(m, r, b, 8, 32),
                m.create(timesteps, new Shape(b)), randn(m, r, b, 3, 4, 8, 12));
    }

    @ParameterizedTest(name = "t = {0}, {1}")
    @CsvSource({"0, 999", "250, 750", "17, 503"})
    void lossEqualsThePlainVPredictionMse(long t0, long t1) {
        try (NDManager m = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(
                        CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_5B), m, 11)) {
            TrainingInput in = input(m, 5, t0, t1);
            try (ObjectiveResult r = CogVideoXObjective.of(SCHEDULER).evaluate(model, in)) {
                // independent check in double precision: v = sqrt(a) eps - sqrt(1 - a) x0, loss = mean_b mean (v_hat - v)^2
                float[] vHat = r.modelOutput().toFloatArray();
                float[] x0 = in.latents().toFloatArray();
                float[] eps = in.noise().toFloatArray();
                long[] t = {t0, t1};
                int per = vHat.length / 2;
                double total = 0;
                for (int b = 0; b < 2; b++) {
                    double a = SCHEDULER.alphaCumprod((int) t[b]);
                    double sum = 0;
                    for (int i = b * per; i < (b + 1) * per; i++) {
                        double v = Math.sqrt(a) * eps[i] - Math.sqrt(1 - a) * x0[i];
                        sum += (vHat[i] - v) * (vHat[i] - v);
                    }
                    total += sum / per;
                }
                double expected = total / 2;
                // x_t, x0_hat and sqrt(a) carry float32 rounding (~1e-7 absolute, as in the reference); the identity
                // divides x0_hat - x0 by sqrt(1 - a_t), so the relative bound is 1e-6 / sqrt(1 - a_t) at the smaller t
                double rel = 1e-6 / Math.sqrt(1 - SCHEDULER.alphaCumprod((int) Math.min(t0, t1)));
                assertThat(r.loss().getDouble()).isCloseTo(expected, within(rel * expected));
            }
        }
    }

    @ParameterizedTest(name = "snr_shift_scale {0}")
    @CsvSource({"1.0, 1176.5", "3.0, 392.8"})
    void weightsAreOneAtTheLastTimestepAndLargeAtTheFirst(double shift, double weightAtZero) {
        CogVideoXScheduler s = new CogVideoXDdimScheduler(SchedulerConfig.released(SchedulerConfig.DDIM_CLASS, shift));
        assertThat(s.lossWeight(999)).isEqualTo(1.0);
        assertThat(s.lossWeight(0)).isEqualTo(1.0 / (1.0 - s.alphaCumprod(0)));
        assertThat(s.lossWeight(0)).isCloseTo(weightAtZero, within(0.05));
    }

    @Test
    void gradientsReachEveryModelParameter() {
        try (NDManager m = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(
                        CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_5B), m, 3)) {
            model.setRequiresGradient(true);
            try (NDManager step = m.newSubManager()) {
                TrainingInput in = input(step, 9, 120, 860);
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    NDArray loss = CogVideoXObjective.of(SCHEDULER).loss(model, in);
                    assertThat(loss.getManager()).as("the loss lives in the caller's scope").isSameAs(step);
                    gc.backward(loss);
                }
                List<String> withoutGradient = new ArrayList<>();
                for (Map.Entry<String, NDArray> e : model.namedParameters().entrySet()) {
                    float[] g = e.getValue().getGradient().toFloatArray();
                    double norm = 0;
                    for (float x : g) {
                        assertThat(Float.isFinite(x)).as(e.getKey()).isTrue();
                        norm += x * x;
                    }
                    if (norm == 0) {
                        withoutGradient.add(e.getKey());
                    }
                }
                assertThat(withoutGradient).isEmpty();
            }
        }
    }

    @Test
    void lossAndBackwardWithCheckpointingLeavesTheSameGradientsAsLossThenBackward() {
        CogVideoXConfig config = CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_1_5_5B_I2V);
        Map<String, float[]> plain = new java.util.HashMap<>();
        double plainLoss;
        try (NDManager m = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(config, m, 3)) {
            TrainingInput in = i2v15Input(m);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray loss = CogVideoXObjective.of(SCHEDULER).loss(model, in);
                plainLoss = loss.getDouble();
                gc.backward(loss);
            }
            model.namedParameters().forEach((k, v) -> plain.put(k, v.getGradient().toFloatArray()));
        }
        try (NDManager m = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(config, m, 3)) {
            NDArray loss = CogVideoXObjective.of(SCHEDULER).lossAndBackward(model, i2v15Input(m));
            assertThat(loss.getManager()).isSameAs(m);
            assertThat(loss.getDouble()).isCloseTo(plainLoss, org.assertj.core.data.Offset.offset(1e-12));
            model.namedParameters().forEach((k, v) -> io.github.cogvideox4j.core.testing.Tolerance.assertCloseToMax(
                    "checkpointed grad " + k, v.getGradient().toFloatArray(), plain.get(k), 1e-6, 1e-9));
        }
    }

    /** A 1.5-I2V input with an odd latent frame count (the objective pads it) and first-frame image latents. */
    private static TrainingInput i2v15Input(NDManager m) {
        SplittableRandom r = new SplittableRandom(21);
        return TrainingInput.of(randn(m, r, 2, 3, 4, 8, 12), randn(m, r, 2, 8, 32),
                m.create(new long[] {40, 930}, new Shape(2)), randn(m, r, 2, 4, 4, 8, 12))
                .withImageLatents(randn(m, r, 2, 1, 4, 8, 12)).withOfs(m.create(new float[] {2f}));
    }

    @Test
    void trainsFiveBI2vAtAnUntrainedSizeOnlyWithTheSincosOptIn() {
        try (NDManager m = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(
                        CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_5B_I2V), m, 3)) {
            SplittableRandom r = new SplittableRandom(4);
            // the tiny 5b-I2V table covers 8x12 latents; 8x16 is a bucket it does not cover
            TrainingInput in = TrainingInput.of(randn(m, r, 1, 3, 4, 8, 16), randn(m, r, 1, 8, 32),
                    m.create(new long[] {500}, new Shape(1)), randn(m, r, 1, 3, 4, 8, 16))
                    .withImageLatents(randn(m, r, 1, 1, 4, 8, 16));
            assertThatThrownBy(() -> CogVideoXObjective.of(SCHEDULER).loss(model, in))
                    .hasMessageContaining("withSincosAtUntrainedSize");
            NDArray loss = CogVideoXObjective.of(SCHEDULER).loss(model, in.withSincosAtUntrainedSize());
            assertThat(Double.isFinite(loss.getDouble())).isTrue();
        }
    }

    @Test
    void refusesImageLatentsWhoseShapeDoesNotMatchTheLatents() {
        try (NDManager m = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(
                        CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_5B_I2V), m, 3)) {
            TrainingInput in = input(m, 1, 10, 20).withImageLatents(m.zeros(new Shape(2, 2, 4, 8, 12)));
            assertThatThrownBy(() -> CogVideoXObjective.of(SCHEDULER).loss(model, in))
                    .isInstanceOf(SchedulerException.class)
                    .hasMessageContaining("image latents must be [B, 1, C, h, w] = (2, 1, 4, 8, 12)")
                    .hasMessageContaining("got (2, 2, 4, 8, 12)");
        }
    }

    @Test
    void refusesAnImageToVideoModelWithoutImageLatents() {
        try (NDManager m = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(
                        CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_5B_I2V), m, 3)) {
            assertThatThrownBy(() -> CogVideoXObjective.of(SCHEDULER).loss(model, input(m, 1, 10, 20)))
                    .isInstanceOf(SchedulerException.class).hasMessageContaining("withImageLatents");
        }
    }

    @Test
    void refusesNoiseThatIsNotAtThePaddedFrameCount() {
        try (NDManager m = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(
                        CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_1_5_5B), m, 3)) {
            SplittableRandom r = new SplittableRandom(2);
            TrainingInput in = TrainingInput.of(randn(m, r, 1, 3, 4, 8, 12), randn(m, r, 1, 8, 32),
                    m.create(new long[] {5}), randn(m, r, 1, 3, 4, 8, 12));
            assertThatThrownBy(() -> CogVideoXObjective.of(SCHEDULER).loss(model, in))
                    .isInstanceOf(SchedulerException.class)
                    .hasMessageContaining("padded latent shape (1, 4, 4, 8, 12)")
                    .hasMessageContaining("prepended copy of frame 0");
        }
    }

    @Test
    void refusesTimestepsOutOfRange() {
        try (NDManager m = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(
                        CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_5B), m, 3)) {
            assertThatThrownBy(() -> CogVideoXObjective.of(SCHEDULER).loss(model, input(m, 1, 10, 1000)))
                    .isInstanceOf(SchedulerException.class).hasMessageContaining("timestep 1000 (index 1) out of "
                            + "range [0, 999]");
        }
    }

    @Test
    void refusesASchedulerThatIsNotVPrediction() {
        SchedulerConfig eps = new SchedulerConfig(null, 1000, 0.00085, 0.012, "scaled_linear", true, 0, "epsilon",
                "trailing", true, 1.0);
        assertThatThrownBy(() -> CogVideoXObjective.of(new CogVideoXDdimScheduler(eps)))
                .isInstanceOf(SchedulerException.class).hasMessageContaining("v_prediction");
    }
}
