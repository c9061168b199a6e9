package io.github.cogvideox4j.core.schedule;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.io.TensorSource;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.testing.Golden;
import io.github.cogvideox4j.core.testing.TestDevice;
import io.github.cogvideox4j.core.testing.Tolerance;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The objective end to end against step 1 of every {@code golden/train} case, where the model is the base model
 * (a fresh LoRA has B = 0): the transformer input (the noisy latents, with image latents for I2V), the model output
 * ({@code 1e-5 + 1e-4 |ref|}), the per-sample losses and the loss (rtol 1e-4; the README's training tolerance).
 * The later steps need the trained LoRA or parameters of the step before: the LoRA module's
 * {@code TrainedObjectiveGoldenTest} compares them.
 */
class ObjectiveGoldenTest {
    private static final Logger LOG = LoggerFactory.getLogger(ObjectiveGoldenTest.class);

    static Stream<String> cases() {
        return Golden.subfolders("train").stream().map(p -> p.getFileName().toString());
    }

    private static CogVideoXScheduler scheduler(Path dir) throws Exception {
        JsonNode c = new ObjectMapper().readTree(Files.readString(dir.resolve("case.json")));
        String file = c.get("scheduler").get("config_file").asText();     // shared/golden/scheduler/<x>/...json
        String rel = file.substring(file.indexOf("golden/") + "golden/".length());
        return CogVideoXDpmScheduler.fromConfig(Golden.path(rel));
    }

    /** Step-1 input as stored: padded latents, image latents as the trainer passed them. */
    private static TrainingInput storedInput(TensorSource s, NDManager m) {
        TrainingInput in = TrainingInput.of(s.read("step1.latents", m), s.read("step1.prompt_embeds", m),
                s.read("step1.timesteps", m), s.read("step1.noise", m));
        if (s.contains("step1.image_latents")) {
            in = in.withImageLatents(s.read("step1.image_latents", m));
        }
        if (s.contains("step1.ofs")) {
            in = in.withOfs(s.read("step1.ofs", m));
        }
        if (s.contains("step1.rotary_cos")) {
            in = in.withRotaryEmbedding(s.read("step1.rotary_cos", m), s.read("step1.rotary_sin", m));
        }
        return in;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void stepOneMatchesTheReferenceTrainingStep(String name) throws Exception {
        Path dir = Golden.path("train", name);
        try (NDManager m = NDManager.newBaseManager(TestDevice.get());
                CogVideoXTransformer model = CogVideoXTransformer.load(dir, m);
                TensorSource s = SafetensorsReader.open(dir.resolve("steps.safetensors"))) {
            CogVideoXObjective objective = CogVideoXObjective.of(scheduler(dir));
            try (NDManager step = m.newSubManager()) {
                check(name, objective.evaluate(model, storedInput(s, step)), s);
            }
        }
    }

    @Test
    void oddLatentFramesArePaddedByPrependingFrameZeroAsTheOfficialTrainer() throws Exception {
        Path dir = Golden.path("train", "lora_i2v_15_ofs_public");
        try (NDManager m = NDManager.newBaseManager(TestDevice.get());
                CogVideoXTransformer model = CogVideoXTransformer.load(dir, m);
                TensorSource s = SafetensorsReader.open(dir.resolve("steps.safetensors"))) {
            CogVideoXObjective objective = CogVideoXObjective.of(scheduler(dir));
            TrainingInput stored = storedInput(s, m);
            NDArray unpadded = s.read("step1.latents_unpadded", m);
            assertThat(unpadded.getShape().get(1)).isEqualTo(5);
            // image latents given as the full padded tensor, then as the first frame only (zero-padded here)
            TrainingInput full = new TrainingInput(unpadded, stored.promptEmbeds(), stored.timesteps(),
                    stored.noise(), stored.imageLatents(), stored.ofs(), stored.rotaryCos(), stored.rotarySin(), false);
            TrainingInput firstFrame = full.withImageLatents(stored.imageLatents().get(new NDIndex(":, 0:1")));
            check("i2v_15 padded by objective", objective.evaluate(model, full), s);
            check("i2v_15 padded by objective, first image frame", objective.evaluate(model, firstFrame), s);
            assertThat(unpadded.getShape().get(1)).as("the caller's latents are untouched").isEqualTo(5);
        }
    }

    private static void check(String name, ObjectiveResult r, TensorSource s) {
        try (r) {
            double eIn = Tolerance.assertClose(name + " noisy_model_input", r.modelInput().toFloatArray(),
                    s.readFloats("step1.noisy_model_input"), 1e-6, 0);
            double eOut = Tolerance.assertClose(name + " model_output", r.modelOutput().toFloatArray(),
                    s.readFloats("step1.model_output"), 1e-5, 1e-4);
            assertThat(r.target().toFloatArray()).containsExactly(s.readFloats("step1.latents"));
            double[] perSample = r.lossPerSample().toDoubleArray();
            float[] refPerSample = s.readFloats("step1.loss_per_sample");
            double worstRel = 0;
            for (int i = 0; i < perSample.length; i++) {
                worstRel = Math.max(worstRel, Math.abs(perSample[i] - refPerSample[i]) / Math.abs(refPerSample[i]));
            }
            double loss = r.loss().getDouble();
            double refLoss = readLoss(s);
            double lossRel = Math.abs(loss - refLoss) / refLoss;
            assertThat(Math.max(worstRel, lossRel)).as("%s loss relative error (loss %s vs %s)", name, loss, refLoss)
                    .isLessThanOrEqualTo(1e-4);
            assertThat(r.loss().getShape().dimension()).isZero();
            LOG.info("{}: noisy input max err {}, model output max err {}, loss {} vs {} (rel {}), per-sample rel {}",
                    name, eIn, eOut, loss, refLoss, lossRel, worstRel);
        }
    }

    private static double readLoss(TensorSource s) {
        try (NDManager m = NDManager.newBaseManager(TestDevice.get())) {
            return s.read("step1.loss", m).toDoubleArray()[0];
        }
    }
}
