package io.github.cogvideox4j.core.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
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
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Activation checkpointing per block: the same gradients as a plain forward + backward. */
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
            int outsideCaller = managedArrays(manager) - managedArrays(caller);
            int before = managedArrays(caller);
            NDArray loss = model.forwardBackwardWithRecompute(input, sample -> sample.mul(gradG).sum());
            assertThat(loss.getManager()).isSameAs(caller);
            assertThat(caller.getManagedArrays()).hasSize(before + 1).contains(loss);
            assertThat(managedArrays(manager) - managedArrays(caller)).as("arrays left in the model's manager")
                    .isEqualTo(outsideCaller);
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
            int outsideCaller = managedArrays(manager) - managedArrays(caller);
            int before = managedArrays(caller);
            NDArray loss = model.forwardBackwardWithRecompute(input, sample -> sample.mul(gradG).sum());
            assertThat(caller.getManagedArrays()).hasSize(before + 1).contains(loss);
            assertThat(managedArrays(manager) - managedArrays(caller)).as("arrays left in the model's manager")
                    .isEqualTo(outsideCaller);
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
