package io.github.cogvideox4j.core.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.io.TensorSource;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.schedule.CogVideoXDpmScheduler;
import io.github.cogvideox4j.core.schedule.CogVideoXScheduler;
import io.github.cogvideox4j.core.testing.Golden;
import io.github.cogvideox4j.core.testing.TestDevice;
import io.github.cogvideox4j.core.testing.Tolerance;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The recorded text-to-video run {@code golden/pipeline/t2v_5b}: from the stored prompt embeddings and the injected
 * noise draws, every step's transformer input, output, guided output, x0 estimate and latents, and the final
 * latents, at run.json's per-tensor tolerances ({@code |diff| <= atol + 1e-4 |ref|}); guidance scales relative 1e-12.
 */
class PipelineGoldenTest {
    private static final Logger LOG = LoggerFactory.getLogger(PipelineGoldenTest.class);

    @Test
    void replaysTheRecordedT2vRunStepByStep() throws Exception {
        Path dir = Golden.path("pipeline", "t2v_5b");
        JsonNode run = new ObjectMapper().readTree(Files.readString(dir.resolve("run.json")));
        JsonNode tol = run.get("tolerances");
        JsonNode call = run.get("call");
        Map<String, Double> errors = new HashMap<>();
        List<Double> scales = new ArrayList<>();
        try (NDManager manager = NDManager.newBaseManager(TestDevice.get());
                CogVideoXTransformer model = CogVideoXTransformer.load(dir.resolve("model"), manager);
                TensorSource g = SafetensorsReader.open(dir.resolve("run.safetensors"))) {
            CogVideoXScheduler scheduler = CogVideoXScheduler.fromConfig(
                    dir.resolve("model/scheduler/scheduler_config.json"));
            assertThat(scheduler).isInstanceOf(CogVideoXDpmScheduler.class);
            // the draw the reference used at each step: step 1 (2nd order) drew noise.02 and used noise.03
            Map<Integer, String> stepDraw = Map.of(0, "noise.01", 1, "noise.03", 2, "noise.04");
            NoiseSource replay = (use, index, shape, m) -> {
                String key = switch (use) {
                    case INITIAL_LATENTS -> "noise.00";
                    case SCHEDULER_STEP -> stepDraw.get(index);
                    case IMAGE_LATENT_SAMPLE -> throw new AssertionError("no image in a T2V run");
                };
                return g.read(key, m);
            };
            SamplingRequest request = SamplingRequest.textToVideo(g.read("prompt_embeds", manager),
                    g.read("negative_prompt_embeds", manager), call.get("num_frames").asInt(),
                    call.get("height").asInt(), call.get("width").asInt())
                    .withSteps(call.get("num_inference_steps").asInt())
                    .withGuidanceScale(call.get("guidance_scale").asDouble())
                    .withDynamicCfg(call.get("use_dynamic_cfg").asBoolean());
            StepListener check = step -> {
                String p = "step" + step.index() + ".";
                scales.add(step.guidanceScale());
                compare(errors, tol, g, p + "transformer_hidden_states", step.modelInput());
                compare(errors, tol, g, p + "noise_pred", step.noisePred());
                compare(errors, tol, g, p + "guided_noise_pred", step.guidedNoisePred());
                compare(errors, tol, g, p + "pred_original_sample", step.predOriginalSample());
                compare(errors, tol, g, p + "latents", step.latents());
            };
            try (SamplingResult result = CogVideoXSampler.of(model, scheduler).sample(request, replay, manager,
                    check)) {
                assertThat(result.timesteps()).containsExactly(recordedTimesteps(run));
                assertThat(result.additionalFrames()).isZero();
                compare(errors, tol, g, "step2.latents", result.latents());
                Path out = Files.createTempFile("sampled", ".safetensors");
                try {
                    result.writeSafetensors(out);
                    try (TensorSource written = SafetensorsReader.open(out)) {
                        assertThat(written.readFloats("latents")).containsExactly(result.latents().toFloatArray());
                    }
                } finally {
                    Files.deleteIfExists(out);
                }
            }
        }
        JsonNode expectedScales = run.get("guidance_scale_per_step(dynamic cfg)");
        assertThat(scales).hasSize(expectedScales.size());
        for (int i = 0; i < scales.size(); i++) {
            double e = expectedScales.get(i).asDouble();
            assertThat(scales.get(i)).as("guidance scale of step %d", i).isCloseTo(e, within(1e-12 * Math.abs(e)));
        }
        LOG.info("t2v_5b replay, max |diff| per tensor: {}", errors);
    }

    /** @return the scheduler timesteps the reference run recorded ({@code run.json}) */
    private static int[] recordedTimesteps(JsonNode run) {
        int[] t = new int[run.get("timesteps").size()];
        for (int i = 0; i < t.length; i++) {
            t[i] = run.get("timesteps").get(i).asInt();
        }
        return t;
    }

    private static void compare(Map<String, Double> errors, JsonNode tol, TensorSource g, String key, NDArray a) {
        assertThat(a.getShape()).as(key).isEqualTo(g.info(key).djlShape());
        double atol = tol.get(key).get("atol").asDouble();
        double rtol = tol.get(key).get("rtol").asDouble();
        errors.merge(key, Tolerance.assertClose(key, a.toFloatArray(), g.readFloats(key), atol, rtol), Math::max);
    }
}
