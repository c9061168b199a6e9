package io.github.cogvideox4j.core.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.cogvideox4j.core.CogVideoXException;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.io.TensorSource;
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
 * {@link CogVideoXPipeline} end to end on the recorded run {@code golden/pipeline/t2v_5b}: the pipeline folder loaded
 * as shipped, prompt embeddings injected (or returned by a stand-in encoder), the reference's noise draws replayed;
 * per-step latents, {@code vae_decoded} and {@code video} at run.json's tolerances
 * ({@code |diff| <= atol + rtol |ref|}).
 */
class CogVideoXPipelineGoldenTest {
    private static final Logger LOG = LoggerFactory.getLogger(CogVideoXPipelineGoldenTest.class);
    /** The draw the reference used per DPM step: step 1 (2nd order) drew noise.02 and used noise.03. */
    private static final Map<Integer, String> STEP_DRAW = Map.of(0, "noise.01", 1, "noise.03", 2, "noise.04");

    private static NoiseSource replay(TensorSource g) {
        return (use, index, shape, m) -> switch (use) {
            case INITIAL_LATENTS -> g.read("noise.00", m);
            case SCHEDULER_STEP -> g.read(STEP_DRAW.get(index), m);
            case IMAGE_LATENT_SAMPLE -> throw new AssertionError("no image in a T2V run");
        };
    }

    /** @return the scheduler timesteps the reference run recorded ({@code run.json}) */
    private static int[] recordedTimesteps(JsonNode run) {
        int[] t = new int[run.get("timesteps").size()];
        for (int i = 0; i < t.length; i++) {
            t[i] = run.get("timesteps").get(i).asInt();
        }
        return t;
    }

    private static GenerationRequest.Builder call(JsonNode call) {
        return GenerationRequest.builder()
                .height(call.get("height").asInt()).width(call.get("width").asInt())
                .numFrames(call.get("num_frames").asInt())
                .inferenceSteps(call.get("num_inference_steps").asInt())
                .guidanceScale(call.get("guidance_scale").asDouble())
                .dynamicCfg(call.get("use_dynamic_cfg").asBoolean());
    }

    @Test
    void generatesTheRecordedT2vVideoFromInjectedEmbeddings() throws Exception {
        Path dir = Golden.path("pipeline", "t2v_5b");
        JsonNode run = new ObjectMapper().readTree(Files.readString(dir.resolve("run.json")));
        JsonNode tol = run.get("tolerances");
        Map<String, Double> errors = new HashMap<>();
        List<Integer> steps = new ArrayList<>();
        try (NDManager manager = NDManager.newBaseManager(TestDevice.get());
                TensorSource g = SafetensorsReader.open(dir.resolve("run.safetensors"));
                CogVideoXPipeline pipe = CogVideoXPipeline.load(dir.resolve("model"), manager)) {
            assertThat(pipe.className()).isEqualTo("CogVideoXPipeline");
            boolean[] decodedSeen = {false};
            pipe.setDecodeProbe(decoded -> {
                compare(errors, tol, g, "vae_decoded", decoded);
                decodedSeen[0] = true;
            });
            GenerationRequest request = call(run.get("call"))
                    .promptEmbeds(g.read("prompt_embeds", manager))
                    .negativePromptEmbeds(g.read("negative_prompt_embeds", manager))
                    .noise(replay(g))
                    .build();
            StepListener check = step -> {
                steps.add(step.timestep());
                compare(errors, tol, g, "step" + step.index() + ".latents", step.latents());
            };
            try (NDManager out = manager.newSubManager()) {
                NDArray video = pipe.generate(request, out, check);
                assertThat(decodedSeen[0]).isTrue();
                compare(errors, tol, g, "video", video);
                assertThat(video.getManager()).isSameAs(out);
            }
        }
        assertThat(steps).containsExactly(java.util.Arrays.stream(recordedTimesteps(run)).boxed()
                .toArray(Integer[]::new));
        LOG.info("t2v_5b pipeline, max |diff| per tensor: {}", errors);
    }

    @Test
    void encodesTextPromptsThroughThePromptEncoder() throws Exception {
        Path dir = Golden.path("pipeline", "t2v_5b");
        JsonNode run = new ObjectMapper().readTree(Files.readString(dir.resolve("run.json")));
        JsonNode call = run.get("call");
        String prompt = call.get("prompt").asText();
        String negative = call.get("negative_prompt").asText();
        List<List<String>> calls = new ArrayList<>();
        try (NDManager manager = NDManager.newBaseManager(TestDevice.get());
                TensorSource g = SafetensorsReader.open(dir.resolve("run.safetensors"))) {
            PromptEncoder stored = (prompts, m) -> {
                calls.add(prompts);
                String key = prompts.equals(List.of(prompt)) ? "prompt_embeds"
                        : prompts.equals(List.of(negative)) ? "negative_prompt_embeds" : null;
                assertThat(key).as("unexpected prompts %s", prompts).isNotNull();
                return g.read(key, m);
            };
            try (CogVideoXPipeline pipe = CogVideoXPipeline.load(dir.resolve("model"), manager, stored);
                    NDManager out = manager.newSubManager()) {
                NDArray video = pipe.generate(call(call).prompt(prompt).negativePrompt(negative).noise(replay(g))
                        .build(), out, StepListener.NONE);
                Tolerance.assertClose("video", video.toFloatArray(), g.readFloats("video"),
                        run.get("tolerances").get("video").get("atol").asDouble(),
                        run.get("tolerances").get("video").get("rtol").asDouble());
            }
        }
        assertThat(calls).containsExactly(List.of(prompt), List.of(negative));
    }

    /** The whole recorded run from text: tokenizer and T5 from the folder, then sampling and decoding. */
    @Test
    void generatesTheRecordedVideoFromTextWithTheFoldersT5() throws Exception {
        Path dir = Golden.path("pipeline", "t2v_5b");
        JsonNode run = new ObjectMapper().readTree(Files.readString(dir.resolve("run.json")));
        JsonNode call = run.get("call");
        try (NDManager manager = NDManager.newBaseManager(TestDevice.get());
                TensorSource g = SafetensorsReader.open(dir.resolve("run.safetensors"));
                CogVideoXPipeline pipe = CogVideoXPipeline.load(dir.resolve("model"), manager);
                NDManager out = manager.newSubManager()) {
            NDArray video = pipe.generate(call(call).prompt(call.get("prompt").asText())
                    .negativePrompt(call.get("negative_prompt").asText()).noise(replay(g)).build(), out,
                    StepListener.NONE);
            double err = Tolerance.assertClose("video from text", video.toFloatArray(), g.readFloats("video"),
                    run.get("tolerances").get("video").get("atol").asDouble(),
                    run.get("tolerances").get("video").get("rtol").asDouble());
            LOG.info("t2v_5b from text through T5: max |diff| of the video {}", err);
        }
    }

    @Test
    void encodesTheEmptyNegativePromptByDefaultOncePerRow() throws Exception {
        Path dir = Golden.path("pipeline", "t2v_5b");
        List<List<String>> calls = new ArrayList<>();
        PromptEncoder zeros = (prompts, m) -> {
            calls.add(prompts);
            return m.zeros(new ai.djl.ndarray.types.Shape(prompts.size(), 226, 32));
        };
        try (NDManager manager = NDManager.newBaseManager(TestDevice.get());
                CogVideoXPipeline pipe = CogVideoXPipeline.load(dir.resolve("model"), manager, zeros)) {
            NDArray video = pipe.generate(GenerationRequest.builder().prompts(List.of("a", "b")).height(48).width(64)
                    .numFrames(9).inferenceSteps(1).build());
            assertThat(video.getShape()).isEqualTo(new ai.djl.ndarray.types.Shape(2, 9, 3, 48, 64));
        }
        assertThat(calls).containsExactly(List.of("a", "b"), List.of("", ""));
    }

    @Test
    void refusesTextPromptsWithoutAPromptEncoder() throws Exception {
        Path dir = Golden.path("pipeline", "t2v_5b");
        try (NDManager manager = NDManager.newBaseManager(TestDevice.get());
                CogVideoXPipeline pipe = CogVideoXPipeline.load(dir.resolve("model"), manager,
                        PromptEncoder.unavailable())) {
            assertThatThrownBy(() -> pipe.generate(GenerationRequest.builder().prompt("a cat").height(48).width(64)
                    .numFrames(9).inferenceSteps(1).build()))
                    .isInstanceOf(CogVideoXException.class)
                    .hasMessageContaining("text encoder not available");
        }
    }

    private static void compare(Map<String, Double> errors, JsonNode tol, TensorSource g, String key, NDArray a) {
        assertThat(a.getShape()).as(key).isEqualTo(g.info(key).djlShape());
        double atol = tol.get(key).get("atol").asDouble();
        double rtol = tol.get(key).get("rtol").asDouble();
        errors.merge(key, Tolerance.assertClose(key, a.toFloatArray(), g.readFloats(key), atol, rtol), Math::max);
    }
}
