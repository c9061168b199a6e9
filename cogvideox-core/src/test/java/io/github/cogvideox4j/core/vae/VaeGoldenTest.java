package io.github.cogvideox4j.core.vae;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.core.io.SafetensorsFiles;
import io.github.cogvideox4j.core.io.TensorSource;
import io.github.cogvideox4j.core.schedule.ImageLatentScale;
import io.github.cogvideox4j.core.testing.Golden;
import io.github.cogvideox4j.core.testing.TestDevice;
import io.github.cogvideox4j.core.testing.Tolerance;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The VAE against the diffusers goldens of {@code golden/vae} (README there), every case, every stored output and
 * intermediate: the posterior (encoder output, mean, log-variance, std, sample), the pipelines' scaled video and image
 * latents, the decoded video.
 */
class VaeGoldenTest {
    private static final Logger LOG = LoggerFactory.getLogger(VaeGoldenTest.class);
    private static final double RTOL = 1e-4;

    static Stream<Path> cases() {
        return Golden.subfolders("vae").stream();
    }

    private record Case(JsonNode json, double atol, boolean tiling, boolean slicing) {
        static Case of(Path dir) throws IOException {
            JsonNode j = new ObjectMapper().readTree(dir.resolve("case.json").toFile());
            JsonNode s = j.get("settings");
            return new Case(j, j.get("tolerance_suggestion").get("atol").asDouble(), s.get("use_tiling").asBoolean(),
                    s.get("use_slicing").asBoolean());
        }
    }

    private static AutoencoderKLCogVideoX open(Path dir, Case c, NDManager m) throws IOException {
        AutoencoderKLCogVideoX vae = AutoencoderKLCogVideoX.load(dir, m);
        if (c.tiling()) {
            vae.enableTiling();
        }
        if (c.slicing()) {
            vae.enableSlicing();
        }
        return vae;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void encodeMatchesDiffusersIncludingChunkIntermediates(Path dir) throws IOException {
        Case c = Case.of(dir);
        try (NDManager m = NDManager.newBaseManager(TestDevice.get());
                AutoencoderKLCogVideoX vae = open(dir, c, m);
                TensorSource in = SafetensorsFiles.open(dir.resolve("inputs.safetensors"));
                TensorSource out = SafetensorsFiles.open(dir.resolve("outputs.safetensors"))) {
            Map<String, float[]> inter = new LinkedHashMap<>();
            Map<String, Integer> counts = new HashMap<>();
            vae.setProbe((module, x) -> {
                if (module.startsWith("encoder")) {
                    int k = counts.merge(module, 1, Integer::sum) - 1;
                    inter.put("inter." + module + ".chunk" + k, x.toFloatArray());
                }
            });
            NDArray pixels = in.read("sample", m);
            NDArray noise = in.read("posterior_noise", m);
            try (LatentDistribution d = vae.encode(pixels)) {
                StringBuilder report = new StringBuilder(dir.getFileName().toString());
                report.append(String.format(" mean %.3g", check(out, "posterior.mean", d.mean().toFloatArray(), c)));
                report.append(String.format(" logvar %.3g", check(out, "posterior.logvar", d.logvar().toFloatArray(),
                        c)));
                // the encoder output is mean || raw log-variance; the clamp to [-30, 20] is the identity on it here
                float[] parameters = out.readFloats("posterior.parameters");
                for (float p : parameters) {
                    assertThat(p).as("stored encoder output inside the clamp range").isBetween(-30f, 20f);
                }
                try (NDArray encoded = d.mean().concat(d.logvar(), 1)) {
                    check(out, "posterior.parameters", encoded.toFloatArray(), c);
                }
                try (NDArray std = d.std(); NDArray z = d.sample(noise)) {
                    check(out, "posterior.std", std.toFloatArray(), c);
                    report.append(String.format(" sample %.3g", check(out, "latent_dist.sample", z.toFloatArray(),
                            c)));
                    try (NDArray video = EngineArrays.mul(z, vae.scalingFactor())) {
                        check(out, "video_latents_scaled", video.toFloatArray(), c);
                    }
                    if (out.contains("image_latents_scaled")) {
                        try (NDArray image = ImageLatentScale.forPipeline(vae.invertScaleLatents())
                                .apply(z, vae.scalingFactor())) {
                            report.append(String.format(" image latents %.3g", check(out, "image_latents_scaled",
                                    image.toFloatArray(), c)));
                        }
                    }
                }
                int checked = 0;
                for (String name : out.names()) {
                    if (name.startsWith("inter.encoder")) {
                        assertThat(inter).as("intermediate %s", name).containsKey(name);
                        check(out, name, inter.get(name), c);
                        checked++;
                    }
                }
                LOG.info("{} ({} encoder intermediates)", report, checked);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void decodeMatchesDiffusersIncludingChunkIntermediates(Path dir) throws IOException {
        Case c = Case.of(dir);
        try (NDManager m = NDManager.newBaseManager(TestDevice.get());
                AutoencoderKLCogVideoX vae = open(dir, c, m);
                TensorSource in = SafetensorsFiles.open(dir.resolve("inputs.safetensors"));
                TensorSource out = SafetensorsFiles.open(dir.resolve("outputs.safetensors"))) {
            Map<String, float[]> inter = new LinkedHashMap<>();
            Map<String, Integer> counts = new HashMap<>();
            vae.setProbe((module, x) -> {
                if (module.startsWith("decoder")) {
                    int k = counts.merge(module, 1, Integer::sum) - 1;
                    inter.put("inter." + module + ".chunk" + k, x.toFloatArray());
                }
            });
            NDArray latents = in.read("decode_latents", m);
            try (NDArray video = vae.decode(latents)) {
                assertThat(video.getShape().getShape()).isEqualTo(out.info("decoded").djlShape().getShape());
                double err = check(out, "decoded", video.toFloatArray(), c);
                int checked = 0;
                for (String name : out.names()) {
                    if (name.startsWith("inter.decoder")) {
                        assertThat(inter).as("intermediate %s", name).containsKey(name);
                        check(out, name, inter.get(name), c);
                        checked++;
                    }
                }
                LOG.info("{} decoded {} ({} decoder intermediates)", dir.getFileName(), String.format("%.3g", err),
                        checked);
            }
        }
    }

    private static double check(TensorSource out, String name, float[] actual, Case c) {
        return Tolerance.assertClose(name, actual, out.readFloats(name), c.atol(), RTOL);
    }
}
