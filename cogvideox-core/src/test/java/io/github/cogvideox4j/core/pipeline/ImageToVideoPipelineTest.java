package io.github.cogvideox4j.core.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.cogvideox4j.core.CogVideoXException;
import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.config.CogVideoXVariant;
import io.github.cogvideox4j.core.io.DiffusersFolderWriter;
import io.github.cogvideox4j.core.io.SafetensorsDType;
import io.github.cogvideox4j.core.io.SafetensorsWriter;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.testing.Golden;
import io.github.cogvideox4j.core.testing.Tolerance;
import io.github.cogvideox4j.core.vae.AutoencoderKLCogVideoX;
import io.github.cogvideox4j.core.vae.LatentDistribution;
import io.github.cogvideox4j.core.vae.VaeConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link CogVideoXPipeline} image-to-video on tiny random pipeline folders (1.0-I2V and 1.5-I2V structures, the VAE
 * with 4 latent channels): noise-draw order, frame padding and un-padding, OFS, and the image latent scaling
 * ({@code sf * z}, or {@code z / sf} with {@code invert_scale_latents}).
 */
class ImageToVideoPipelineTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final double SCALING = 0.7;

    /** Writes model_index.json, transformer/ (random), vae/ (random, latent 4), scheduler/ (the golden DPM one). */
    private static Path writePipeline(Path dir, CogVideoXVariant variant, boolean invertScale, NDManager m)
            throws IOException {
        Files.createDirectories(dir.resolve("vae"));
        Files.createDirectories(dir.resolve("scheduler"));
        Path golden = Golden.path("pipeline", "t2v_5b", "model");
        Files.writeString(dir.resolve("model_index.json"), "{\"_class_name\": \"CogVideoXImageToVideoPipeline\"}");
        Files.copy(golden.resolve("scheduler/scheduler_config.json"),
                dir.resolve("scheduler/scheduler_config.json"));
        CogVideoXConfig config = CogVideoXConfig.tiny(variant);
        try (NDManager scope = m.newSubManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(config, scope, 4)) {
            Map<String, NDArray> weights = new LinkedHashMap<>(model.namedParameters());
            weights.putAll(model.namedBuffers()); // the learned positional table of 5b-I2V
            DiffusersFolderWriter.write(dir.resolve("transformer"), config, weights, SafetensorsDType.F32,
                    Long.MAX_VALUE);
            ObjectNode vae = (ObjectNode) JSON.readTree(golden.resolve("vae/config.json").toFile());
            vae.put("latent_channels", config.outChannels());
            vae.put("invert_scale_latents", invertScale);
            vae.put("scaling_factor", SCALING);
            Files.writeString(dir.resolve("vae/config.json"), vae.toString());
            VaeConfig vaeConfig = VaeConfig.read(dir.resolve("vae/config.json"));
            SplittableRandom random = new SplittableRandom(7);
            Map<String, NDArray> state = new LinkedHashMap<>();
            for (Map.Entry<String, Shape> e : AutoencoderKLCogVideoX.parameterShapes(vaeConfig).entrySet()) {
                float[] v = new float[Math.toIntExact(e.getValue().size())];
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) (0.2 * random.nextGaussian());
                }
                state.put(e.getKey(), EngineArrays.create(scope, v, e.getValue()));
            }
            SafetensorsWriter.write(dir.resolve("vae/diffusion_pytorch_model.safetensors"), state, Map.of());
        }
        return dir;
    }

    private static NDArray embeds(NDManager m, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        float[] v = new float[8 * 32];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) random.nextGaussian();
        }
        return EngineArrays.create(m, v, new Shape(1, 8, 32));
    }

    private static GenerationRequest.Builder request(NDManager m, NDArray image, int height, int width) {
        return GenerationRequest.builder().promptEmbeds(embeds(m, 1)).negativePromptEmbeds(embeds(m, 2))
                .height(height).width(width).numFrames(9).inferenceSteps(2).guidanceScale(6.0).image(image);
    }

    /** Records the draws and forwards them to a seeded source. */
    private static final class Recording implements NoiseSource {
        final List<String> calls = new ArrayList<>();
        final NoiseSource seeded = NoiseSource.seeded(3);
        final NDManager keep;
        NDArray imageDraw;

        Recording(NDManager keep) {
            this.keep = keep;
        }

        @Override
        public NDArray next(Use use, int index, Shape shape, NDManager manager) {
            calls.add(use + " " + index + " " + shape);
            NDArray z = seeded.next(use, index, shape, manager);
            if (use == Use.IMAGE_LATENT_SAMPLE) {
                imageDraw = z.duplicate();
                imageDraw.attach(keep);
            }
            return z;
        }
    }

    /** The scaled image latent the pipeline should build: (mean + std z) * factor, [1, 1, C, h, w]. */
    private static float[] expectedImageLatent(AutoencoderKLCogVideoX vae, NDArray image, NDArray z, double factor,
            NDManager m) {
        try (NDManager s = m.newSubManager()) {
            NDArray pixels = image.mul(EngineArrays.scalar(s, 2.0, DataType.FLOAT32))
                    .sub(EngineArrays.scalar(s, 1.0, DataType.FLOAT32)).expandDims(2);
            pixels.attach(s);
            z.attach(s);
            try (LatentDistribution d = vae.encode(pixels)) {
                NDArray sample = d.sample(z);
                return EngineArrays.mul(sample, factor).transpose(0, 2, 1, 3, 4).toFloatArray();
            }
        }
    }

    private static double maxAbs(float[] v) {
        double max = 0;
        for (float x : v) {
            max = Math.max(max, Math.abs(x));
        }
        return max;
    }

    @Test
    void i2v15PadsFramesDrawsTheImageSampleFirstAndDividesByTheScalingFactor(@TempDir Path tmp) throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            Path dir = writePipeline(tmp, CogVideoXVariant.COGVIDEOX_1_5_5B_I2V, true, m);
            NDArray image = m.randomUniform(0f, 1f, new Shape(1, 3, 32, 48));
            Recording noise = new Recording(m);
            List<Shape> inputs = new ArrayList<>();
            float[][] imageChannels = new float[2][];
            try (CogVideoXPipeline pipe = CogVideoXPipeline.load(dir, m)) {
                assertThat(pipe.vae().invertScaleLatents()).isTrue();
                NDArray video = pipe.generate(request(m, image, 32, 48).noise(noise).build(), m, step -> {
                    inputs.add(step.modelInput().getShape());
                    if (step.index() == 0) {
                        imageChannels[0] = step.modelInput().get(new NDIndex("1:2, 0:1, 4:")).toFloatArray();
                        imageChannels[1] = step.modelInput().get(new NDIndex(":, 1:, 4:")).toFloatArray();
                    }
                });
                // 9 px -> 3 latent frames, padded to 4 (13 px) and the first dropped: 3 latents decode to 9 frames
                assertThat(noise.calls).containsExactly("IMAGE_LATENT_SAMPLE 0 (1, 4, 1, 4, 6)",
                        "INITIAL_LATENTS 0 (1, 4, 4, 4, 6)", "SCHEDULER_STEP 0 (1, 4, 4, 4, 6)",
                        "SCHEDULER_STEP 1 (1, 4, 4, 4, 6)");
                assertThat(inputs).containsOnly(new Shape(2, 4, 8, 4, 6));
                assertThat(video.getShape()).isEqualTo(new Shape(1, 9, 3, 32, 48));
                assertThat(video.min().getFloat()).isGreaterThanOrEqualTo(0f);
                assertThat(video.max().getFloat()).isLessThanOrEqualTo(1f);
                float[] expected = expectedImageLatent(pipe.vae(), image, noise.imageDraw, 1.0 / SCALING, m);
                assertThat(maxAbs(expected)).as("image latent magnitude").isGreaterThan(0.05);
                Tolerance.assertClose("image latent (z / sf)", imageChannels[0], expected, 1e-6, 1e-6);
                assertThat(imageChannels[1]).containsOnly(0f);
            }
        }
    }

    @Test
    void i2v15PassesTheOfsValueDefaultingToTwo(@TempDir Path tmp) throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            Path dir = writePipeline(tmp, CogVideoXVariant.COGVIDEOX_1_5_5B_I2V, true, m);
            NDArray image = m.randomUniform(0f, 1f, new Shape(1, 3, 32, 48));
            try (CogVideoXPipeline pipe = CogVideoXPipeline.load(dir, m)) {
                float[] byDefault = pipe.generate(request(m, image, 32, 48).build()).toFloatArray();
                float[] two = pipe.generate(request(m, image, 32, 48).ofs(2.0).build()).toFloatArray();
                float[] three = pipe.generate(request(m, image, 32, 48).ofs(3.0).build()).toFloatArray();
                assertThat(two).containsExactly(byDefault);
                assertThat(three).isNotEqualTo(byDefault);
            }
        }
    }

    @Test
    void i2v10MultipliesTheImageLatentByTheScalingFactor(@TempDir Path tmp) throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            Path dir = writePipeline(tmp, CogVideoXVariant.COGVIDEOX_5B_I2V, false, m);
            NDArray image = m.randomUniform(0f, 1f, new Shape(1, 3, 64, 96));
            Recording noise = new Recording(m);
            float[][] imageChannels = new float[1][];
            try (CogVideoXPipeline pipe = CogVideoXPipeline.load(dir, m)) {
                NDArray video = pipe.generate(request(m, image, 64, 96).noise(noise).build(), m, step -> {
                    if (step.index() == 0) {
                        imageChannels[0] = step.modelInput().get(new NDIndex("1:2, 0:1, 4:")).toFloatArray();
                    }
                });
                assertThat(noise.calls).first().asString().startsWith("IMAGE_LATENT_SAMPLE 0");
                assertThat(video.getShape()).isEqualTo(new Shape(1, 9, 3, 64, 96));
                float[] expected = expectedImageLatent(pipe.vae(), image, noise.imageDraw, SCALING, m);
                assertThat(maxAbs(expected)).as("image latent magnitude").isGreaterThan(0.05);
                Tolerance.assertClose("image latent (sf z)", imageChannels[0], expected, 1e-6, 1e-6);
            }
        }
    }

    @Test
    void refusesAnImageToVideoRequestWithoutAnImageAndAMismatchedImageSize(@TempDir Path tmp) throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            Path dir = writePipeline(tmp, CogVideoXVariant.COGVIDEOX_1_5_5B_I2V, true, m);
            try (CogVideoXPipeline pipe = CogVideoXPipeline.load(dir, m)) {
                assertThat(pipe.isImageToVideo()).isTrue();
                assertThatThrownBy(() -> pipe.generate(request(m, null, 32, 48).build()))
                        .isInstanceOf(CogVideoXException.class).hasMessageContaining("needs an image");
                NDArray wrong = m.zeros(new Shape(1, 3, 40, 48));
                assertThatThrownBy(() -> pipe.generate(request(m, wrong, 32, 48).build()))
                        .isInstanceOf(CogVideoXException.class).hasMessageContaining("[1, 3, 32, 48]");
            }
        }
    }
}
