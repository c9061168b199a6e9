package io.github.cogvideox4j.core.schedule;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.io.TensorSource;
import io.github.cogvideox4j.core.testing.Golden;
import io.github.cogvideox4j.core.testing.TestDevice;
import io.github.cogvideox4j.core.testing.Tolerance;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Iterator;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every file in {@code golden/scheduler} ({ddim,dpm}_{2b,5b}): float64 tables rtol 1e-12, timesteps exact, float32
 * results atol 1e-6 (add_noise, get_velocity, the step windows; DPM with the stored noise draws). The step count,
 * the windows' schedule indices, timesteps and DPM branches are read from each file's JSON description.
 */
class SchedulerGoldenTest {
    private static final Logger LOG = LoggerFactory.getLogger(SchedulerGoldenTest.class);
    private static final double ATOL = 1e-6;

    private static CogVideoXScheduler load(String name) throws Exception {
        Path config = Golden.path("scheduler", name + "_config", "scheduler_config.json");
        return name.startsWith("dpm") ? CogVideoXDpmScheduler.fromConfig(config)
                : CogVideoXDdimScheduler.fromConfig(config);
    }

    /** @return the JSON description of a golden file: step count, windows (schedule index, timestep, branch) */
    private static JsonNode description(String name) throws IOException {
        return new ObjectMapper().readTree(Golden.path("scheduler", name + ".json").toFile());
    }

    private static int inferenceSteps(JsonNode description) {
        return description.get("num_inference_steps").asInt();
    }

    private static TensorSource golden(String name) throws Exception {
        return SafetensorsReader.open(Golden.path("scheduler", name + ".safetensors"));
    }

    private static double[] doubles(TensorSource src, String key) {
        try (NDManager m = NDManager.newBaseManager(TestDevice.get())) {
            return src.read(key, m).toDoubleArray();
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"ddim_2b", "ddim_5b", "dpm_2b", "dpm_5b"})
    void float64TablesMatchToRelative1e12(String name) throws Exception {
        CogVideoXScheduler s = load(name);
        try (TensorSource g = golden(name)) {
            double worst = Math.max(maxRel(s.betas(), doubles(g, "betas")),
                    maxRel(s.alphasCumprod(), doubles(g, "alphas_cumprod")));
            assertThat(worst).as("%s max relative error of betas/alphas_cumprod", name).isLessThanOrEqualTo(1e-12);
            assertThat(s.alphasCumprod()[999]).isEqualTo(0.0);
            assertThat(s.finalAlphaCumprod()).isEqualTo(doubles(g, "final_alpha_cumprod")[0]);
            LOG.info("{}: tables max rel err {}", name, worst);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"ddim_2b", "ddim_5b", "dpm_2b", "dpm_5b"})
    void trailingTimestepsAreExact(String name) throws Exception {
        int steps = inferenceSteps(description(name));
        CogVideoXScheduler s = load(name).withInferenceSteps(steps);
        try (TensorSource g = golden(name); NDManager m = NDManager.newBaseManager(TestDevice.get())) {
            long[] expected = g.read("timesteps_" + steps, m).toLongArray();
            assertThat(Arrays.stream(s.timesteps()).asLongStream().toArray()).containsExactly(expected);
        }
    }

    @org.junit.jupiter.api.Test
    void thePipelinesSchedulerGivesTheTimestepsOfTheRecordedRun() throws Exception {
        Path dir = Golden.path("pipeline", "t2v_5b");
        JsonNode run = new ObjectMapper().readTree(dir.resolve("run.json").toFile());
        CogVideoXScheduler s = CogVideoXScheduler.fromConfig(dir.resolve("model/scheduler/scheduler_config.json"))
                .withInferenceSteps(run.get("call").get("num_inference_steps").asInt());
        int[] expected = new int[run.get("timesteps").size()];
        for (int i = 0; i < expected.length; i++) {
            expected[i] = run.get("timesteps").get(i).asInt();
        }
        assertThat(s.timesteps()).containsExactly(expected);
    }

    @ParameterizedTest
    @ValueSource(strings = {"ddim_2b", "ddim_5b", "dpm_2b", "dpm_5b"})
    void addNoiseGetVelocityAndScaleModelInputMatch(String name) throws Exception {
        CogVideoXScheduler s = load(name);
        try (TensorSource g = golden(name); NDManager m = NDManager.newBaseManager(TestDevice.get())) {
            NDArray noisy = s.addNoise(g.read("add_noise.original_samples", m), g.read("add_noise.noise", m),
                    g.read("add_noise.timesteps", m));
            double e1 = Tolerance.assertClose(name + " add_noise", noisy.toFloatArray(),
                    g.readFloats("add_noise.noisy_samples"), ATOL, 0);
            NDArray v = s.getVelocity(g.read("get_velocity.sample", m), g.read("get_velocity.noise", m),
                    g.read("get_velocity.timesteps", m));
            double e2 = Tolerance.assertClose(name + " get_velocity", v.toFloatArray(),
                    g.readFloats("get_velocity.velocity"), ATOL, 0);
            NDArray x = g.read("add_noise.original_samples", m);
            assertThat(s.scaleModelInput(x, 999).toFloatArray()).containsExactly(g.readFloats("scale_model_input.out"));
            LOG.info("{}: add_noise max err {}, get_velocity max err {}", name, e1, e2);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"ddim_2b", "ddim_5b"})
    void ddimWindowsMatch(String name) throws Exception {
        JsonNode description = description(name);
        CogVideoXDdimScheduler s = ((CogVideoXDdimScheduler) load(name)).withInferenceSteps(
                inferenceSteps(description));
        int[] ts = s.timesteps();
        double worst = 0;
        try (TensorSource g = golden(name); NDManager m = NDManager.newBaseManager(TestDevice.get())) {
            for (Iterator<Map.Entry<String, JsonNode>> it = description.get("windows").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> window = it.next();
                String w = window.getKey();
                NDArray sample = g.read(w + ".sample_in", m);
                for (int k = 0; k < window.getValue().size(); k++) {
                    String p = w + "." + k + ".";
                    int t = timestepAt(name, ts, window.getValue().get(k), p);
                    SchedulerStep out = s.step(g.read(p + "model_output", m), t, sample);
                    worst = Math.max(worst, Tolerance.assertClose(name + " " + p + "pred_original_sample",
                            out.predOriginalSample().toFloatArray(), g.readFloats(p + "pred_original_sample"), ATOL,
                            0));
                    worst = Math.max(worst, Tolerance.assertClose(name + " " + p + "prev_sample",
                            out.prevSample().toFloatArray(), g.readFloats(p + "prev_sample"), ATOL, 0));
                    sample = out.prevSample();
                }
            }
        }
        LOG.info("{}: step windows max err {}", name, worst);
    }

    @ParameterizedTest
    @ValueSource(strings = {"dpm_2b", "dpm_5b"})
    void dpmWindowsMatchWithTheStoredNoiseDraws(String name) throws Exception {
        JsonNode description = description(name);
        CogVideoXDpmScheduler s = ((CogVideoXDpmScheduler) load(name)).withInferenceSteps(
                inferenceSteps(description));
        int[] ts = s.timesteps();
        double worst = 0;
        try (TensorSource g = golden(name); NDManager m = NDManager.newBaseManager(TestDevice.get())) {
            for (Iterator<Map.Entry<String, JsonNode>> it = description.get("windows").fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> window = it.next();
                String w = window.getKey();
                NDArray sample = g.read(w + ".sample_in", m);
                NDArray old = g.contains(w + ".old_pred_original_sample_in")
                        ? g.read(w + ".old_pred_original_sample_in", m) : null;
                for (int k = 0; k < window.getValue().size(); k++) {
                    String p = w + "." + k + ".";
                    JsonNode step = window.getValue().get(k);
                    int t = timestepAt(name, ts, step, p);
                    int i = step.get("i").asInt();
                    Integer back = i > 0 ? ts[i - 1] : null;
                    JsonNode refBack = step.get("timestep_back");
                    assertThat(back).as("%s %stimestep_back", name, p)
                            .isEqualTo(refBack.isNull() ? null : refBack.asInt());
                    boolean second = s.isSecondOrder(t, old != null);
                    assertThat(second).as("%s %s second order (%s)", name, p, step.get("branch").asText())
                            .isEqualTo(step.get("branch").asText().startsWith("2nd-order"));
                    NDArray noise = g.read(p + (second ? "noise_draw2" : "noise_draw1"), m);
                    SchedulerStep out = s.step(g.read(p + "model_output", m), old, t, back, sample, noise);
                    float[] prev = out.prevSample().toFloatArray();
                    for (float x : prev) {
                        assertThat(Float.isFinite(x)).as("%s finite", p).isTrue();
                    }
                    worst = Math.max(worst, Tolerance.assertClose(name + " " + p + "pred_original_sample",
                            out.predOriginalSample().toFloatArray(), g.readFloats(p + "pred_original_sample"), ATOL,
                            0));
                    worst = Math.max(worst, Tolerance.assertClose(name + " " + p + "prev_sample", prev,
                            g.readFloats(p + "prev_sample"), ATOL, 0));
                    sample = out.prevSample();
                    old = out.predOriginalSample();
                }
            }
        }
        LOG.info("{}: step windows max err {}", name, worst);
    }

    /** The timestep of a window step: the schedule's value at the step's index, which must be the recorded one. */
    private static int timestepAt(String name, int[] timesteps, JsonNode step, String what) {
        int t = timesteps[step.get("i").asInt()];
        assertThat(t).as("%s %stimestep (schedule index %s)", name, what, step.get("i").asInt())
                .isEqualTo(step.get("timestep").asInt());
        return t;
    }

    private static double maxRel(double[] actual, double[] expected) {
        assertThat(actual).hasSameSizeAs(expected);
        double worst = 0;
        for (int i = 0; i < actual.length; i++) {
            double d = Math.abs(actual[i] - expected[i]);
            worst = Math.max(worst, expected[i] == 0 ? d : d / Math.abs(expected[i]));
        }
        return worst;
    }
}
