package io.github.cogvideox4j.core.schedule;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Scheduler behaviour without golden files: schedule numbers, config errors, timestep errors, noise handling. */
class SchedulerTest {
    private static final CogVideoXDpmScheduler DPM =
            new CogVideoXDpmScheduler(SchedulerConfig.released(SchedulerConfig.DPM_CLASS, 1.0));

    @Test
    void alphasCumprodMatchSpecReferenceValues() {
        double[] s1 = DPM.alphasCumprod();
        assertThat(s1[0]).isCloseTo(0.99915, within(5e-6));
        assertThat(s1[250]).isCloseTo(0.652457, within(5e-7));
        assertThat(s1[499]).isCloseTo(0.242359, within(5e-7));
        assertThat(s1[998]).isCloseTo(1.968e-7, within(5e-10));
        assertThat(s1[999]).isEqualTo(0.0);
        double[] s3 = new CogVideoXDdimScheduler(SchedulerConfig.released(SchedulerConfig.DDIM_CLASS, 3.0))
                .alphasCumprod();
        assertThat(s3[0]).isCloseTo(0.997454, within(5e-7));
        assertThat(s3[750]).isCloseTo(0.010839, within(5e-7));
        assertThat(s3[999]).isEqualTo(0.0);
    }

    @Test
    void theLastTrailingTimestepStepsToMinusOne() {
        // the values themselves are checked against the goldens (SchedulerGoldenTest)
        CogVideoXDpmScheduler s = DPM.withInferenceSteps(50);
        int[] t50 = s.timesteps();
        assertThat(t50).hasSize(50);
        assertThat(s.prevTimestep(t50[49])).isEqualTo(-1);
        assertThat(s.prevTimestep(t50[48])).isEqualTo(t50[49]);
    }

    @Test
    void refusesStepCountsForWhichTheReferenceYieldsATimestepOfMinusOne() {
        assertThatThrownBy(() -> DPM.withInferenceSteps(61)).isInstanceOf(SchedulerException.class)
                .hasMessageContaining("62 values, ending at timestep -1");
    }

    @Test
    void leadingAndLinspaceSpacingsFollowDiffusers() {
        SchedulerConfig leading = new SchedulerConfig(null, 1000, 0.00085, 0.012, "scaled_linear", true, 1,
                "v_prediction", "leading", true, 1.0);
        assertThat(new CogVideoXDdimScheduler(leading).withInferenceSteps(4).timesteps())
                .containsExactly(751, 501, 251, 1);
        SchedulerConfig linspace = new SchedulerConfig(null, 1000, 0.00085, 0.012, "scaled_linear", true, 0,
                "v_prediction", "linspace", true, 1.0);
        assertThat(new CogVideoXDdimScheduler(linspace).withInferenceSteps(4).timesteps())
                .containsExactly(999, 666, 333, 0);
    }

    @Test
    void refusesAnUnknownSchedulerType(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("scheduler_config.json");
        Files.writeString(file, "{\"_class_name\": \"EulerDiscreteScheduler\", \"prediction_type\": \"v_prediction\"}");
        assertThatThrownBy(() -> CogVideoXDpmScheduler.fromConfig(file)).isInstanceOf(SchedulerException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("unknown scheduler type _class_name = \"EulerDiscreteScheduler\"");
    }

    @Test
    void refusesAnUnknownPredictionType() {
        assertThatThrownBy(() -> SchedulerConfig.parse("{\"prediction_type\": \"flow\"}"))
                .isInstanceOf(SchedulerException.class).hasMessageContaining("unknown prediction_type \"flow\"");
    }

    @Test
    void refusesUnsupportedBetaSchedulesAndTrainedBetas() {
        assertThatThrownBy(() -> SchedulerConfig.parse("{\"beta_schedule\": \"linear\"}"))
                .isInstanceOf(SchedulerException.class).hasMessageContaining("beta_schedule \"linear\"");
        assertThatThrownBy(() -> SchedulerConfig.parse("{\"trained_betas\": [0.1, 0.2]}"))
                .isInstanceOf(SchedulerException.class).hasMessageContaining("trained_betas");
    }

    @Test
    void fromConfigDispatchesOnTheClassName(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("scheduler_config.json");
        Files.writeString(file, "{\"_class_name\": \"CogVideoXDPMScheduler\"}");
        assertThat(CogVideoXScheduler.fromConfig(file)).isInstanceOf(CogVideoXDpmScheduler.class);
        Files.writeString(file, "{\"_class_name\": \"CogVideoXDDIMScheduler\"}");
        assertThat(CogVideoXScheduler.fromConfig(file)).isInstanceOf(CogVideoXDdimScheduler.class);
        assertThat(CogVideoXDpmScheduler.fromConfig(file).config().className()).isEqualTo("CogVideoXDDIMScheduler");
    }

    @Test
    void refusesTimestepsOutOfRange() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.ones(new Shape(2, 3));
            assertThatThrownBy(() -> DPM.addNoise(x, x, m.create(new long[] {0, 1000})))
                    .isInstanceOf(SchedulerException.class).hasMessageContaining("timestep 1000 (index 1) out of range");
            assertThatThrownBy(() -> DPM.getVelocity(x, x, m.create(new long[] {-1, 3})))
                    .isInstanceOf(SchedulerException.class).hasMessageContaining("timestep -1 (index 0) out of range");
            assertThatThrownBy(() -> DPM.addNoise(x, x, m.create(new float[] {1f, 2f})))
                    .isInstanceOf(SchedulerException.class).hasMessageContaining("INT64");
            assertThatThrownBy(() -> DPM.withInferenceSteps(50).step(x, null, 1000, null, x, x))
                    .isInstanceOf(SchedulerException.class).hasMessageContaining("timestep 1000 out of range");
        }
    }

    @Test
    void refusesMismatchedShapes() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.ones(new Shape(2, 3));
            NDArray y = m.ones(new Shape(2, 4));
            assertThatThrownBy(() -> DPM.addNoise(x, y, m.create(new long[] {0, 1})))
                    .isInstanceOf(SchedulerException.class).hasMessageContaining("noise must have the shape");
            assertThatThrownBy(() -> DPM.addNoise(x, x, m.create(new long[] {0, 1, 2})))
                    .isInstanceOf(SchedulerException.class).hasMessageContaining("timesteps has 3 values");
        }
    }

    @Test
    void stepNeedsInferenceSteps() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.ones(new Shape(2, 3));
            assertThatThrownBy(() -> DPM.step(x, null, 999, null, x, x)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("withInferenceSteps");
        }
    }

    @Test
    void dpmNeedsNoiseExceptAtTheLastStepWhichReturnsTheCleanEstimate() {
        CogVideoXDpmScheduler s = DPM.withInferenceSteps(50);
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.randomNormal(new Shape(2, 3));
            NDArray v = m.randomNormal(new Shape(2, 3));
            assertThatThrownBy(() -> s.step(v, null, 999, null, x, (NDArray) null))
                    .isInstanceOf(SchedulerException.class).hasMessageContaining("needs noise");
            assertThat(s.noiseMultiplier(19)).isEqualTo(0.0);
            SchedulerStep last = s.step(v, x, 19, 39, x, (NDArray) null);
            assertThat(last.prevSample().toFloatArray()).containsExactly(last.predOriginalSample().toFloatArray());
        }
    }

    @Test
    void firstStepPredictsX0ThenRenoisesWithoutNaN() {
        CogVideoXDpmScheduler s = DPM.withInferenceSteps(50);
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.randomNormal(new Shape(2, 3));
            NDArray v = m.randomNormal(new Shape(2, 3));
            NDArray z = m.randomNormal(new Shape(2, 3));
            SchedulerStep out = s.step(v, null, 999, null, x, z);
            // alpha_bar_999 = 0: x0_hat = -v, x_prev = sqrt(a_prev) x0_hat + sqrt(1 - a_prev) z
            double ap = s.alphaCumprod(979);
            float[] vv = v.toFloatArray();
            float[] zz = z.toFloatArray();
            float[] prev = out.prevSample().toFloatArray();
            for (int i = 0; i < prev.length; i++) {
                assertThat(out.predOriginalSample().toFloatArray()[i]).isEqualTo(-vv[i]);
                assertThat((double) prev[i]).isCloseTo(-Math.sqrt(ap) * vv[i] + Math.sqrt(1 - ap) * zz[i],
                        within(1e-6));
            }
        }
    }

    @Test
    void seededDpmStepDrawsLikeTheReferenceAndUsesTheSecondDrawOnSecondOrderSteps() {
        CogVideoXDpmScheduler s = DPM.withInferenceSteps(50);
        try (NDManager m = NDManager.newBaseManager()) {
            Shape shape = new Shape(2, 3);
            NDArray x = m.randomNormal(shape);
            NDArray v = m.randomNormal(shape);
            NDArray old = m.randomNormal(shape);
            SplittableRandom expectedDraws = new SplittableRandom(8);
            CogVideoXDpmScheduler.gaussian(m, shape, x.getDataType(), expectedDraws);        // drawn, discarded
            NDArray used = CogVideoXDpmScheduler.gaussian(m, shape, x.getDataType(), expectedDraws);
            SchedulerStep seeded = s.step(v, old, 959, 979, x, new SplittableRandom(8));
            SchedulerStep injected = s.step(v, old, 959, 979, x, used);
            assertThat(seeded.prevSample().toFloatArray()).containsExactly(injected.prevSample().toFloatArray());
        }
    }
}
