package io.github.cogvideox4j.core.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.GradientCollector;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.io.TensorSource;
import io.github.cogvideox4j.core.testing.Golden;
import io.github.cogvideox4j.core.testing.GoldenInputs;
import io.github.cogvideox4j.core.testing.TestDevice;
import io.github.cogvideox4j.core.testing.Tolerance;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every case in {@code golden/transformer}: the sample, every intermediate the reference recorded, and every
 * gradient of {@code loss = sum(sample * grad_G)}, with both kernel implementations, at the golden README's
 * tolerances (outputs {@code 1e-5 + 1e-4|ref|}; gradients {@code 1e-4 max|ref| + 1e-7}).
 */
class TransformerGoldenTest {
    private static final Logger LOG = LoggerFactory.getLogger(TransformerGoldenTest.class);

    static Stream<Arguments> cases() {
        return GoldenInputs.transformerCases()
                .flatMap(name -> Stream.of(KernelMode.values()).map(mode -> Arguments.of(name, mode)));
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void forwardMatchesSampleAndEveryIntermediate(String name, KernelMode mode) throws Exception {
        Path dir = Golden.path("transformer", name);
        try (NDManager manager = NDManager.newBaseManager(TestDevice.get());
                CogVideoXTransformer model = CogVideoXTransformer.load(dir, manager);
                TensorSource in = SafetensorsReader.open(dir.resolve("inputs.safetensors"));
                TensorSource out = SafetensorsReader.open(dir.resolve("outputs.safetensors"))) {
            model.setKernelMode(mode);
            Map<String, float[]> seen = new HashMap<>();
            NDArray sample = model.forward(GoldenInputs.transformerInput(in, manager),
                    (n, a) -> seen.put(n, a.toFloatArray()));
            seen.put("sample", sample.toFloatArray());
            assertThat(sample.getShape()).isEqualTo(out.info("sample").djlShape());
            assertThat(seen.keySet()).containsAll(out.names());
            double worst = 0;
            for (String key : out.names()) {
                worst = Math.max(worst, Tolerance.assertClose(name + " " + key, seen.get(key), out.readFloats(key),
                        1e-5, 1e-4));
            }
            LOG.info("{} {}: max |diff| over sample and {} intermediates = {}", name, mode, out.names().size() - 1,
                    worst);
        }
    }

    static Stream<String> rotaryCases() {
        return GoldenInputs.transformerCases().filter(n -> !n.contains("sincos"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rotaryCases")
    void forwardWithTheModelBuiltRopeTableMatchesThePipelineTable(String name) throws Exception {
        Path dir = Golden.path("transformer", name);
        try (NDManager manager = NDManager.newBaseManager(TestDevice.get());
                CogVideoXTransformer model = CogVideoXTransformer.load(dir, manager);
                TensorSource in = SafetensorsReader.open(dir.resolve("inputs.safetensors"));
                TensorSource out = SafetensorsReader.open(dir.resolve("outputs.safetensors"))) {
            TransformerInput stored = GoldenInputs.transformerInput(in, manager);
            assertThat(stored.rotaryCos()).as("the golden case stores the pipeline's table").isNotNull();
            TransformerInput built = new TransformerInput(stored.hiddenStates(), stored.encoderHiddenStates(),
                    stored.timestep(), stored.ofs(), null, null, false);
            double err = Tolerance.assertClose(name + " sample", model.forward(built).toFloatArray(),
                    out.readFloats("sample"), 1e-5, 1e-4);
            LOG.info("{}: model-built RoPE, max |diff| of sample = {}", name, err);
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void gradientsMatchForParametersAndInputs(String name, KernelMode mode) throws Exception {
        Path dir = Golden.path("transformer", name);
        try (NDManager manager = NDManager.newBaseManager(TestDevice.get());
                CogVideoXTransformer model = CogVideoXTransformer.load(dir, manager);
                TensorSource in = SafetensorsReader.open(dir.resolve("inputs.safetensors"));
                TensorSource grads = SafetensorsReader.open(dir.resolve("grads.safetensors"))) {
            model.setKernelMode(mode);
            TransformerInput input = GoldenInputs.transformerInput(in, manager);
            input.hiddenStates().setRequiresGradient(true);
            input.encoderHiddenStates().setRequiresGradient(true);
            NDArray gradG = in.read("grad_G", manager);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray sample = model.forward(input);
                gc.backward(sample.mul(gradG).sum());
            }
            Map<String, NDArray> params = model.namedParameters();
            double worst = 0;
            for (String key : grads.names()) {
                NDArray grad = key.startsWith("inputs.")
                        ? (key.equals("inputs.hidden_states") ? input.hiddenStates() : input.encoderHiddenStates())
                                .getGradient()
                        : params.get(key).getGradient();
                worst = Math.max(worst, Tolerance.assertCloseToMax(name + " grad " + key, grad.toFloatArray(),
                        grads.readFloats(key), 1e-4, 1e-7));
            }
            LOG.info("{} {}: max |diff| over {} gradients = {}", name, mode, grads.names().size(), worst);
        }
    }
}
