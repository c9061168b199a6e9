package io.github.cogvideox4j.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.config.CogVideoXVariant;
import io.github.cogvideox4j.core.io.DiffusersFolderWriter;
import io.github.cogvideox4j.core.io.SafetensorsDType;
import io.github.cogvideox4j.core.io.SafetensorsWriter;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.testing.Golden;
import io.github.cogvideox4j.core.vae.AutoencoderKLCogVideoX;
import io.github.cogvideox4j.core.vae.VaeConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * Test helper: a tiny image-to-video Diffusers pipeline folder from random weights (no I2V pipeline folder is
 * public in the golden set). The transformer has the tiny structure of a release with {@code max_text_seq_length}
 * 226, so that the golden tiny T5 ({@code text_encoder/} and {@code tokenizer/}, copied from the golden t2v_5b
 * folder with its DPM scheduler) fits it; the VAE is the golden one's structure with 4 random latent channels, and
 * {@code invert_scale_latents} as the 1.5 releases.
 */
public final class TinyI2vPipeline {
    private static final ObjectMapper JSON = new ObjectMapper();

    private TinyI2vPipeline() {}

    /**
     * @param dir the folder to write (created)
     * @param variant {@link CogVideoXVariant#COGVIDEOX_5B_I2V} or {@link CogVideoXVariant#COGVIDEOX_1_5_5B_I2V}
     * @return {@code dir}
     * @throws IOException if a file cannot be written
     */
    public static Path write(Path dir, CogVideoXVariant variant) throws IOException {
        Path golden = Golden.path("pipeline", "t2v_5b", "model");
        Files.createDirectories(dir.resolve("vae"));
        Files.createDirectories(dir.resolve("scheduler"));
        Files.writeString(dir.resolve("model_index.json"), "{\"_class_name\": \"CogVideoXImageToVideoPipeline\"}");
        Files.copy(golden.resolve("scheduler/scheduler_config.json"), dir.resolve("scheduler/scheduler_config.json"));
        for (String sub : new String[] {"text_encoder", "tokenizer"}) {
            Files.createDirectories(dir.resolve(sub));
            try (Stream<Path> files = Files.list(golden.resolve(sub))) {
                for (Path f : files.toList()) {
                    Files.copy(f, dir.resolve(sub).resolve(f.getFileName()));
                }
            }
        }
        ObjectNode tree = (ObjectNode) JSON.readTree(CogVideoXConfig.tiny(variant).toJson());
        tree.put("max_text_seq_length", 226);
        CogVideoXConfig config = CogVideoXConfig.parse(tree.toString());
        try (NDManager m = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(config, m, 4)) {
            Map<String, NDArray> weights = new LinkedHashMap<>(model.namedParameters());
            weights.putAll(model.namedBuffers());
            DiffusersFolderWriter.write(dir.resolve("transformer"), config, weights, SafetensorsDType.F32,
                    Long.MAX_VALUE);
            ObjectNode vae = (ObjectNode) JSON.readTree(golden.resolve("vae/config.json").toFile());
            vae.put("latent_channels", config.outChannels());
            vae.put("invert_scale_latents", variant.isVersion15());
            Files.writeString(dir.resolve("vae/config.json"), vae.toString());
            VaeConfig vaeConfig = VaeConfig.read(dir.resolve("vae/config.json"));
            SplittableRandom random = new SplittableRandom(7);
            Map<String, NDArray> state = new LinkedHashMap<>();
            for (Map.Entry<String, Shape> e : AutoencoderKLCogVideoX.parameterShapes(vaeConfig).entrySet()) {
                float[] v = new float[Math.toIntExact(e.getValue().size())];
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) (0.2 * random.nextGaussian());
                }
                state.put(e.getKey(), EngineArrays.create(m, v, e.getValue()));
            }
            SafetensorsWriter.write(dir.resolve("vae/diffusion_pytorch_model.safetensors"), state, Map.of());
        }
        return dir;
    }
}
