package io.github.cogvideox4j.lora.train;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.schedule.CogVideoXObjective;
import io.github.cogvideox4j.core.schedule.ObjectiveResult;
import io.github.cogvideox4j.core.testing.Golden;
import io.github.cogvideox4j.core.testing.Tolerance;
import io.github.cogvideox4j.lora.LoraAdapter;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The objective and the forward pass on the reference's trained weights, isolated from the Java optimizer: every
 * recorded step after the first ({@code golden/train}; step 1 runs on the base weights in the core module's
 * objective test) on the weights recorded after the previous step — LoRA A/B for the LoRA cases, every parameter for
 * the full case — and {@code final_forward.model_output}, the forward of the weights after the last step on the last
 * step's transformer input. Tolerances of the golden README: the transformer input atol 1e-6 (the schedulers' float32
 * rule), model outputs {@code 1e-5 + 1e-4 |ref|}, per-sample losses and the loss rtol 1e-4.
 */
class TrainedObjectiveGoldenTest {
    private static final Logger LOG = LoggerFactory.getLogger(TrainedObjectiveGoldenTest.class);

    static Stream<String> cases() {
        return Golden.subfolders("train").stream().map(p -> p.getFileName().toString());
    }

    static Stream<Arguments> laterSteps() throws Exception {
        List<Arguments> out = new ArrayList<>();
        for (String name : cases().toList()) {
            for (int k = 2; k <= TrainCase.of(name).steps(); k++) {
                out.add(Arguments.of(name, k));
            }
        }
        return out.stream();
    }

    /** The model of the case with the weights recorded after step {@code k} (LoRA injected for the LoRA cases). */
    private record Trained(CogVideoXTransformer model, LoraAdapter lora) implements AutoCloseable {
        static Trained after(TrainCase c, SafetensorsReader golden, int k, NDManager m) throws Exception {
            CogVideoXTransformer model = CogVideoXTransformer.load(c.dir(), m);
            if (c.isLora()) {
                LoraAdapter lora = LoraAdapter.inject(model, c.loraConfig());
                TrainCase.loadParameters(golden, k, lora.namedParameters());
                return new Trained(model, lora);
            }
            TrainCase.loadParameters(golden, k, model.namedParameters());
            return new Trained(model, null);
        }

        @Override
        public void close() {
            if (lora != null) {
                lora.close();
            }
            model.close();
        }
    }

    @ParameterizedTest(name = "{0} step {1}")
    @MethodSource("laterSteps")
    void theObjectiveMatchesTheReferenceOnTheWeightsOfThePreviousStep(String name, int k) throws Exception {
        TrainCase c = TrainCase.of(name);
        CogVideoXObjective objective = CogVideoXObjective.of(c.scheduler());
        try (NDManager m = NDManager.newBaseManager();
                SafetensorsReader golden = c.openSteps();
                Trained trained = Trained.after(c, golden, k - 1, m);
                ObjectiveResult r = objective.evaluate(trained.model(), TrainCase.stepInput(golden, k, false, m))) {
            String p = "step" + k + ".";
            double eIn = Tolerance.assertClose(name + " " + p + "noisy_model_input", r.modelInput().toFloatArray(),
                    golden.readFloats(p + "noisy_model_input"), 1e-6, 0);
            double eOut = Tolerance.assertClose(name + " " + p + "model_output", r.modelOutput().toFloatArray(),
                    golden.readFloats(p + "model_output"), 1e-5, 1e-4);
            assertThat(r.target().toFloatArray()).containsExactly(golden.readFloats(p + "latents"));
            double[] perSample = r.lossPerSample().toDoubleArray();
            double[] refPerSample = golden.read(p + "loss_per_sample", m).toDoubleArray();
            assertThat(perSample).hasSameSizeAs(refPerSample);
            for (int i = 0; i < perSample.length; i++) {
                assertThat(Math.abs(perSample[i] - refPerSample[i])).as("%s %sloss_per_sample[%d] %s vs %s", name, p,
                        i, perSample[i], refPerSample[i]).isLessThanOrEqualTo(1e-4 * Math.abs(refPerSample[i]));
            }
            double loss = r.loss().getDouble();
            double refLoss = golden.read(p + "loss", m).toDoubleArray()[0];
            assertThat(Math.abs(loss - refLoss)).as("%s %sloss %s vs %s", name, p, loss, refLoss)
                    .isLessThanOrEqualTo(1e-4 * Math.abs(refLoss));
            LOG.info("{} {}: noisy input max err {}, model output max err {}, loss {} vs {}", name, p, eIn, eOut, loss,
                    refLoss);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void theFinalForwardMatchesTheReferenceOnTheWeightsAfterTheLastStep(String name) throws Exception {
        TrainCase c = TrainCase.of(name);
        try (NDManager m = NDManager.newBaseManager();
                SafetensorsReader golden = c.openSteps();
                Trained trained = Trained.after(c, golden, c.steps(), m)) {
            NDArray out = trained.model().forward(TrainCase.transformerInput(golden, c.steps(), m));
            assertThat(out.getShape()).isEqualTo(golden.info("final_forward.model_output").djlShape());
            double err = Tolerance.assertClose(name + " final_forward.model_output", out.toFloatArray(),
                    golden.readFloats("final_forward.model_output"), 1e-5, 1e-4);
            LOG.info("{}: final forward max err {}", name, err);
        }
    }
}
