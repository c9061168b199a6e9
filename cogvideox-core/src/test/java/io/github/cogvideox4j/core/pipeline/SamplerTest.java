package io.github.cogvideox4j.core.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.CogVideoXException;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.config.CogVideoXVariant;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.model.TransformerInput;
import io.github.cogvideox4j.core.schedule.CogVideoXDdimScheduler;
import io.github.cogvideox4j.core.schedule.CogVideoXDpmScheduler;
import io.github.cogvideox4j.core.schedule.SchedulerConfig;
import io.github.cogvideox4j.core.schedule.SchedulerStep;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The sampling loops on tiny random models. */
class SamplerTest {
    private static final CogVideoXDpmScheduler DPM =
            new CogVideoXDpmScheduler(SchedulerConfig.released(SchedulerConfig.DPM_CLASS, 1.0));
    private static final CogVideoXDdimScheduler DDIM =
            new CogVideoXDdimScheduler(SchedulerConfig.released(SchedulerConfig.DDIM_CLASS, 1.0));

    private static NDArray embeds(NDManager m, long seed) {
        m.getEngine().setRandomSeed((int) seed);
        return m.randomNormal(new Shape(1, 8, 32));
    }

    @Test
    void isDeterministicUnderASeed() {
        try (NDManager m = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(
                        CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_5B), m, 1)) {
            SamplingRequest request = SamplingRequest.textToVideo(embeds(m, 1), embeds(m, 2), 9, 64, 96).withSteps(3)
                    .withDynamicCfg(true);
            CogVideoXSampler sampler = CogVideoXSampler.of(model, DPM);
            float[] a = sampler.sample(request, NoiseSource.seeded(42), m).latents().toFloatArray();
            float[] b = sampler.sample(request, NoiseSource.seeded(42), m).latents().toFloatArray();
            float[] c = sampler.sample(request, NoiseSource.seeded(43), m).latents().toFloatArray();
            assertThat(a).hasSize(3 * 4 * 8 * 12).containsExactly(b);
            assertThat(c).isNotEqualTo(a);
        }
    }

    @Test
    void ddimWithGuidanceOneEqualsTheUnguidedLoop() {
        try (NDManager m = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(
                        CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_5B), m, 2)) {
            NDArray prompt = embeds(m, 3);
            NDArray initial = m.randomNormal(new Shape(1, 3, 4, 8, 12));
            NoiseSource fixed = (use, i, shape, mm) -> initial.duplicate();
            List<Double> scales = new ArrayList<>();
            SamplingRequest request = SamplingRequest.textToVideo(prompt, null, 9, 64, 96).withSteps(4)
                    .withGuidanceScale(1.0);
            NDArray sampled = CogVideoXSampler.of(model, DDIM).sample(request, fixed, m,
                    step -> scales.add(step.guidanceScale())).latents();
            // the plain loop
            CogVideoXDdimScheduler s = DDIM.withInferenceSteps(4);
            NDArray latents = initial;
            for (int t : s.timesteps()) {
                NDArray v = model.forward(TransformerInput.of(latents, prompt, m.create(new long[] {t})));
                SchedulerStep out = s.step(v, t, latents);
                latents = out.prevSample();
            }
            assertThat(sampled.toFloatArray()).containsExactly(latents.toFloatArray());
            assertThat(scales).containsOnly(1.0).hasSize(4);
        }
    }

    @ParameterizedTest(name = "t = {0}: {1}")
    @CsvSource({"999, 2.29", "979, 2.54", "519, 6.99", "99, 6.86", "19, 1.12"})
    void dynamicCfgForFiftyStepsMatchesTheSpecValues(int t, double expected) {
        assertThat(CogVideoXSampler.dynamicGuidanceScale(6.0, t, 50)).isCloseTo(expected, within(0.005));
    }

    @Test
    void imageToVideo15PadsFramesPassesOfsAndDropsTheFirstLatentFrame() {
        try (NDManager m = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(
                        CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_1_5_5B_I2V), m, 4)) {
            NDArray image = m.randomNormal(new Shape(1, 1, 4, 8, 12));
            SamplingRequest request = SamplingRequest.imageToVideo(embeds(m, 5), embeds(m, 6), image, 9, 64, 96)
                    .withSteps(2);
            List<Shape> inputs = new ArrayList<>();
            NDArray[] firstInput = new NDArray[1];
            SamplingResult r = CogVideoXSampler.of(model, DPM).sample(request, NoiseSource.seeded(1), m, step -> {
                inputs.add(step.modelInput().getShape());
                if (step.index() == 0) {
                    firstInput[0] = step.modelInput().duplicate();
                    firstInput[0].attach(m);
                }
            });
            // 9 px -> 3 latent frames, padded to 4 (13 px); [negative, positive] x [noise 4 | image 4] channels
            assertThat(inputs).containsOnly(new Shape(2, 4, 8, 8, 12));
            assertThat(r.additionalFrames()).isEqualTo(1);
            assertThat(r.paddedLatents().getShape()).isEqualTo(new Shape(1, 4, 4, 8, 12));
            assertThat(r.latents().getShape()).isEqualTo(new Shape(1, 3, 4, 8, 12));
            assertThat(r.latents().toFloatArray())
                    .containsExactly(r.paddedLatents().get(new NDIndex(":, 1:")).toFloatArray());
            // the image latent sits in frame 0 of the image channels, zeros after
            assertThat(firstInput[0].get(new NDIndex("1:2, 0:1, 4:")).toFloatArray())
                    .containsExactly(image.toFloatArray());
            assertThat(firstInput[0].get(new NDIndex(":, 1:, 4:")).toFloatArray()).containsOnly(0f);
            // OFS reaches the model: another value changes the result; a forward without it fails
            float[] other = CogVideoXSampler.of(model, DPM).sample(request.withOfs(3.0), NoiseSource.seeded(1), m)
                    .latents().toFloatArray();
            assertThat(other).isNotEqualTo(r.latents().toFloatArray());
            NDArray embeds = embeds(m, 7).repeat(0, 2);
            assertThatThrownBy(() -> model.forward(TransformerInput.of(firstInput[0], embeds,
                    m.create(new long[] {999, 999})))).isInstanceOf(CogVideoXException.class)
                    .hasMessageContaining("OFS");
        }
    }

    @Test
    void imageLatentsFromMomentsAreDrawnFirstAndScaled() {
        try (NDManager m = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(
                        CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_5B_I2V), m, 4)) {
            NDArray moments = m.full(new Shape(1, 4, 1, 8, 12), 0.5f).concat(
                    m.full(new Shape(1, 4, 1, 8, 12), (float) Math.log(4.0)), 1);
            List<String> draws = new ArrayList<>();
            NoiseSource ones = (use, i, shape, mm) -> {
                draws.add(use + " " + i + " " + shape);
                return mm.ones(shape);
            };
            NDArray[] imageChannels = new NDArray[1];
            SamplingRequest request = SamplingRequest.imageToVideoFromMoments(embeds(m, 1), null, moments, 0.7, 9,
                    64, 96).withSteps(2);
            CogVideoXSampler.of(model, DPM).sample(request, ones, m, step -> {
                if (step.index() == 0) {
                    imageChannels[0] = step.modelInput().get(new NDIndex(":, 0:1, 4:")).duplicate();
                    imageChannels[0].attach(m);
                }
            });
            assertThat(draws).containsExactly("IMAGE_LATENT_SAMPLE 0 (1, 4, 1, 8, 12)",
                    "INITIAL_LATENTS 0 (1, 3, 4, 8, 12)", "SCHEDULER_STEP 0 (1, 3, 4, 8, 12)",
                    "SCHEDULER_STEP 1 (1, 3, 4, 8, 12)");
            // (mean + exp(logvar / 2) * z) * factor = (0.5 + 2 * 1) * 0.7
            for (float x : imageChannels[0].toFloatArray()) {
                assertThat((double) x).isCloseTo(2.5 * 0.7, within(1e-6));
            }
        }
    }

    @Test
    void refusesARequestThatDoesNotFitTheModel() {
        try (NDManager m = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(
                        CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_5B_I2V), m, 4)) {
            SamplingRequest t2v = SamplingRequest.textToVideo(embeds(m, 1), embeds(m, 2), 9, 64, 96);
            assertThatThrownBy(() -> CogVideoXSampler.of(model, DPM).sample(t2v, NoiseSource.seeded(1), m))
                    .isInstanceOf(CogVideoXException.class).hasMessageContaining("needs image latents");
            SamplingRequest wrongImage = SamplingRequest.imageToVideo(embeds(m, 1), embeds(m, 2),
                    m.zeros(new Shape(1, 1, 4, 6, 12)), 9, 64, 96);
            assertThatThrownBy(() -> CogVideoXSampler.of(model, DPM).sample(wrongImage, NoiseSource.seeded(1), m))
                    .isInstanceOf(CogVideoXException.class)
                    .hasMessageContaining("image latents must be [B, 1, C, h, w] = (1, 1, 4, 8, 12)");
            SamplingRequest wrongNegative = SamplingRequest.imageToVideo(embeds(m, 1),
                    m.zeros(new Shape(1, 7, 32)), m.zeros(new Shape(1, 1, 4, 8, 12)), 9, 64, 96);
            assertThatThrownBy(() -> CogVideoXSampler.of(model, DPM).sample(wrongNegative, NoiseSource.seeded(1), m))
                    .isInstanceOf(CogVideoXException.class).hasMessageContaining("negativePromptEmbeds");
        }
    }
}
