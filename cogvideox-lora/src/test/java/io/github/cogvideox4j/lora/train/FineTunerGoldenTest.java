package io.github.cogvideox4j.lora.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.schedule.TrainingInput;
import io.github.cogvideox4j.core.testing.Golden;
import io.github.cogvideox4j.core.testing.TestDevice;
import io.github.cogvideox4j.core.testing.Tolerance;
import io.github.cogvideox4j.lora.LoraAdapter;
import io.github.cogvideox4j.lora.LoraConfig;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whole training steps through {@link FineTuner#step(List, String, List)} against golden/train: for every recorded
 * step, from the recorded draws (latents, noise, timesteps, image latents, RoPE table, OFS), the loss and the pre-clip
 * gradient norm (rtol 1e-4), the parameters (atol 1e-6; full case norm_k.bias 4e-3) and the AdamW moments after the
 * step; without activation checkpointing, with it per block and with one checkpoint for both blocks (a segment of
 * two, which recomputes block 1's input from block 0's), and with each block's backward in three token chunks; and the full case with the ZeRO-1 sharded optimizer state on
 * one rank (small buckets, so that parameters span buckets; its norm is summed per shard, the moments live in flat
 * shards, so only losses, norms and parameters are compared); after the last step, the forward of the trained
 * weights on the last step's transformer input against {@code final_forward.model_output} ({@code 1e-5 + 1e-4 |ref|}).
 * Hyper-parameters come from each case's {@code case.json}.
 */
class FineTunerGoldenTest {
    private static final Logger LOG = LoggerFactory.getLogger(FineTunerGoldenTest.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    @ParameterizedTest(name = "{0} checkpointing segment={1} chunks={2} sharded={3}")
    @CsvSource({"lora_t2v_5b, 0, 1, false", "lora_t2v_5b, 1, 1, false", "lora_t2v_5b, 2, 1, false",
        "lora_t2v_5b, 1, 3, false", "lora_i2v_15_ofs_public, 0, 1, false", "lora_i2v_15_ofs_public, 1, 1, false",
        "lora_i2v_15_ofs_public, 1, 3, false", "full_t2v_2b, 0, 1, false", "full_t2v_2b, 1, 1, false",
        "full_t2v_2b, 2, 1, false", "full_t2v_2b, 2, 3, false", "full_t2v_2b, 0, 1, true"})
    void everyRecordedStepIsReproduced(String caseName, int segment, int chunks, boolean sharded) throws Exception {
        boolean checkpointing = segment > 0;
        Path dir = Golden.path("train", caseName);
        JsonNode c = JSON.readTree(dir.resolve("case.json").toFile());
        JsonNode training = c.get("training");
        JsonNode opt = training.get("optimizer");
        boolean lora = training.get("mode").asText().equals("lora");
        double maxParamErr = 0;
        double maxLossRel = 0;
        try (NDManager manager = NDManager.newBaseManager(TestDevice.get());
                CogVideoXTransformer model = CogVideoXTransformer.load(dir, manager);
                SafetensorsReader golden = SafetensorsReader.open(dir.resolve("steps.safetensors"))) {
            LoraAdapter adapter = null;
            if (lora) {
                JsonNode l = training.get("lora");
                adapter = LoraAdapter.inject(model, LoraConfig.of(l.get("r").asInt(), l.get("lora_alpha").asDouble()));
                adapter.load(dir.resolve("lora_init.safetensors"));
            }
            AdamW adamW = AdamW.builder().learningRate(opt.get("lr").asDouble())
                    .betas(opt.get("betas").get(0).asDouble(), opt.get("betas").get(1).asDouble())
                    .epsilon(opt.get("eps").asDouble()).weightDecay(opt.get("weight_decay").asDouble()).build();
            try (FineTuner tuner = FineTuner.builder(model, TrainCase.of(caseName).scheduler())
                    .lora(adapter).optimizer(adamW)
                    .maxGradNorm(training.get("grad_clipping").get("max_grad_norm").asDouble())
                    .gradientCheckpointing(checkpointing).gradientCheckpointingSegment(Math.max(segment, 1))
                    .gradientCheckpointingChunks(chunks)
                    .shardOptimizerState(sharded).bucketElements(4096).build()) {
                for (int k = 1; k <= training.get("steps").asInt(); k++) {
                    try (NDManager step = manager.newSubManager()) {
                        String p = "step" + k + ".";
                        NDArray latents = golden.read(p + (golden.contains(p + "latents_unpadded")
                                ? "latents_unpadded" : "latents"), step);
                        TrainingInput in = TrainingInput.of(latents, golden.read(p + "prompt_embeds", step),
                                golden.read(p + "timesteps", step), golden.read(p + "noise", step));
                        if (golden.contains(p + "image_latents")) {
                            in = in.withImageLatents(golden.read(p + "image_latents", step));
                        }
                        if (golden.contains(p + "ofs")) {
                            in = in.withOfs(golden.read(p + "ofs", step));
                        }
                        if (golden.contains(p + "rotary_cos")) {
                            in = in.withRotaryEmbedding(golden.read(p + "rotary_cos", step),
                                    golden.read(p + "rotary_sin", step));
                        }
                        StepResult r = tuner.step(List.of(in), "golden", List.of(caseName + " step " + k));
                        double refLoss = golden.read(p + "loss", step).getDouble();
                        double refNorm = golden.readFloats(p + "grad_norm_preclip")[0];
                        assertThat(r.step()).isEqualTo(k);
                        assertThat(r.skipped()).isFalse();
                        assertThat(Math.abs(r.loss() - refLoss)).as("%s loss %s vs %s", p, r.loss(), refLoss)
                                .isLessThanOrEqualTo(1e-4 * Math.abs(refLoss));
                        assertThat(Math.abs(r.gradNorm() - refNorm)).as("%s grad norm %s vs %s", p, r.gradNorm(),
                                refNorm).isLessThanOrEqualTo(1e-4 * refNorm);
                        maxLossRel = Math.max(maxLossRel, Math.abs(r.loss() - refLoss) / Math.abs(refLoss));
                        OptimizerState state = adamW.state();
                        for (Map.Entry<String, NDArray> e : tuner.trainable().entrySet()) {
                            String name = e.getKey();
                            double atol = name.endsWith("attn1.norm_k.bias") && !lora ? 4e-3 : 1e-6;
                            maxParamErr = Math.max(maxParamErr, Tolerance.assertClose(p + "param." + name,
                                    e.getValue().toFloatArray(), golden.readFloats(p + "param." + name), atol, 0));
                            String avg = p + "adam.exp_avg." + name;
                            if (!sharded && golden.contains(avg)) {
                                Tolerance.assertCloseToMax(avg, state.moments().get(name).expAvg(),
                                        golden.readFloats(avg), 1e-4, 1e-7);
                                String sq = p + "adam.exp_avg_sq." + name;
                                Tolerance.assertClose(sq, state.moments().get(name).expAvgSq(), golden.readFloats(sq),
                                        1e-12, 1e-3);
                            }
                        }
                    }
                }
                // the weights this run trained, on the last step's transformer input
                try (NDManager last = manager.newSubManager()) {
                    NDArray out = model.forward(TrainCase.transformerInput(golden, training.get("steps").asInt(),
                            last));
                    Tolerance.assertClose(caseName + " final_forward.model_output", out.toFloatArray(),
                            golden.readFloats("final_forward.model_output"), 1e-5, 1e-4);
                }
            }
            if (adapter != null) {
                adapter.close();
            }
        }
        LOG.info("{} (checkpointing segment {}, chunks {}, sharded {}): max loss rel err {}, max |param err| {}",
                caseName, segment, chunks, sharded, maxLossRel, maxParamErr);
    }

    @Test
    void aCheckpointingSegmentNeedsGradientCheckpointingAndAtLeastOneBlock() throws Exception {
        Path dir = Golden.path("train", "lora_t2v_5b");
        try (NDManager manager = NDManager.newBaseManager(TestDevice.get());
                CogVideoXTransformer model = CogVideoXTransformer.load(dir, manager)) {
            FineTuner.Builder builder = FineTuner.builder(model, TrainCase.of("lora_t2v_5b").scheduler());
            assertThatThrownBy(() -> builder.gradientCheckpointingSegment(0))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("must be >= 1 block, got 0");
            assertThatThrownBy(() -> builder.gradientCheckpointingSegment(2).build())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("segment of 2 blocks needs gradientCheckpointing(true)");
        }
    }

    @Test
    void tokenChunksNeedGradientCheckpointingAndAtLeastOneChunk() throws Exception {
        Path dir = Golden.path("train", "lora_t2v_5b");
        try (NDManager manager = NDManager.newBaseManager(TestDevice.get());
                CogVideoXTransformer model = CogVideoXTransformer.load(dir, manager)) {
            FineTuner.Builder builder = FineTuner.builder(model, TrainCase.of("lora_t2v_5b").scheduler());
            assertThatThrownBy(() -> builder.gradientCheckpointingChunks(0))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("must be >= 1, got 0");
            assertThatThrownBy(() -> builder.gradientCheckpointingChunks(4).build())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("4 gradient checkpointing chunks need gradientCheckpointing(true)");
        }
    }

    /**
     * bf16 mixed precision (bf16 GEMMs, fp32 master weights and LoRA) tracks the fp32 reference: losses and pre-clip
     * gradient norms within 2e-2 relative over the recorded steps (bf16 keeps 8 significant bits). Parameters can
     * differ by up to AdamW's per-step move of about 2·lr: the first Adam step moves every weight by ±lr whatever
     * the gradient's size, so a tiny gradient whose sign bf16 flips moves the other way. With block checkpointing the
     * block inputs are kept in bf16 (one more rounding per block for the recompute), inside the same bounds.
     */
    @ParameterizedTest(name = "checkpointing={0}")
    @org.junit.jupiter.params.provider.ValueSource(booleans = {false, true})
    void bf16MixedPrecisionTracksTheReferenceTrainingSteps(boolean checkpointing) throws Exception {
        TrainCase c = TrainCase.of("lora_t2v_5b");
        AdamW adamW = c.adamW();
        double lr = adamW.learningRate();
        try (NDManager manager = NDManager.newBaseManager(TestDevice.get());
                CogVideoXTransformer model = CogVideoXTransformer.load(c.dir(), manager);
                SafetensorsReader golden = c.openSteps();
                LoraAdapter adapter = LoraAdapter.inject(model, c.loraConfig())) {
            adapter.load(c.dir().resolve("lora_init.safetensors"));
            model.setComputePrecision(io.github.cogvideox4j.core.model.ComputePrecision.BF16);
            try (FineTuner tuner = FineTuner.builder(model, c.scheduler()).lora(adapter).optimizer(adamW)
                    .maxGradNorm(c.maxGradNorm()).gradientCheckpointing(checkpointing).build()) {
                double worst = 0;
                double worstNorm = 0;
                for (int k = 1; k <= c.steps(); k++) {
                    try (NDManager step = manager.newSubManager()) {
                        String p = "step" + k + ".";
                        TrainingInput in = TrainCase.stepInput(golden, k, true, step);
                        StepResult r = tuner.step(List.of(in), "golden", List.of("step " + k));
                        double ref = golden.read(p + "loss", step).getDouble();
                        worst = Math.max(worst, Math.abs(r.loss() - ref) / ref);
                        assertThat(Math.abs(r.loss() - ref)).isLessThanOrEqualTo(2e-2 * ref);
                        double refNorm = golden.readFloats(p + "grad_norm_preclip")[0];
                        assertThat(Math.abs(r.gradNorm() - refNorm)).isLessThanOrEqualTo(2e-2 * refNorm);
                        worstNorm = Math.max(worstNorm, Math.abs(r.gradNorm() - refNorm) / refNorm);
                        for (Map.Entry<String, NDArray> e : tuner.trainable().entrySet()) {
                            Tolerance.assertClose(p + "param." + e.getKey(), e.getValue().toFloatArray(),
                                    golden.readFloats(p + "param." + e.getKey()), 2 * lr * k + 1e-6, 0);
                        }
                    }
                }
                LOG.info("bf16 mixed precision, lora_t2v_5b, checkpointing {}: worst loss rel err {}, worst grad norm"
                        + " rel err {}", checkpointing, worst, worstNorm);
                assertThat(worst).isLessThan(2e-2);
            }
        }
    }
}
