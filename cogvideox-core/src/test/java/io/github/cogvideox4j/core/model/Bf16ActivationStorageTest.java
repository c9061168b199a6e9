package io.github.cogvideox4j.core.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.io.TensorSource;
import io.github.cogvideox4j.core.testing.Golden;
import io.github.cogvideox4j.core.testing.GoldenInputs;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What bf16 mixed precision ({@link ComputePrecision#BF16}) keeps for the backward, on every golden transformer case,
 * for a full fine-tune (every parameter and both inputs require gradients; loss {@code sum(sample * grad_G)}):
 *
 * <ul>
 *   <li>The feed-forward runs as one bf16 kernel, so GELU's input and output ({@code [B, S, 4D]}) are kept in bf16.
 *       It rounds exactly the tensors the unfused bf16 path rounds before its GEMMs, so values and gradients equal
 *       that path bit for bit (forced here by a zero adapter on {@code ff.net.0.proj}, which the fused kernel cannot
 *       carry).</li>
 *   <li>With block checkpointing the block inputs are kept as bf16 copies. The forward that gives the loss runs on
 *       the float32 stream, so the loss equals the plain step's bit for bit. Only the recompute of block i starts from
 *       {@code bf16(x_i)}: one more relative rounding of at most u = 2^-9 per element, of the same kind as the
 *       roundings the bf16 path already applies to every GEMM input (the block's LayerNorm passes a relative
 *       perturbation through unchanged). So the step must stay inside the error envelope of bf16 compute against the
 *       fp32 reference (diffusers' gradients in {@code grads.safetensors}): {@code GRAD_REL} = 3e-2 max|ref| + 1e-6,
 *       MixedPrecisionTest's bound from bf16's 8-bit significand. A tighter bound against the plain bf16 step does not
 *       hold: the k-projection gradients sum terms that cancel (softmax shift invariance), and one flipped last bit
 *       of a bf16 GEMM result moves them by several of their own ulps (measured 1.9e-2 of max|ref| on case f).</li>
 * </ul>
 */
class Bf16ActivationStorageTest {
    private static final Logger LOG = LoggerFactory.getLogger(Bf16ActivationStorageTest.class);
    /** MixedPrecisionTest's gradient bound for bf16 compute against fp32 (2x the worst measured). */
    private static final double GRAD_REL = 3e-2;
    /** Floor for gradients that are zero analytically (round-off of order 1e-8 in the reference). */
    private static final double GRAD_ABS = 1e-6;

    private NDManager manager;

    @BeforeEach
    void setUp() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    static Stream<String> cases() {
        return GoldenInputs.transformerCases();
    }

    /** The loss, the sample, every parameter's gradient and both input gradients of one bf16 step. */
    private record Step(float loss, Map<String, float[]> values) {}

    /** One step; {@code segment} 0 is the plain forward + backward, else blocks per checkpoint of the recompute. */
    private Step step(String name, int segment, Consumer<CogVideoXTransformer> prepare) throws Exception {
        Path dir = Golden.path("transformer", name);
        try (NDManager m = manager.newSubManager();
                CogVideoXTransformer model = CogVideoXTransformer.load(dir, m);
                TensorSource in = SafetensorsReader.open(dir.resolve("inputs.safetensors"))) {
            model.setComputePrecision(ComputePrecision.BF16);
            model.setRequiresGradient(true);
            prepare.accept(model);
            TransformerInput x = GoldenInputs.transformerInput(in, m);
            x.hiddenStates().setRequiresGradient(true);
            x.encoderHiddenStates().setRequiresGradient(true);
            NDArray gradG = in.read("grad_G", m);
            Map<String, float[]> values = new LinkedHashMap<>();
            float loss;
            if (segment > 0) {
                loss = model.forwardBackwardWithRecompute(x, s -> s.mul(gradG).sum(), segment).getFloat();
            } else {
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    NDArray sample = model.forward(x);
                    NDArray l = sample.mul(gradG).sum();
                    gc.backward(l);
                    loss = l.getFloat();
                    values.put("sample", sample.toFloatArray());
                }
            }
            values.put("inputs.hidden_states", x.hiddenStates().getGradient().toFloatArray());
            values.put("inputs.encoder_hidden_states", x.encoderHiddenStates().getGradient().toFloatArray());
            for (Map.Entry<String, NDArray> e : model.namedParameters().entrySet()) {
                if (e.getValue().hasGradient()) {
                    values.put(e.getKey(), e.getValue().getGradient().toFloatArray());
                }
            }
            return new Step(loss, values);
        }
    }

    /** A term that adds exactly zero, so that the fused feed-forward (which cannot carry an adapter) is not used. */
    private static void zeroAdapterOnEveryFeedForward(CogVideoXTransformer model) {
        model.namedLinears().forEach((k, linear) -> {
            if (k.endsWith(".ff.net.0.proj")) {
                linear.addAdapter(h -> h.zerosLike().sum(new int[] {-1}, true));
            }
        });
    }

    private static double maxAbsDiff(float[] a, float[] b) {
        assertThat(a).hasSameSizeAs(b);
        double d = 0;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs((double) a[i] - b[i]));
        }
        return d;
    }

    private static double maxAbs(float[] a) {
        double m = 0;
        for (float v : a) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void theFusedBf16FeedForwardEqualsTheUnfusedBf16PathBitForBit(String name) throws Exception {
        Step fused = step(name, 0, m -> {});
        Step unfused = step(name, 0, Bf16ActivationStorageTest::zeroAdapterOnEveryFeedForward);
        assertThat(fused.loss()).isEqualTo(unfused.loss());
        assertThat(fused.values().keySet()).containsExactlyElementsOf(unfused.values().keySet());
        for (String key : fused.values().keySet()) {
            assertThat(maxAbsDiff(fused.values().get(key), unfused.values().get(key))).as("%s %s", name, key)
                    .isZero();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void bf16CheckpointsKeepTheLossAndStayWithinTheBf16ErrorOfTheReferenceGradients(String name) throws Exception {
        Step plain = step(name, 0, m -> {});
        Step checkpointed = step(name, 1, m -> {});
        assertThat(checkpointed.loss()).as("the loss comes from the float32 stream").isEqualTo(plain.loss());
        LOG.info("{}: worst gradient max|diff| / max|ref|: plain bf16 {}, bf16 checkpoints {}", name,
                worstAgainstTheReference(name, plain, "plain bf16"),
                worstAgainstTheReference(name, checkpointed, "bf16 checkpoints"));
    }

    /**
     * A segment of two blocks keeps only block 0's input (in bf16) and recomputes block 1's from it in float32: block
     * 1's recompute starts from {@code bf16(block_0(bf16(x_0)))}, the checkpoint's rounding carried through one block
     * plus its own. block_0 is a residual block whose LayerNorm passes the relative perturbation on at the same order,
     * so that is at most two roundings of relative size u = 2^-9 where a segment of one has one; the bf16 path already
     * rounds every GEMM input, so the step must stay inside the same envelope against the fp32 reference.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void aTwoBlockSegmentKeepsTheLossAndStaysWithinTheBf16ErrorOfTheReferenceGradients(String name)
            throws Exception {
        Step plain = step(name, 0, m -> {});
        Step segmented = step(name, 2, m -> {});
        assertThat(segmented.loss()).as("the loss comes from the float32 stream").isEqualTo(plain.loss());
        LOG.info("{}: worst gradient max|diff| / max|ref| with a two-block segment: {}", name,
                worstAgainstTheReference(name, segmented, "a two-block segment"));
    }

    /** Asserts every reference gradient within the bf16 envelope; returns the worst max|diff| / max|ref|. */
    private static double worstAgainstTheReference(String name, Step step, String what) throws Exception {
        double worst = 0;
        try (TensorSource grads = SafetensorsReader.open(Golden.path("transformer", name)
                .resolve("grads.safetensors"))) {
            for (String key : grads.names()) {
                float[] ref = grads.readFloats(key);
                double scale = maxAbs(ref);
                double diff = maxAbsDiff(step.values().get(key), ref);
                assertThat(diff).as("%s grad %s with %s: max|diff| against the reference (max|ref| %s)",
                        name, key, what, scale).isLessThanOrEqualTo(GRAD_REL * scale + GRAD_ABS);
                worst = Math.max(worst, diff / (scale + GRAD_ABS / GRAD_REL));
            }
        }
        return worst;
    }
}
