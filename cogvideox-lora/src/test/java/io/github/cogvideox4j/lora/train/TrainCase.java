package io.github.cogvideox4j.lora.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.model.TransformerInput;
import io.github.cogvideox4j.core.schedule.CogVideoXDpmScheduler;
import io.github.cogvideox4j.core.schedule.TrainingInput;
import io.github.cogvideox4j.core.testing.Golden;
import io.github.cogvideox4j.lora.LoraConfig;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/** A {@code golden/train} case: its hyper-parameters from {@code case.json} and its recorded per-step tensors. */
record TrainCase(String name, Path dir, JsonNode json) {
    static TrainCase of(String name) throws IOException {
        Path dir = Golden.path("train", name);
        return new TrainCase(name, dir, new ObjectMapper().readTree(dir.resolve("case.json").toFile()));
    }

    JsonNode training() {
        return json.get("training");
    }

    boolean isLora() {
        return training().get("mode").asText().equals("lora");
    }

    int steps() {
        return training().get("steps").asInt();
    }

    double maxGradNorm() {
        return training().get("grad_clipping").get("max_grad_norm").asDouble();
    }

    /** @return the LoRA rank and alpha of the case */
    LoraConfig loraConfig() {
        JsonNode l = training().get("lora");
        return LoraConfig.of(l.get("r").asInt(), l.get("lora_alpha").asDouble());
    }

    /** @return torch AdamW with the case's lr, betas, eps and weight decay */
    AdamW adamW() {
        JsonNode opt = training().get("optimizer");
        return AdamW.builder().learningRate(opt.get("lr").asDouble())
                .betas(opt.get("betas").get(0).asDouble(), opt.get("betas").get(1).asDouble())
                .epsilon(opt.get("eps").asDouble()).weightDecay(opt.get("weight_decay").asDouble()).build();
    }

    /** @return the scheduler of the case's {@code scheduler.config_file} (a path under the golden root) */
    CogVideoXDpmScheduler scheduler() throws IOException {
        String file = json.get("scheduler").get("config_file").asText();   // shared/golden/scheduler/<x>/...json
        return CogVideoXDpmScheduler.fromConfig(Golden.path(file.substring(file.indexOf("golden/")
                + "golden/".length())));
    }

    SafetensorsReader openSteps() throws IOException {
        return SafetensorsReader.open(dir.resolve("steps.safetensors"));
    }

    /**
     * @param unpadded pass the odd-length latents of a CogVideoX1.5 case (the objective pads them) instead of the
     *     padded ones
     * @return step {@code k}'s objective input as recorded: latents, prompt, timesteps, noise, image latents, OFS,
     *     RoPE table
     */
    static TrainingInput stepInput(SafetensorsReader golden, int k, boolean unpadded, NDManager m) {
        String p = "step" + k + ".";
        String latents = unpadded && golden.contains(p + "latents_unpadded") ? "latents_unpadded" : "latents";
        TrainingInput in = TrainingInput.of(golden.read(p + latents, m), golden.read(p + "prompt_embeds", m),
                golden.read(p + "timesteps", m), golden.read(p + "noise", m));
        if (golden.contains(p + "image_latents")) {
            in = in.withImageLatents(golden.read(p + "image_latents", m));
        }
        if (golden.contains(p + "ofs")) {
            in = in.withOfs(golden.read(p + "ofs", m));
        }
        if (golden.contains(p + "rotary_cos")) {
            in = in.withRotaryEmbedding(golden.read(p + "rotary_cos", m), golden.read(p + "rotary_sin", m));
        }
        return in;
    }

    /** @return step {@code k}'s transformer input as recorded (the noisy input with image channels, OFS, RoPE) */
    static TransformerInput transformerInput(SafetensorsReader golden, int k, NDManager m) {
        String p = "step" + k + ".";
        TransformerInput in = TransformerInput.of(golden.read(p + "noisy_model_input", m),
                golden.read(p + "prompt_embeds", m), golden.read(p + "timesteps", m));
        if (golden.contains(p + "ofs")) {
            in = in.withOfs(golden.read(p + "ofs", m));
        }
        if (golden.contains(p + "rotary_cos")) {
            in = in.withRotaryEmbedding(golden.read(p + "rotary_cos", m), golden.read(p + "rotary_sin", m));
        }
        return in;
    }

    /** Sets every parameter to its recorded value after step {@code k} ({@code step{k}.param.<name>}). */
    static void loadParameters(SafetensorsReader golden, int k, Map<String, NDArray> parameters) {
        for (Map.Entry<String, NDArray> e : parameters.entrySet()) {
            NDArray p = e.getValue();
            try (NDManager scope = p.getManager().newSubManager()) {
                p.set(new NDIndex(":"), golden.read("step" + k + ".param." + e.getKey(), scope));
            }
        }
    }
}
