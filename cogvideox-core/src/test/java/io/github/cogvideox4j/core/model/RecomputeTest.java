package io.github.cogvideox4j.core.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.config.CogVideoXVariant;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.io.TensorSource;
import io.github.cogvideox4j.core.testing.Golden;
import io.github.cogvideox4j.core.testing.GoldenInputs;
import io.github.cogvideox4j.core.testing.Tolerance;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Activation checkpointing per block and per segment of blocks: the same gradients as a plain forward + backward, and
 * in FLOAT32 the same bit for bit whatever the segment.
 */
class RecomputeTest {
    static Stream<String> cases() {
        return GoldenInputs.transformerCases();
    }

    private static TransformerInput input(TensorSource in, NDManager m) {
        TransformerInput input = GoldenInputs.transformerInput(in, m);
        input.hiddenStates().setRequiresGradient(true);
        input.encoderHiddenStates().setRequiresGradient(true);
        return input;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void recomputedGradientsEqualThePlainBackwardAndTheReference(String name) throws Exception {
        Path dir = Golden.path("transformer", name);
        Map<String, float[]> plain = new HashMap<>();
        try (NDManager manager = NDManager.newBaseManager();
                TensorSource in = SafetensorsReader.open(dir.resolve("inputs.safetensors"));
                TensorSource grads = SafetensorsReader.open(dir.resolve("grads.safetensors"))) {
            NDArray gradG = in.read("grad_G", manager);
            float plainLoss;
            try (CogVideoXTransformer model = CogVideoXTransformer.load(dir, manager)) {
                TransformerInput input = input(in, manager);
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    NDArray loss = model.forward(input).mul(gradG).sum();
                    plainLoss = loss.getFloat();
                    gc.backward(loss);
                }
                model.namedParameters().forEach((k, p) -> plain.put(k, p.getGradient().toFloatArray()));
                plain.put("inputs.hidden_states", input.hiddenStates().getGradient().toFloatArray());
                plain.put("inputs.encoder_hidden_states", input.encoderHiddenStates().getGradient().toFloatArray());
            }
            try (CogVideoXTransformer model = CogVideoXTransformer.load(dir, manager)) {
                TransformerInput input = input(in, manager);
                NDArray loss = model.forwardBackwardWithRecompute(input, sample -> sample.mul(gradG).sum());
                assertThat(loss.getManager()).isSameAs(manager);
                assertThat(loss.getFloat()).isEqualTo(plainLoss);
                Map<String, float[]> recomputed = new HashMap<>();
                model.namedParameters().forEach((k, p) -> recomputed.put(k, p.getGradient().toFloatArray()));
                recomputed.put("inputs.hidden_states", input.hiddenStates().getGradient().toFloatArray());
                recomputed.put("inputs.encoder_hidden_states",
                        input.encoderHiddenStates().getGradient().toFloatArray());
                for (String key : plain.keySet()) {
                    // same kernels, same order of accumulation up to the split of the backward: fp32 rounding only
                    Tolerance.assertCloseToMax(name + " recompute vs plain " + key, recomputed.get(key), plain.get(key),
                            1e-6, 1e-9);
                }
                for (String key : grads.names()) {
                    Tolerance.assertCloseToMax(name + " recompute vs reference " + key, recomputed.get(key),
                            grads.readFloats(key), 1e-4, 1e-7);
                }
            }
        }
    }

    @Test
    void blockAdaptersOnAFrozenModelGetThePlainBackwardsGradients() throws Exception {
        // with adapters in the blocks only, nothing goes back through the stem, so the recompute records no
        // gradient for the conditioning; the adapters' gradients must not change
        Path dir = Golden.path("transformer", "b_cogvideox_5b_rope");
        List<String> targets = List.of("transformer_blocks.0.attn1.to_q", "transformer_blocks.0.norm1.linear",
                "transformer_blocks.1.attn1.to_out.0", "transformer_blocks.1.ff.net.0.proj");
        Map<String, float[]> plain = new HashMap<>();
        Map<String, float[]> recomputed = new HashMap<>();
        try (NDManager manager = NDManager.newBaseManager();
                TensorSource in = SafetensorsReader.open(dir.resolve("inputs.safetensors"))) {
            NDArray gradG = in.read("grad_G", manager);
            Map<String, NDArray> initial = new HashMap<>();
            for (Map<String, float[]> into : List.of(plain, recomputed)) {
                try (CogVideoXTransformer model = CogVideoXTransformer.load(dir, manager)) {
                    model.setRequiresGradient(false);
                    Map<String, NDArray> adapters = new HashMap<>();
                    for (String t : targets) {
                        Linear l = model.namedLinears().get(t);
                        NDArray a = initial.computeIfAbsent(t, k -> manager.randomNormal(
                                new Shape(l.inFeatures(), l.outFeatures())).mul(0.01f)).duplicate();
                        a.setRequiresGradient(true);
                        l.addAdapter(h -> h.matMul(a));
                        adapters.put(t, a);
                    }
                    TransformerInput input = GoldenInputs.transformerInput(in, manager);
                    if (into == plain) {
                        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                            gc.backward(model.forward(input).mul(gradG).sum());
                        }
                    } else {
                        model.forwardBackwardWithRecompute(input, sample -> sample.mul(gradG).sum());
                    }
                    adapters.forEach((k, a) -> into.put(k, a.getGradient().toFloatArray()));
                }
            }
        }
        for (String t : targets) {
            assertThat(recomputed.get(t)).as(t).isNotNull();
            Tolerance.assertCloseToMax("recompute vs plain " + t, recomputed.get(t), plain.get(t), 1e-6, 1e-9);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void returnsOnlyTheLossInTheInputsManagerAndFreesEveryTemporary(String name) throws Exception {
        Path dir = Golden.path("transformer", name);
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.load(dir, manager);
                TensorSource in = SafetensorsReader.open(dir.resolve("inputs.safetensors"));
                NDManager caller = manager.newSubManager()) {
            model.setRequiresGradient(true);
            TransformerInput input = input(in, caller);                 // the inputs require gradients too
            NDArray gradG = in.read("grad_G", caller);
            assertLeavesOnlyTheLossInTheCaller(manager, caller,
                    () -> model.forwardBackwardWithRecompute(input, sample -> sample.mul(gradG).sum()));
        }
    }

    @Test
    void leavesNoArrayBehindWhenOnlyABlockAdapterTrainsOnAFrozenModel() throws Exception {
        Path dir = Golden.path("transformer", "b_cogvideox_5b_rope");
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.load(dir, manager);
                TensorSource in = SafetensorsReader.open(dir.resolve("inputs.safetensors"));
                NDManager caller = manager.newSubManager()) {
            model.setRequiresGradient(false);
            Linear ff = model.namedLinears().get("transformer_blocks.1.ff.net.2");
            NDArray a = manager.zeros(new Shape(ff.inFeatures(), ff.outFeatures()));
            a.setRequiresGradient(true);
            ff.addAdapter(h -> h.matMul(a));
            TransformerInput input = TransformerInput.of(in.read("hidden_states", caller),
                    in.read("encoder_hidden_states", caller), in.read("timestep", caller))
                    .withRotaryEmbedding(in.read("image_rotary_emb.cos", caller),
                            in.read("image_rotary_emb.sin", caller));
            NDArray gradG = in.read("grad_G", caller);
            assertLeavesOnlyTheLossInTheCaller(manager, caller,
                    () -> model.forwardBackwardWithRecompute(input, sample -> sample.mul(gradG).sum()));
            try (NDArray g = a.getGradient()) {
                assertThat(g.abs().max().getFloat()).as("the adapter was trained").isGreaterThan(0f);
            }
        }
    }

    @Test
    void freesEachUpstreamGradientOnceTheBlockBelowHasUsedIt() throws Exception {
        Path dir = Golden.path("transformer", "b_cogvideox_5b_rope");
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.load(dir, manager);
                TensorSource in = SafetensorsReader.open(dir.resolve("inputs.safetensors"));
                NDManager caller = manager.newSubManager()) {
            model.setRequiresGradient(false);
            // the arrays the step holds outside the block being recomputed, seen from inside each recompute
            List<Integer> heldDuringRecompute = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                Linear out = model.namedLinears().get("transformer_blocks." + i + ".attn1.to_out.0");
                NDArray a = manager.zeros(new Shape(out.inFeatures(), out.outFeatures()));
                a.setRequiresGradient(true);
                out.addAdapter(h -> {
                    if (JniUtils.isGradMode()) {
                        NDManager stepScope = h.getManager();
                        while (stepScope.getParentManager() != caller) {
                            stepScope = stepScope.getParentManager();
                        }
                        heldDuringRecompute.add(stepScope.getManagedArrays().size());
                    }
                    return h.matMul(a);
                });
            }
            TransformerInput input = GoldenInputs.transformerInput(in, caller);
            NDArray gradG = in.read("grad_G", caller);
            model.forwardBackwardWithRecompute(input, sample -> sample.mul(gradG).sum());
            // block 1 is recomputed first, then block 0: by then block 1's inputs are consumed and the upstream
            // gradients it received are freed, so the step holds fewer arrays, not one more set per block
            assertThat(heldDuringRecompute).hasSize(2);
            assertThat(heldDuringRecompute.get(1)).isLessThan(heldDuringRecompute.get(0));
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void aTwoBlockSegmentGivesTheLossAndGradientsOfOneBlockSegmentsBitForBit(String name) throws Exception {
        // the golden models have two blocks: only block 0's input is kept, block 1's is recomputed from it
        Path dir = Golden.path("transformer", name);
        try (NDManager manager = NDManager.newBaseManager();
                TensorSource in = SafetensorsReader.open(dir.resolve("inputs.safetensors"))) {
            NDArray gradG = in.read("grad_G", manager);
            Map<Integer, Map<String, float[]>> bySegment = new HashMap<>();
            for (int segment : new int[] {1, 2}) {
                try (CogVideoXTransformer model = CogVideoXTransformer.load(dir, manager)) {
                    model.setRequiresGradient(true);
                    TransformerInput input = input(in, manager);
                    bySegment.put(segment, stepGradients(model, input, s -> s.mul(gradG).sum(), segment));
                }
            }
            assertSameBitForBit(bySegment.get(2), bySegment.get(1));
        }
    }

    @ParameterizedTest(name = "segment {0}")
    @ValueSource(ints = {2, 3, 5, 8})
    void segmentsOfAnyLengthGiveTheLossAndGradientsOfOneBlockSegmentsBitForBit(int segment) {
        // five blocks: segments of 2 and 3 end with a shorter one, 5 is one segment, 8 is longer than the model
        CogVideoXConfig config = CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_5B).withNumLayers(5);
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, float[]> reference = stepOnRandomWeights(config, manager, 1);
            assertSameBitForBit(stepOnRandomWeights(config, manager, segment), reference);
        }
    }

    @Test
    void aSegmentHoldsFewerBlockInputsDuringTheBackward() {
        // five blocks, segment 2: checkpoints 0, 2, 4, and at most one recomputed input inside a segment; at the
        // first recorded recompute (block 4) the step holds the inputs of blocks 0 and 2 instead of 0 to 3, two
        // [B, N, D] + [B, L, D] pairs fewer (MemoryPlan.heldBlockInputs: 3 instead of 5, the one consumed included)
        CogVideoXConfig config = CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_5B).withNumLayers(5);
        Map<Integer, Integer> mostHeld = new HashMap<>();
        for (int segment : new int[] {1, 2}) {
            try (NDManager manager = NDManager.newBaseManager();
                    CogVideoXTransformer model = CogVideoXTransformer.random(config, manager, 3);
                    NDManager caller = manager.newSubManager()) {
                model.setRequiresGradient(false);
                List<Integer> held = new ArrayList<>();
                for (int i = 0; i < config.numLayers(); i++) {
                    Linear out = model.namedLinears().get("transformer_blocks." + i + ".attn1.to_out.0");
                    NDArray a = manager.zeros(new Shape(out.inFeatures(), out.outFeatures()));
                    a.setRequiresGradient(true);
                    out.addAdapter(h -> {
                        if (JniUtils.isGradMode()) {
                            held.add(managedArrays(stepScope(h.getManager(), caller)));
                        }
                        return h.matMul(a);
                    });
                }
                model.forwardBackwardWithRecompute(randomInput(config, caller, false), NDArray::sum, segment);
                assertThat(held).as("one recorded recompute per block").hasSize(config.numLayers());
                mostHeld.put(segment, held.stream().max(Integer::compare).orElseThrow());
            }
        }
        assertThat(mostHeld.get(1) - mostHeld.get(2)).as("arrays held at most, segment 1 minus segment 2")
                .isEqualTo(2 * 2);
    }

    @ParameterizedTest
    @EnumSource(ComputePrecision.class)
    void aSegmentedStepReturnsOnlyTheLossAndFreesEveryTemporary(ComputePrecision precision) {
        CogVideoXConfig config = CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_5B).withNumLayers(5);
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(config, manager, 3);
                NDManager caller = manager.newSubManager()) {
            model.setComputePrecision(precision);
            model.setRequiresGradient(true);
            TransformerInput input = randomInput(config, caller, true);
            assertLeavesOnlyTheLossInTheCaller(manager, caller,
                    () -> model.forwardBackwardWithRecompute(input, NDArray::sum, 3));
        }
    }

    @Test
    void refusesASegmentOfLessThanOneBlock() throws Exception {
        Path dir = Golden.path("transformer", "b_cogvideox_5b_rope");
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.load(dir, manager);
                TensorSource in = SafetensorsReader.open(dir.resolve("inputs.safetensors"))) {
            TransformerInput input = input(in, manager);
            assertThatThrownBy(() -> model.forwardBackwardWithRecompute(input, NDArray::sum, 0))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("blocks per checkpoint must be >= 1, got 0");
        }
    }

    /** A full fine-tune step (every parameter and both inputs require gradients) on seeded random weights. */
    private static Map<String, float[]> stepOnRandomWeights(CogVideoXConfig config, NDManager manager, int segment) {
        try (NDManager m = manager.newSubManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(config, m, 3)) {
            model.setRequiresGradient(true);
            return stepGradients(model, randomInput(config, m, true), s -> s.square().mean(), segment);
        }
    }

    /** Loss (under "loss") and every gradient of one recomputed step, as Java arrays. */
    private static Map<String, float[]> stepGradients(CogVideoXTransformer model, TransformerInput input,
            Function<NDArray, NDArray> lossOfSample, int segment) {
        return stepGradients(model, input, lossOfSample, segment, 1);
    }

    /** Loss (under "loss") and every gradient of one recomputed step in token chunks, as Java arrays. */
    static Map<String, float[]> stepGradients(CogVideoXTransformer model, TransformerInput input,
            Function<NDArray, NDArray> lossOfSample, int segment, int chunks) {
        NDArray loss = model.forwardBackwardWithRecompute(input, lossOfSample, segment, chunks);
        Map<String, float[]> values = new HashMap<>();
        values.put("loss", loss.toType(DataType.FLOAT32, false).toFloatArray());
        model.namedParameters().forEach((k, p) -> values.put(k, p.getGradient().toFloatArray()));
        if (input.hiddenStates().hasGradient()) {
            values.put("inputs.hidden_states", input.hiddenStates().getGradient().toFloatArray());
            values.put("inputs.encoder_hidden_states", input.encoderHiddenStates().getGradient().toFloatArray());
        }
        return values;
    }

    private static void assertSameBitForBit(Map<String, float[]> actual, Map<String, float[]> expected) {
        assertThat(actual.keySet()).containsExactlyInAnyOrderElementsOf(expected.keySet());
        for (String key : expected.keySet()) {
            assertThat(actual.get(key)).as(key).containsExactly(expected.get(key));
        }
    }

    /** Random latents, text and timestep for a config's sample size, batch 1. */
    static TransformerInput randomInput(CogVideoXConfig config, NDManager m, boolean requireGradients) {
        Engine.getInstance().setRandomSeed(7);
        NDArray x = m.randomNormal(new Shape(1, config.sampleLatentFrames(), config.inChannels(),
                config.sampleHeight(), config.sampleWidth()));
        NDArray text = m.randomNormal(new Shape(1, config.maxTextSeqLength(), config.textEmbedDim()));
        x.setRequiresGradient(requireGradients);
        text.setRequiresGradient(requireGradients);
        return TransformerInput.of(x, text, EngineArrays.create(m, new long[] {700}, new Shape(1)));
    }

    /** The child of {@code caller} that holds {@code inner} (the step's own scope). */
    private static NDManager stepScope(NDManager inner, NDManager caller) {
        NDManager scope = inner;
        while (scope.getParentManager() != caller) {
            scope = scope.getParentManager();
        }
        return scope;
    }

    /** Runs the step and asserts that it left only its loss in {@code caller} and nothing in the model's manager. */
    static void assertLeavesOnlyTheLossInTheCaller(NDManager manager, NDManager caller,
            Supplier<NDArray> step) {
        int outsideCaller = managedArrays(manager) - managedArrays(caller);
        int before = managedArrays(caller);
        NDArray loss = step.get();
        assertThat(loss.getManager()).isSameAs(caller);
        assertThat(caller.getManagedArrays()).hasSize(before + 1).contains(loss);
        assertThat(managedArrays(manager) - managedArrays(caller)).as("arrays left in the model's manager")
                .isEqualTo(outsideCaller);
    }

    private static int managedArrays(NDManager m) {
        return m.getManagedArrays().size();
    }

    @Test
    void refusesToRunInsideAnOpenGradientCollector() throws Exception {
        Path dir = Golden.path("transformer", "b_cogvideox_5b_rope");
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.load(dir, manager);
                TensorSource in = SafetensorsReader.open(dir.resolve("inputs.safetensors"));
                GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            TransformerInput input = input(in, manager);
            assertThatThrownBy(() -> model.forwardBackwardWithRecompute(input, NDArray::sum))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("outside a GradientCollector");
        }
    }
}
