package io.github.cogvideox4j.core.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.io.TensorSource;
import io.github.cogvideox4j.core.kernel.KernelPack;
import io.github.cogvideox4j.core.kernel.UnsupportedDTypeException;
import io.github.cogvideox4j.core.testing.Golden;
import io.github.cogvideox4j.core.testing.GoldenInputs;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Frozen base Linear weights in int8 ({@link CogVideoXTransformer#quantizeBaseWeightsToInt8()}): symmetric codes with
 * one float32 scale per output channel, dequantised per GEMM inside the kernel pack.
 *
 * <p><b>Element bound.</b> With {@code m = max|w_row|} and the exact scale {@code s = m / 127}, float32 stores
 * {@code s_f = s (1 + d)}, {@code |d| <= u = 2^-24}. The code is {@code q = round(fl(w / s_f))}; since
 * {@code |w / s_f| <= 127 (1 + u)^2 < 127.5} no code is clamped, and {@code |w / s_f - q| <= 1/2 + 127 u (1 + 2u)}.
 * The dequantised value {@code fl(q s_f)} adds at most {@code 127 s_f u}. Together
 * {@code |w - fl(q s_f)| <= s (1/2 + 255 u + O(u^2)) < s (1/2 + 2^-16)}: half a scale step, plus float32 round-off.
 *
 * <p><b>One Linear.</b> {@code y_int8 - y_fp32 = x (W_q - W)^T} plus the round-off of two float32 GEMMs of length
 * {@code n = in}, each at most {@code n u sum_j |x_j| |w_ij| <= n u 127 s_i ||x||_1} (to first order). So
 * {@code |dy_i| <= s_i ||x||_1 (1/2 + 2^-16 + 2 n 127 u (1 + 0.01))}.
 */
class Int8BaseWeightsTest {
    private static final Logger LOG = LoggerFactory.getLogger(Int8BaseWeightsTest.class);
    private static final double U = 0x1p-24;
    private static final double ELEMENT_SLACK = 0x1p-16;
    /** Whole-model bounds: 2.5x the worst of the five golden cases, either precision (docs/mixed-precision.md). */
    private static final double FORWARD_REL = 2e-2;
    private static final double FORWARD_RMS = 1.6e-2;
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

    private static CogVideoXTransformer int8Model(Path dir, NDManager manager) throws Exception {
        CogVideoXTransformer model = CogVideoXTransformer.load(dir, manager);
        model.setRequiresGradient(false);
        model.quantizeBaseWeightsToInt8();
        return model;
    }

    /** The exact scales {@code max|w_row| / 127} of a row-major {@code [out, in]} weight, in double. */
    private static double[] exactScales(float[] w, int out, int in) {
        double[] s = new double[out];
        for (int i = 0; i < out; i++) {
            double m = 0;
            for (int j = 0; j < in; j++) {
                m = Math.max(m, Math.abs(w[i * in + j]));
            }
            s[i] = m / 127;
        }
        return s;
    }

    // ------------------------------------------------------------------------------------------ codes and bytes

    @Test
    void everyDequantisedWeightIsWithinHalfAScaleStepOfTheFp32Weight() throws Exception {
        Path dir = Golden.path("transformer", CASE);
        try (CogVideoXTransformer fp32 = CogVideoXTransformer.load(dir, manager);
                CogVideoXTransformer int8 = int8Model(dir, manager)) {
            double worst = 0;
            for (Linear l : fp32.namedLinears().values()) {
                int out = (int) l.outFeatures();
                int in = (int) l.inFeatures();
                float[] w = l.weightAsFloat32(manager).toFloatArray();
                float[] wq = int8.namedLinears().get(l.name()).weightAsFloat32(manager).toFloatArray();
                double[] s = exactScales(w, out, in);
                for (int i = 0; i < out; i++) {
                    for (int j = 0; j < in; j++) {
                        double err = Math.abs((double) w[i * in + j] - wq[i * in + j]);
                        assertThat(err).as("%s[%d, %d]: |w - q s| against s (1/2 + 2^-16), s = %s", l.name(), i, j,
                                s[i]).isLessThanOrEqualTo(s[i] * (0.5 + ELEMENT_SLACK));
                        if (s[i] > 0) {
                            worst = Math.max(worst, err / s[i]);
                        }
                    }
                }
            }
            LOG.info("{}: worst |w - q s| / s over every Linear = {}", CASE, worst);
        }
    }

    @Test
    void codesRoundHalfToEvenWithTheRowMaximumAt127() {
        try (KernelPack pack = KernelPack.load()) {
            // row 0: max 127 -> s = 1 exactly; row 1: max 254 -> s = 2; halves must round to even codes
            NDArray w = EngineArrays.create(manager,
                    new float[] {127f, 0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 254f, 1f, 3f, 5f, -254f, 0f}, new Shape(2, 6));
            NDArray s = pack.int8Scale(w);
            NDArray q = pack.quantizeInt8(w, s);
            assertThat(s.toFloatArray()).containsExactly(1f, 2f);
            assertThat(q.getDataType()).isEqualTo(DataType.INT8);
            assertThat(q.toByteArray()).containsExactly(127, 0, 2, 2, 0, -2, 127, 0, 2, 2, -127, 0);
        }
    }

    @Test
    void anAllZeroRowGetsScaleOneAndZeroCodes() {
        try (KernelPack pack = KernelPack.load()) {
            NDArray w = EngineArrays.create(manager, new float[] {0f, 0f, 0f, 1f, -2f, 3f}, new Shape(2, 3));
            NDArray s = pack.int8Scale(w);
            assertThat(s.toFloatArray()).containsExactly(1f, 3f / 127);
            assertThat(pack.dequantizeInt8(pack.quantizeInt8(w, s), s).toFloatArray()).startsWith(0f, 0f, 0f);
        }
    }

    @Test
    void int8WeightsTakeOneBytePerElementPlusOneFloatScalePerOutputChannel() throws Exception {
        Path dir = Golden.path("transformer", CASE);
        try (CogVideoXTransformer fp32 = CogVideoXTransformer.load(dir, manager);
                CogVideoXTransformer int8 = int8Model(dir, manager)) {
            long elements = 0;
            long channels = 0;
            for (Linear l : int8.namedLinears().values()) {
                assertThat(l.hasInt8Weight()).as(l.name()).isTrue();
                assertThat(l.weightStorageType()).as(l.name()).isEqualTo(DataType.INT8);
                assertThat(l.weightStorageBytes()).as(l.name())
                        .isEqualTo(l.weightShape().size() + 4 * l.outFeatures());
                elements += l.weightShape().size();
                channels += l.outFeatures();
            }
            assertThat(int8.weightBytes()).isEqualTo(fp32.weightBytes() - 3 * elements + 4 * channels);
            assertThat(int8.hasInt8Base()).isTrue();
            LOG.info("{}: weights {} bytes in FLOAT32, {} with an int8 base", CASE, fp32.weightBytes(),
                    int8.weightBytes());
        }
    }

    // ------------------------------------------------------------------------------------------ forward

    @Test
    void oneInt8LinearDiffersFromFp32WithinTheDerivedBound() throws Exception {
        Path dir = Golden.path("transformer", CASE);
        try (CogVideoXTransformer fp32 = CogVideoXTransformer.load(dir, manager);
                CogVideoXTransformer int8 = int8Model(dir, manager)) {
            for (String name : new String[] {"transformer_blocks.0.attn1.to_q", "transformer_blocks.1.ff.net.2",
                    "proj_out"}) {
                Linear ref = fp32.namedLinears().get(name);
                Linear q = int8.namedLinears().get(name);
                int out = (int) ref.outFeatures();
                int in = (int) ref.inFeatures();
                Engine.getInstance().setRandomSeed(11);
                NDArray x = manager.randomNormal(new Shape(7, in));
                float[] xs = x.toFloatArray();
                float[] y = ref.forward(x).toFloatArray();
                float[] yq = q.forward(x).toFloatArray();
                double[] s = exactScales(ref.weightAsFloat32(manager).toFloatArray(), out, in);
                for (int r = 0; r < 7; r++) {
                    double l1 = 0;
                    for (int j = 0; j < in; j++) {
                        l1 += Math.abs(xs[r * in + j]);
                    }
                    for (int i = 0; i < out; i++) {
                        double bound = s[i] * l1 * (0.5 + ELEMENT_SLACK + 2 * in * 127 * U * 1.01);
                        assertThat(Math.abs((double) yq[r * out + i] - y[r * out + i]))
                                .as("%s row %d output %d", name, r, i).isLessThanOrEqualTo(bound);
                    }
                }
            }
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("casesAndPrecisions")
    void aLoraForwardOnAnInt8BaseStaysCloseToTheFp32Forward(String name, ComputePrecision precision)
            throws Exception {
        Path dir = Golden.path("transformer", name);
        try (CogVideoXTransformer fp32 = CogVideoXTransformer.load(dir, manager);
                CogVideoXTransformer int8 = int8Model(dir, manager);
                TensorSource in = SafetensorsReader.open(dir.resolve("inputs.safetensors"))) {
            int8.setComputePrecision(precision);
            String module = "transformer_blocks.0.attn1.to_v";
            Linear v = fp32.namedLinears().get(module);
            Engine.getInstance().setRandomSeed(5);
            NDArray a = manager.randomNormal(new Shape(v.inFeatures(), v.outFeatures())).mul(0.01f);
            fp32.namedLinears().get(module).addAdapter(h -> h.matMul(a));
            int8.namedLinears().get(module).addAdapter(h -> h.matMul(a));
            TransformerInput x = GoldenInputs.transformerInput(in, manager);
            float[] ref = fp32.forward(x).toFloatArray();
            float[] got = int8.forward(x).toFloatArray();
            double maxErr = 0;
            double maxRef = 0;
            double se = 0;
            double sr = 0;
            for (int i = 0; i < ref.length; i++) {
                assertThat(Float.isFinite(got[i])).as("element %d is finite", i).isTrue();
                double d = Math.abs((double) got[i] - ref[i]);
                maxErr = Math.max(maxErr, d);
                maxRef = Math.max(maxRef, Math.abs(ref[i]));
                se += d * d;
                sr += (double) ref[i] * ref[i];
            }
            LOG.info("{} {}: int8 base, sample max|diff| / max|fp32| = {}, relative RMS = {}", name, precision,
                    maxErr / maxRef, Math.sqrt(se / sr));
            assertThat(maxErr).isLessThanOrEqualTo(FORWARD_REL * maxRef);
            assertThat(Math.sqrt(se / sr)).isLessThanOrEqualTo(FORWARD_RMS);
        }
    }

    static Stream<org.junit.jupiter.params.provider.Arguments> casesAndPrecisions() {
        return cases().flatMap(c -> Stream.of(ComputePrecision.values())
                .map(p -> org.junit.jupiter.params.provider.Arguments.of(c, p)));
    }

    // ------------------------------------------------------------------------------------------ training

    @Test
    void anAdapterOnAnInt8BaseReceivesFloat32GradientsAndTheBaseStaysFrozen() throws Exception {
        Path dir = Golden.path("transformer", CASE);
        try (CogVideoXTransformer model = int8Model(dir, manager);
                TensorSource in = SafetensorsReader.open(dir.resolve("inputs.safetensors"))) {
            Linear toQ = model.namedLinears().get("transformer_blocks.0.attn1.to_q");
            Engine.getInstance().setRandomSeed(5);
            NDArray a = manager.randomNormal(new Shape(toQ.inFeatures(), toQ.outFeatures())).mul(0.01f);
            a.setRequiresGradient(true);
            toQ.addAdapter(h -> h.matMul(a));
            NDArray gradG = in.read("grad_G", manager);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                gc.backward(model.forward(GoldenInputs.transformerInput(in, manager)).mul(gradG).sum());
            }
            NDArray g = a.getGradient();
            assertThat(g.getDataType()).isEqualTo(DataType.FLOAT32);
            for (float f : g.toFloatArray()) {
                assertThat(Float.isFinite(f)).isTrue();
            }
            assertThat(g.abs().max().getFloat()).isGreaterThan(0f);
            assertThat(model.namedParameters().values()).noneMatch(NDArray::hasGradient);
        }
    }

    @Test
    void addToWeightMergesIntoAnInt8WeightAndRequantises() throws Exception {
        Path dir = Golden.path("transformer", CASE);
        try (CogVideoXTransformer model = int8Model(dir, manager)) {
            Linear l = model.namedLinears().get("proj_out");
            int out = (int) l.outFeatures();
            int in = (int) l.inFeatures();
            float[] before = l.weightAsFloat32(manager).toFloatArray();
            Engine.getInstance().setRandomSeed(3);
            NDArray delta = manager.randomNormal(new Shape(out, in)).mul(0.05f);
            float[] d = delta.toFloatArray();
            l.addToWeight(delta);
            assertThat(l.weightStorageType()).isEqualTo(DataType.INT8);
            float[] after = l.weightAsFloat32(manager).toFloatArray();
            float[] target = new float[before.length];
            for (int i = 0; i < target.length; i++) {
                target[i] = before[i] + d[i];
            }
            double[] s = exactScales(target, out, in);
            for (int i = 0; i < out; i++) {
                for (int j = 0; j < in; j++) {
                    assertThat(Math.abs((double) after[i * in + j] - target[i * in + j])).as("[%d, %d]", i, j)
                            .isLessThanOrEqualTo(s[i] * (0.5 + ELEMENT_SLACK));
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------ guards

    @Test
    void quantisingATrainableBaseIsRefusedAsAFullFineTune() throws Exception {
        try (CogVideoXTransformer model = CogVideoXTransformer.load(Golden.path("transformer", CASE), manager)) {
            assertThatThrownBy(model::quantizeBaseWeightsToInt8).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("requires a gradient").hasMessageContaining("full fine-tune");
            assertThat(model.hasInt8Base()).isFalse();
            assertThat(model.namedLinears().values()).noneMatch(Linear::hasInt8Weight);
        }
    }

    @Test
    void anInt8BaseRefusesToRequireGradientsAndToHandOutItsCodes() throws Exception {
        try (CogVideoXTransformer model = int8Model(Golden.path("transformer", CASE), manager)) {
            assertThatThrownBy(() -> model.setRequiresGradient(true)).isInstanceOf(UnsupportedDTypeException.class)
                    .hasMessageContaining("int8");
            Linear l = model.namedLinears().get("proj_out");
            assertThatThrownBy(l::weight).isInstanceOf(UnsupportedDTypeException.class)
                    .hasMessageContaining("proj_out.weight").hasMessageContaining("weightAsFloat32");
            assertThat(model.namedParameters()).doesNotContainKey("proj_out.weight").containsKey("proj_out.bias");
        }
    }
}
