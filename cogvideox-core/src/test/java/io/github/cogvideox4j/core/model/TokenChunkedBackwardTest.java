package io.github.cogvideox4j.core.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.config.CogVideoXVariant;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.io.TensorSource;
import io.github.cogvideox4j.core.testing.Golden;
import io.github.cogvideox4j.core.testing.GoldenInputs;
import io.github.cogvideox4j.core.testing.Tolerance;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A block backward in token chunks ({@code forwardBackwardWithRecompute(in, loss, segment, chunks)}): the
 * gradients of one chunk up to the order of the float sums over the tokens, and of the Python reference at the
 * golden tolerance.
 */
class TokenChunkedBackwardTest {
    static Stream<String> cases() {
        return GoldenInputs.transformerCases();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void chunkedGradientsEqualTheOneChunkBackwardAndTheReference(String name) throws Exception {
        Path dir = Golden.path("transformer", name);
        try (NDManager manager = NDManager.newBaseManager();
                TensorSource in = SafetensorsReader.open(dir.resolve("inputs.safetensors"));
                TensorSource grads = SafetensorsReader.open(dir.resolve("grads.safetensors"))) {
            NDArray gradG = in.read("grad_G", manager);
            Map<String, float[]> whole = goldenStep(dir, in, gradG, manager, 1);
            Map<String, float[]> chunked = goldenStep(dir, in, gradG, manager, 3);
            assertThat(chunked.get("loss")).containsExactly(whole.get("loss"));
            for (String key : whole.keySet()) {
                // the same values summed over the tokens in three parts: fp32 rounding only. The absolute term is
                // the golden gradient floor: attn1.norm_k.bias has a mathematically zero gradient (softmax ignores
                // a shift shared by all keys), so both values are rounding noise of the sum's order
                Tolerance.assertCloseToMax(name + " chunked vs one chunk " + key, chunked.get(key), whole.get(key),
                        1e-6, 1e-7);
            }
            for (String key : grads.names()) {
                Tolerance.assertCloseToMax(name + " chunked vs reference " + key, chunked.get(key),
                        grads.readFloats(key), 1e-4, 1e-7);
            }
        }
    }

    @ParameterizedTest(name = "{0} chunks")
    @ValueSource(ints = {2, 3, 8, 100})
    void anyChunkCountGivesTheOneChunkGradientsOfAFullFineTune(int chunks) {
        // 8 text tokens and 64 video tokens: 100 chunks are clamped to 8
        CogVideoXConfig config = CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_5B).withNumLayers(3);
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, float[]> whole = randomStep(config, manager, ComputePrecision.FP32, 1, 1);
            Map<String, float[]> chunked = randomStep(config, manager, ComputePrecision.FP32, 1, chunks);
            assertThat(chunked.keySet()).containsExactlyInAnyOrderElementsOf(whole.keySet());
            for (String key : whole.keySet()) {
                Tolerance.assertCloseToMax("chunks " + chunks + " " + key, chunked.get(key), whole.get(key), 1e-6,
                        1e-9);
            }
        }
    }

    @Test
    void chunksCombineWithSegments() {
        CogVideoXConfig config = CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_5B).withNumLayers(5);
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, float[]> whole = randomStep(config, manager, ComputePrecision.FP32, 1, 1);
            Map<String, float[]> chunked = randomStep(config, manager, ComputePrecision.FP32, 2, 4);
            for (String key : whole.keySet()) {
                Tolerance.assertCloseToMax("segment 2, chunks 4 " + key, chunked.get(key), whole.get(key), 1e-6,
                        1e-9);
            }
        }
    }

    @Test
    void blockAdaptersOnAFrozenModelGetTheOneChunkGradients() {
        // nothing goes back through the stem: the conditioning records no gradient in any pass
        CogVideoXConfig config = CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_5B);
        List<String> targets = List.of("transformer_blocks.0.attn1.to_q", "transformer_blocks.0.norm1.linear",
                "transformer_blocks.1.attn1.to_out.0", "transformer_blocks.1.ff.net.0.proj",
                "transformer_blocks.1.norm2.linear");
        try (NDManager manager = NDManager.newBaseManager()) {
            Map<String, float[]> whole = adapterStep(config, manager, targets, 1);
            Map<String, float[]> chunked = adapterStep(config, manager, targets, 3);
            assertThat(chunked.keySet()).containsExactlyInAnyOrderElementsOf(targets);
            for (String key : targets) {
                Tolerance.assertCloseToMax("adapter " + key, chunked.get(key), whole.get(key), 1e-6, 1e-9);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(ComputePrecision.class)
    void aChunkedStepReturnsOnlyTheLossAndFreesEveryTemporary(ComputePrecision precision) {
        CogVideoXConfig config = CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_5B).withNumLayers(3);
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(config, manager, 3);
                NDManager caller = manager.newSubManager()) {
            model.setComputePrecision(precision);
            model.setRequiresGradient(true);
            TransformerInput input = RecomputeTest.randomInput(config, caller, true);
            RecomputeTest.assertLeavesOnlyTheLossInTheCaller(manager, caller,
                    () -> model.forwardBackwardWithRecompute(input, NDArray::sum, 2, 3));
        }
    }

    @ParameterizedTest(name = "{0}")
    @EnumSource(value = CogVideoXVariant.class, names = {"COGVIDEOX_2B", "COGVIDEOX_5B"})
    void aChunkedForwardGivesTheBlocksForward(CogVideoXVariant variant) {
        // 2B without RoPE, 5B with it; 3 chunks of 64 video and 8 text tokens
        CogVideoXConfig config = CogVideoXConfig.tiny(variant).withNumLayers(1);
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(config, manager, 5)) {
            Engine.getInstance().setRandomSeed(11);
            CogVideoXBlock block = model.transformerBlocks().get(0);
            long d = config.innerDim();
            NDArray x = manager.randomNormal(new Shape(1, 64, d));
            NDArray c = manager.randomNormal(new Shape(1, 8, d));
            NDArray emb = manager.randomNormal(new Shape(1, config.timeEmbedDim()));
            boolean rope = config.useRotaryPositionalEmbeddings();
            NDArray cos = rope ? manager.randomUniform(-1, 1, new Shape(64, config.attentionHeadDim())) : null;
            NDArray sin = rope ? manager.randomUniform(-1, 1, new Shape(64, config.attentionHeadDim())) : null;
            var whole = block.forward(x, c, emb, cos, sin, ForwardProbe.NONE);
            var chunked = block.forwardInTokenChunks(x, c, emb, cos, sin, 3);
            for (int i = 0; i < 2; i++) {
                assertThat(chunked.get(i).getShape()).isEqualTo(whole.get(i).getShape());
                // each token's row by the same ops: at most the GEMMs' float rounding on fewer rows
                Tolerance.assertCloseToMax(variant + " output " + i, chunked.get(i).toFloatArray(),
                        whole.get(i).toFloatArray(), 1e-6, 0);
            }
        }
    }

    @Test
    void refusesFewerThanOneChunk() {
        CogVideoXConfig config = CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_5B);
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(config, manager, 3)) {
            TransformerInput input = RecomputeTest.randomInput(config, manager, false);
            assertThatThrownBy(() -> model.forwardBackwardWithRecompute(input, NDArray::sum, 1, 0))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("token chunks per block backward must be >= 1, got 0");
        }
    }

    /** Loss and every gradient (parameters and inputs) of a golden transformer's recomputed step. */
    private static Map<String, float[]> goldenStep(Path dir, TensorSource in, NDArray gradG, NDManager manager,
            int chunks) throws Exception {
        try (NDManager m = manager.newSubManager(); CogVideoXTransformer model = CogVideoXTransformer.load(dir, m)) {
            TransformerInput input = GoldenInputs.transformerInput(in, m);
            input.hiddenStates().setRequiresGradient(true);
            input.encoderHiddenStates().setRequiresGradient(true);
            return RecomputeTest.stepGradients(model, input, sample -> sample.mul(gradG).sum(), 1, chunks);
        }
    }

    /** A full fine-tune step (every parameter and both inputs require gradients) on seeded random weights. */
    private static Map<String, float[]> randomStep(CogVideoXConfig config, NDManager manager,
            ComputePrecision precision, int segment, int chunks) {
        try (NDManager m = manager.newSubManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(config, m, 3)) {
            model.setComputePrecision(precision);
            model.setRequiresGradient(true);
            return RecomputeTest.stepGradients(model, RecomputeTest.randomInput(config, m, true),
                    s -> s.square().mean(), segment, chunks);
        }
    }

    /** The adapters' gradients of a step on a frozen model with one {@code h·A} adapter per target. */
    private static Map<String, float[]> adapterStep(CogVideoXConfig config, NDManager manager, List<String> targets,
            int chunks) {
        try (NDManager m = manager.newSubManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(config, m, 3)) {
            model.setRequiresGradient(false);
            Engine.getInstance().setRandomSeed(11);
            Map<String, NDArray> adapters = new HashMap<>();
            for (String t : targets) {
                Linear l = model.namedLinears().get(t);
                NDArray a = m.randomNormal(new Shape(l.inFeatures(), l.outFeatures())).mul(0.05f);
                a.setRequiresGradient(true);
                l.addAdapter(h -> h.matMul(a));
                adapters.put(t, a);
            }
            model.forwardBackwardWithRecompute(RecomputeTest.randomInput(config, m, false), s -> s.square().mean(), 1,
                    chunks);
            Map<String, float[]> values = new HashMap<>();
            adapters.forEach((k, a) -> values.put(k, a.getGradient().toFloatArray()));
            return values;
        }
    }
}
