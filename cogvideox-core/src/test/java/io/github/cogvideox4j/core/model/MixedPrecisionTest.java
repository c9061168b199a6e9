package io.github.cogvideox4j.core.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import io.github.cogvideox4j.core.CogVideoXException;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.io.TensorSource;
import io.github.cogvideox4j.core.kernel.DTypeGuard;
import io.github.cogvideox4j.core.kernel.KernelPack;
import io.github.cogvideox4j.core.kernel.UnsupportedDTypeException;
import io.github.cogvideox4j.core.testing.Golden;
import io.github.cogvideox4j.core.testing.GoldenInputs;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Mixed precision: bf16 GEMMs for every Linear ({@link ComputePrecision#BF16}) with fp32 master weights, and bf16
 * storage of the frozen Linear weights ({@code load(..., DataType.BFLOAT16)}), on every golden transformer case; and
 * every guard that keeps a bf16 array away from DJL calls that abort the JVM.
 *
 * <p>Tolerances, from bf16's 8-bit significand (unit roundoff 2^-9 = 2.0e-3 per rounding): every GEMM rounds both
 * operands and its output, and the errors of ~10 chained GEMMs (2 blocks) add up partly. Measured worst cases over the
 * five golden cases (docs/mixed-precision.md): sample max|diff| = 3.9e-3 max|fp32 sample| (relative RMS 3.0e-3);
 * gradients 1.5e-2 max|ref|. The bounds are 1e-2 (forward) and 3e-2 max|ref| + 1e-6 (gradients; the floor is for
 * gradients that are analytically zero, e.g. the k-norm bias under softmax shift invariance, where the reference holds
 * only round-off of 1e-8).
 */
class MixedPrecisionTest {
    private static final Logger LOG = LoggerFactory.getLogger(MixedPrecisionTest.class);
    private static final double FORWARD_REL = 1e-2;
    private static final double FORWARD_RMS = 5e-3;
    private static final double GRAD_REL = 3e-2;
    private static final double GRAD_ABS = 1e-6;
    private static final String CASE = "b_cogvideox_5b_rope";

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

    /** Asserts max|a - e| <= rel max|e| and the relative RMS <= rms; returns max|a - e| / max|e|. */
    private static double assertWithinScale(String what, float[] a, float[] e, double rel, double rms) {
        assertThat(a).as("%s: element count", what).hasSameSizeAs(e);
        double maxErr = 0;
        double maxRef = 0;
        double se = 0;
        double sr = 0;
        for (int i = 0; i < a.length; i++) {
            double d = Math.abs((double) a[i] - e[i]);
            assertThat(Double.isFinite(a[i])).as("%s: element %d is finite", what, i).isTrue();
            maxErr = Math.max(maxErr, d);
            maxRef = Math.max(maxRef, Math.abs(e[i]));
            se += d * d;
            sr += (double) e[i] * e[i];
        }
        assertThat(maxErr).as("%s: max|diff| against %s * max|ref| = %s", what, rel, maxRef)
                .isLessThanOrEqualTo(rel * maxRef);
        assertThat(Math.sqrt(se / sr)).as("%s: relative RMS", what).isLessThanOrEqualTo(rms);
        return maxErr / maxRef;
    }

    private static float roundToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        bits += 0x7FFF + ((bits >>> 16) & 1);
        return Float.intBitsToFloat(bits & 0xFFFF0000);
    }

    // ------------------------------------------------------------------------------------------ accuracy

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void bf16ComputeForwardStaysWithinBf16ToleranceOfFp32(String name) throws Exception {
        Path dir = Golden.path("transformer", name);
        try (CogVideoXTransformer model = CogVideoXTransformer.load(dir, manager);
                TensorSource in = SafetensorsReader.open(dir.resolve("inputs.safetensors"))) {
            TransformerInput x = GoldenInputs.transformerInput(in, manager);
            float[] fp32 = model.forward(x).toFloatArray();
            model.setComputePrecision(ComputePrecision.BF16);
            float[] bf16 = model.forward(x).toFloatArray();
            double rel = assertWithinScale(name + " sample", bf16, fp32, FORWARD_REL, FORWARD_RMS);
            LOG.info("{}: BF16 compute, sample max|diff| / max|fp32| = {}", name, rel);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void bf16ComputeGivesFiniteFloat32GradientsCloseToTheReference(String name) throws Exception {
        Path dir = Golden.path("transformer", name);
        try (CogVideoXTransformer model = CogVideoXTransformer.load(dir, manager);
                TensorSource in = SafetensorsReader.open(dir.resolve("inputs.safetensors"));
                TensorSource grads = SafetensorsReader.open(dir.resolve("grads.safetensors"))) {
            model.setComputePrecision(ComputePrecision.BF16);
            TransformerInput x = GoldenInputs.transformerInput(in, manager);
            x.hiddenStates().setRequiresGradient(true);
            x.encoderHiddenStates().setRequiresGradient(true);
            NDArray gradG = in.read("grad_G", manager);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                gc.backward(model.forward(x).mul(gradG).sum());
            }
            Map<String, NDArray> params = model.namedParameters();
            double worst = 0;
            for (String key : grads.names()) {
                NDArray g = switch (key) {
                    case "inputs.hidden_states" -> x.hiddenStates().getGradient();
                    case "inputs.encoder_hidden_states" -> x.encoderHiddenStates().getGradient();
                    default -> params.get(key).getGradient();
                };
                assertThat(g.getDataType()).as(key).isEqualTo(DataType.FLOAT32);
                float[] a = g.toFloatArray();
                float[] e = grads.readFloats(key);
                double maxErr = 0;
                double maxRef = 0;
                for (int i = 0; i < a.length; i++) {
                    assertThat(Float.isFinite(a[i])).as("%s grad %s element %d finite", name, key, i).isTrue();
                    maxErr = Math.max(maxErr, Math.abs((double) a[i] - e[i]));
                    maxRef = Math.max(maxRef, Math.abs(e[i]));
                }
                assertThat(maxErr).as("%s grad %s: max|diff| (max|ref| %s)", name, key, maxRef)
                        .isLessThanOrEqualTo(GRAD_REL * maxRef + GRAD_ABS);
                worst = Math.max(worst, maxErr / (maxRef + GRAD_ABS / GRAD_REL));
            }
            LOG.info("{}: BF16 compute, worst gradient max|diff| / max|ref| = {}", name, worst);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void bf16StorageLoadsAGoldenFolderAndRunsInBothPrecisions(String name) throws Exception {
        Path dir = Golden.path("transformer", name);
        try (CogVideoXTransformer fp32 = CogVideoXTransformer.load(dir, manager);
                CogVideoXTransformer stored = CogVideoXTransformer.load(dir, manager, DataType.BFLOAT16);
                TensorSource in = SafetensorsReader.open(dir.resolve("inputs.safetensors"));
                TensorSource out = SafetensorsReader.open(dir.resolve("outputs.safetensors"))) {
            assertThat(stored.hasBf16Storage()).isTrue();
            assertThat(stored.dataType()).isEqualTo(DataType.FLOAT32);
            assertThat(stored.computePrecision()).isEqualTo(ComputePrecision.FP32);
            TransformerInput x = GoldenInputs.transformerInput(in, manager);
            // FP32 compute widens the bf16 weights per call: only the weights' rounding remains
            double rel = assertWithinScale(name + " bf16 storage, FP32 compute", stored.forward(x).toFloatArray(),
                    out.readFloats("sample"), FORWARD_REL, FORWARD_RMS);
            // BF16 compute rounds the weights exactly as it rounds fp32 master weights: identical results
            stored.setComputePrecision(ComputePrecision.BF16);
            fp32.setComputePrecision(ComputePrecision.BF16);
            assertThat(stored.forward(x).toFloatArray()).containsExactly(fp32.forward(x).toFloatArray());
            LOG.info("{}: bf16 storage, FP32 compute, sample max|diff| / max|ref| = {}", name, rel);
        }
    }

    @Test
    void theDefaultIsFp32AndSwitchingBackIsBitIdentical() throws Exception {
        Path dir = Golden.path("transformer", CASE);
        try (CogVideoXTransformer model = CogVideoXTransformer.load(dir, manager);
                TensorSource in = SafetensorsReader.open(dir.resolve("inputs.safetensors"))) {
            assertThat(model.computePrecision()).isEqualTo(ComputePrecision.FP32);
            assertThat(model.hasBf16Storage()).isFalse();
            TransformerInput x = GoldenInputs.transformerInput(in, manager);
            float[] before = model.forward(x).toFloatArray();
            model.setComputePrecision(ComputePrecision.BF16);
            float[] bf16 = model.forward(x).toFloatArray();
            model.setComputePrecision(ComputePrecision.FP32);
            assertThat(model.forward(x).toFloatArray()).containsExactly(before).isNotEqualTo(bf16);
        }
    }

    @Test
    void bf16StorageHoldsTheLinearWeightsInTwoBytes() throws Exception {
        Path dir = Golden.path("transformer", CASE);
        try (CogVideoXTransformer fp32 = CogVideoXTransformer.load(dir, manager);
                CogVideoXTransformer stored = CogVideoXTransformer.load(dir, manager, DataType.BFLOAT16)) {
            long linearElements = 0;
            for (Linear l : fp32.namedLinears().values()) {
                linearElements += l.weightShape().size();
            }
            assertThat(stored.weightBytes()).isEqualTo(fp32.weightBytes() - 2 * linearElements);
            assertThat(stored.namedLinears().values()).allMatch(Linear::hasBf16Weight);
            LOG.info("{}: weights {} bytes in FLOAT32, {} with bf16 storage", CASE, fp32.weightBytes(),
                    stored.weightBytes());
        }
    }

    @Test
    void weightAsFloat32OfABf16WeightIsTheFp32WeightRoundedToNearestEven() throws Exception {
        Path dir = Golden.path("transformer", CASE);
        try (CogVideoXTransformer fp32 = CogVideoXTransformer.load(dir, manager);
                CogVideoXTransformer stored = CogVideoXTransformer.load(dir, manager, DataType.BFLOAT16)) {
            for (String module : new String[] {"transformer_blocks.0.attn1.to_q", "proj_out"}) {
                float[] exact = fp32.namedLinears().get(module).weightAsFloat32(manager).toFloatArray();
                NDArray widened = stored.namedLinears().get(module).weightAsFloat32(manager);
                assertThat(widened.getDataType()).isEqualTo(DataType.FLOAT32);
                assertThat(widened.getManager()).isSameAs(manager);
                float[] w = widened.toFloatArray();
                for (int i = 0; i < exact.length; i++) {
                    assertThat(w[i]).as("%s element %d", module, i).isEqualTo(roundToBf16(exact[i]));
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------ training

    @Test
    void anAdapterOnAFrozenBf16StorageModelReceivesFloat32Gradients() throws Exception {
        Path dir = Golden.path("transformer", CASE);
        try (CogVideoXTransformer model = CogVideoXTransformer.load(dir, manager, DataType.BFLOAT16);
                TensorSource in = SafetensorsReader.open(dir.resolve("inputs.safetensors"))) {
            model.setComputePrecision(ComputePrecision.BF16);
            Linear toQ = model.namedLinears().get("transformer_blocks.0.attn1.to_q");
            Engine.getInstance().setRandomSeed(5);
            NDArray a = manager.randomNormal(new Shape(toQ.inFeatures(), toQ.outFeatures())).mul(0.01f);
            a.setRequiresGradient(true);
            toQ.addAdapter(h -> h.matMul(a));
            TransformerInput x = GoldenInputs.transformerInput(in, manager);
            NDArray gradG = in.read("grad_G", manager);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                gc.backward(model.forward(x).mul(gradG).sum());
            }
            NDArray g = a.getGradient();
            assertThat(g.getDataType()).isEqualTo(DataType.FLOAT32);
            for (float v : g.toFloatArray()) {
                assertThat(Float.isFinite(v)).isTrue();
            }
            assertThat(g.abs().max().getFloat()).isGreaterThan(0f);
            assertThat(model.namedParameters().values()).noneMatch(NDArray::hasGradient); // frozen
        }
    }

    @Test
    void forwardBackwardWithRecomputeTrainsAnAdapterOnAFrozenBf16StorageModel() throws Exception {
        Path dir = Golden.path("transformer", CASE);
        try (CogVideoXTransformer model = CogVideoXTransformer.load(dir, manager, DataType.BFLOAT16);
                TensorSource in = SafetensorsReader.open(dir.resolve("inputs.safetensors"))) {
            model.setComputePrecision(ComputePrecision.BF16);
            Linear ff = model.namedLinears().get("transformer_blocks.1.ff.net.2");
            NDArray a = manager.zeros(new Shape(ff.inFeatures(), ff.outFeatures()));
            a.setRequiresGradient(true);
            ff.addAdapter(h -> h.matMul(a));
            TransformerInput x = GoldenInputs.transformerInput(in, manager);
            NDArray gradG = in.read("grad_G", manager);
            NDArray loss = model.forwardBackwardWithRecompute(x, s -> s.mul(gradG).sum());
            assertThat(Float.isFinite(loss.getFloat())).isTrue();
            assertThat(a.getGradient().abs().max().getFloat()).isGreaterThan(0f);
        }
    }

    // ------------------------------------------------------------------------------------------ guards

    @Test
    void weightRefusesABf16StoredWeightAndNamesTheSafeAccessors() throws Exception {
        try (CogVideoXTransformer model = CogVideoXTransformer.load(Golden.path("transformer", CASE), manager,
                DataType.BFLOAT16)) {
            Linear toQ = model.namedLinears().get("transformer_blocks.0.attn1.to_q");
            assertThatThrownBy(toQ::weight).isInstanceOf(UnsupportedDTypeException.class)
                    .hasMessageContaining("transformer_blocks.0.attn1.to_q.weight")
                    .hasMessageContaining("weightAsFloat32").hasMessageContaining("addToWeight");
            assertThat(toQ.weightShape()).isEqualTo(new Shape(toQ.outFeatures(), toQ.inFeatures()));
            assertThat(toQ.bias().getDataType()).isEqualTo(DataType.FLOAT32);
        }
    }

    @Test
    void bf16StorageStartsFrozenAndRefusesToRequireGradients() throws Exception {
        try (CogVideoXTransformer model = CogVideoXTransformer.load(Golden.path("transformer", CASE), manager,
                DataType.BFLOAT16)) {
            assertThat(model.namedParameters().values()).noneMatch(NDArray::hasGradient);
            assertThatThrownBy(() -> model.setRequiresGradient(true)).isInstanceOf(UnsupportedDTypeException.class)
                    .hasMessageContaining("frozen");
            model.setRequiresGradient(false);
            assertThat(model.namedParameters().values()).noneMatch(NDArray::hasGradient);
        }
    }

    @Test
    void namedParametersOfABf16StorageModelHoldOnlyDjlSafeArrays() throws Exception {
        try (CogVideoXTransformer fp32 = CogVideoXTransformer.load(Golden.path("transformer", CASE), manager);
                CogVideoXTransformer stored = CogVideoXTransformer.load(Golden.path("transformer", CASE), manager,
                        DataType.BFLOAT16)) {
            for (Map.Entry<String, NDArray> e : stored.namedParameters().entrySet()) {
                DTypeGuard.requireSupported(e.getValue(), e.getKey());
                assertThat(e.getValue().getDataType()).as(e.getKey()).isEqualTo(DataType.FLOAT32);
            }
            assertThat(stored.namedBuffers().values()).allMatch(b -> b.getDataType() == DataType.FLOAT32);
            assertThat(stored.namedParameters().keySet())
                    .noneMatch(k -> fp32.namedLinears().containsKey(k.substring(0, k.lastIndexOf('.')))
                            && k.endsWith(".weight"));
            assertThat(stored.namedParameters()).hasSize(fp32.namedParameters().size() - fp32.namedLinears().size());
        }
    }

    @Test
    void bf16ComputeIsRefusedForAFloat16Model() throws Exception {
        try (CogVideoXTransformer model = CogVideoXTransformer.load(Golden.path("transformer", CASE), manager,
                DataType.FLOAT16)) {
            assertThatThrownBy(() -> model.setComputePrecision(ComputePrecision.BF16))
                    .isInstanceOf(CogVideoXException.class).hasMessageContaining("FLOAT32 activations");
            assertThat(model.computePrecision()).isEqualTo(ComputePrecision.FP32);
        }
    }

    @Test
    void addToWeightMergesIntoABf16WeightWithOneRounding() throws Exception {
        try (CogVideoXTransformer model = CogVideoXTransformer.load(Golden.path("transformer", CASE), manager,
                DataType.BFLOAT16)) {
            Linear toV = model.namedLinears().get("transformer_blocks.1.attn1.to_v");
            float[] before = toV.weightAsFloat32(manager).toFloatArray();
            Engine.getInstance().setRandomSeed(9);
            NDArray delta = manager.randomNormal(toV.weightShape()).mul(0.01f);
            float[] d = delta.toFloatArray();
            toV.addToWeight(delta);
            float[] after = toV.weightAsFloat32(manager).toFloatArray();
            for (int i = 0; i < after.length; i++) {
                assertThat(after[i]).as("element %d", i).isEqualTo(roundToBf16(before[i] + d[i]));
            }
        }
    }

    @Test
    void addToWeightOnAFloat32WeightAddsExactlyEvenWhileRecording() throws Exception {
        try (CogVideoXTransformer model = CogVideoXTransformer.load(Golden.path("transformer", CASE), manager)) {
            Linear toV = model.namedLinears().get("transformer_blocks.1.attn1.to_v");
            float[] before = toV.weight().toFloatArray();
            NDArray delta = manager.ones(toV.weightShape());
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                toV.addToWeight(delta); // a leaf that requires grad: allowed because grad mode is off for the update
            }
            float[] after = toV.weight().toFloatArray();
            for (int i = 0; i < after.length; i++) {
                assertThat(after[i]).isEqualTo(before[i] + 1f);
            }
        }
    }

    @Test
    void theJvmSurvivesEveryDangerousEntryPointOfABf16StorageModel() throws Exception {
        Path dir = Golden.path("transformer", CASE);
        try (CogVideoXTransformer model = CogVideoXTransformer.load(dir, manager, DataType.BFLOAT16);
                KernelPack pack = KernelPack.load();
                TensorSource in = SafetensorsReader.open(dir.resolve("inputs.safetensors"))) {
            Linear toQ = model.namedLinears().get("transformer_blocks.0.attn1.to_q");
            NDArray w32 = toQ.weightAsFloat32(manager);
            NDArray w16 = pack.toBf16(w32);
            assertThatThrownBy(toQ::weight).isInstanceOf(UnsupportedDTypeException.class);
            assertThatThrownBy(() -> model.setRequiresGradient(true)).isInstanceOf(UnsupportedDTypeException.class);
            assertThatThrownBy(() -> toQ.addToWeight(w16)).isInstanceOf(UnsupportedDTypeException.class);
            assertThatThrownBy(() -> toQ.addToWeight(w32.get("0:2"))).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> pack.linearBf16(w16, w32, null)).isInstanceOf(UnsupportedDTypeException.class);
            assertThatThrownBy(() -> DTypeGuard.requireSupported(w16, "w16"))
                    .isInstanceOf(UnsupportedDTypeException.class);
            assertThatThrownBy(() -> model.forward(TransformerInput.of(pack.toBf16(in.read("hidden_states", manager)),
                    in.read("encoder_hidden_states", manager), in.read("timestep", manager))))
                    .isInstanceOf(UnsupportedDTypeException.class);
            // FP32 compute on bf16 weights widens them through the pack; then a normal op: the JVM is alive
            TransformerInput x = GoldenInputs.transformerInput(in, manager);
            assertThat(model.forward(x).getShape()).isEqualTo(x.hiddenStates().getShape());
            assertThat(manager.ones(new Shape(2)).sum().getFloat()).isEqualTo(2f);
        }
    }
}
