package io.github.cogvideox4j.core.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.engine.EngineException;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class KernelPackTest {
    private static KernelPack pack;

    @BeforeAll
    static void loadPack() {
        pack = KernelPack.load();
    }

    @AfterAll
    static void closePack() {
        pack.close();
    }

    @BeforeEach
    void seed() {
        Engine.getInstance().setRandomSeed(42);
    }

    /** Max |a - b|, computed in float64 (exact for float32 inputs), temporaries closed. */
    private static double maxAbsDiff(NDArray a, NDArray b) {
        try (NDManager tmp = a.getManager().newSubManager()) {
            NDArray a64 = a.toType(DataType.FLOAT64, true);
            a64.attach(tmp);
            NDArray b64 = b.toType(DataType.FLOAT64, true);
            b64.attach(tmp);
            NDArray d = a64.sub(b64);
            d.attach(tmp);
            NDArray m = d.abs();
            m.attach(tmp);
            NDArray max = m.max();
            max.attach(tmp);
            return max.getDouble();
        }
    }


    private static double maxAbs(NDArray a) {
        try (NDManager tmp = a.getManager().newSubManager()) {
            NDArray abs = a.abs();
            abs.attach(tmp);
            NDArray max = abs.max();
            max.attach(tmp);
            return max.toType(DataType.FLOAT64, false).getDouble();
        }
    }

    // ---------------------------------------------------------------- attention, forward

    @Test
    void attentionMatchesNaiveOnSmallRandomInput() {
        try (NDManager m = NDManager.newBaseManager()) {
            Shape shape = new Shape(2, 3, 50, 16);
            NDArray q = m.randomNormal(shape);
            NDArray k = m.randomNormal(shape);
            NDArray v = m.randomNormal(shape);
            NDArray fused = pack.scaledDotProductAttention(q, k, v);
            NDArray naive = ReferenceKernels.naiveAttention(q, k, v);
            assertThat(fused.getShape()).isEqualTo(shape);
            assertThat(maxAbsDiff(fused, naive)).isLessThanOrEqualTo(1e-5);
        }
    }

    @Test
    void attentionMatchesNaiveAtTextPlusVideoLengthWithHeadDim64() {
        try (NDManager m = NDManager.newBaseManager()) {
            Shape shape = new Shape(1, 2, 226 + 54, 64);
            NDArray q = m.randomNormal(shape);
            NDArray k = m.randomNormal(shape);
            NDArray v = m.randomNormal(shape);
            double diff = maxAbsDiff(
                    pack.scaledDotProductAttention(q, k, v), ReferenceKernels.naiveAttention(q, k, v));
            assertThat(diff).isLessThanOrEqualTo(1e-5);
        }
    }

    @Test
    void attentionAcceptsFloat16AndStaysCloseToFloat32() {
        try (NDManager m = NDManager.newBaseManager()) {
            Shape shape = new Shape(1, 2, 40, 16);
            NDArray q = m.randomNormal(shape).toType(DataType.FLOAT16, false).toType(DataType.FLOAT32, false);
            NDArray k = m.randomNormal(shape).toType(DataType.FLOAT16, false).toType(DataType.FLOAT32, false);
            NDArray v = m.randomNormal(shape).toType(DataType.FLOAT16, false).toType(DataType.FLOAT32, false);
            NDArray half = pack.scaledDotProductAttention(
                    q.toType(DataType.FLOAT16, false), k.toType(DataType.FLOAT16, false),
                    v.toType(DataType.FLOAT16, false));
            assertThat(half.getDataType()).isEqualTo(DataType.FLOAT16);
            double diff = maxAbsDiff(half.toType(DataType.FLOAT32, false), ReferenceKernels.naiveAttention(q, k, v));
            assertThat(diff).isLessThanOrEqualTo(2e-3); // fp16 output rounding (2^-11 relative) plus fp16 math
        }
    }

    // ---------------------------------------------------------------- attention, gradients

    @Test
    void attentionGradientsMatchNaiveUnderGradientCollector() {
        try (NDManager m = NDManager.newBaseManager()) {
            Shape shape = new Shape(2, 3, 50, 16);
            NDArray q = m.randomNormal(shape);
            NDArray k = m.randomNormal(shape);
            NDArray v = m.randomNormal(shape);
            NDArray upstream = m.randomNormal(shape);
            NDArray[] fused = attentionGradients(q, k, v, upstream, true);
            NDArray[] naive = attentionGradients(q, k, v, upstream, false);
            for (int i = 0; i < 3; i++) {
                assertThat(maxAbs(fused[i])).as("gradient %d is not trivially zero", i).isGreaterThan(1e-2);
                assertThat(maxAbsDiff(fused[i], naive[i])).as("d%s", "qkv".charAt(i)).isLessThanOrEqualTo(1e-5);
            }
        }
    }

    @Test
    void sequentialGradientCollectorsBothGetGradientsThroughThePack() {
        try (NDManager m = NDManager.newBaseManager()) {
            Shape shape = new Shape(1, 2, 24, 8);
            for (int round = 0; round < 2; round++) {
                NDArray q = m.randomNormal(shape);
                NDArray k = m.randomNormal(shape);
                NDArray v = m.randomNormal(shape);
                NDArray upstream = m.randomNormal(shape);
                NDArray[] fused = attentionGradients(q, k, v, upstream, true);
                NDArray[] naive = attentionGradients(q, k, v, upstream, false);
                for (int i = 0; i < 3; i++) {
                    assertThat(maxAbsDiff(fused[i], naive[i])).as("round %d d%s", round, "qkv".charAt(i))
                            .isLessThanOrEqualTo(1e-5);
                }
            }
        }
    }

    /** Fresh leaf copies of q, k, v; one collector; returns dq, dk, dv for loss = sum(out * upstream). */
    private static NDArray[] attentionGradients(NDArray q, NDArray k, NDArray v, NDArray upstream, boolean fused) {
        NDArray ql = q.duplicate();
        NDArray kl = k.duplicate();
        NDArray vl = v.duplicate();
        ql.setRequiresGradient(true);
        kl.setRequiresGradient(true);
        vl.setRequiresGradient(true);
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            NDArray out = fused ? pack.scaledDotProductAttention(ql, kl, vl) : ReferenceKernels.naiveAttention(ql, kl, vl);
            gc.backward(out.mul(upstream).sum());
        }
        return new NDArray[] {ql.getGradient(), kl.getGradient(), vl.getGradient()};
    }

    // ---------------------------------------------------------------- gelu

    @Test
    void geluTanhMatchesComposedReference() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.randomNormal(0f, 3f, new Shape(4, 1000), DataType.FLOAT32);
            assertThat(maxAbsDiff(pack.geluTanh(x), ReferenceKernels.geluTanh(x))).isLessThanOrEqualTo(1e-6);
        }
    }

    @Test
    void geluTanhGradientMatchesComposedReferenceInFloat32AtUnitScale() {
        // Unit-scale inputs and upstream gradients, as in a transformer's MLP: both float32 gradients are then
        // within a few ulp of 1. (At |x| ~ 9 and |upstream| ~ 4 float32 rounding alone reaches ~3e-6 in either
        // implementation; the float64 test below shows the maths is identical.)
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.randomNormal(new Shape(4, 1000));
            NDArray upstream = m.randomUniform(-1f, 1f, new Shape(4, 1000));
            NDArray fused = geluGradient(x, upstream, true);
            NDArray reference = geluGradient(x, upstream, false);
            assertThat(maxAbs(fused)).isGreaterThan(0.1);
            assertThat(maxAbsDiff(fused, reference)).isLessThanOrEqualTo(1e-6);
        }
    }

    @Test
    void geluTanhForwardAndGradientEqualComposedReferenceInFloat64OverAWideRange() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.randomNormal(0f, 3f, new Shape(4, 1000), DataType.FLOAT32).toType(DataType.FLOAT64, false);
            NDArray upstream = m.randomNormal(new Shape(4, 1000)).toType(DataType.FLOAT64, false);
            NDArray forward = pack.geluTanh(x);
            assertThat(forward.getDataType()).isEqualTo(DataType.FLOAT64);
            assertThat(maxAbsDiff(forward, ReferenceKernels.geluTanh(x))).isLessThanOrEqualTo(1e-12);
            assertThat(maxAbsDiff(geluGradient(x, upstream, true), geluGradient(x, upstream, false)))
                    .isLessThanOrEqualTo(1e-12);
        }
    }

    /** d/dx of sum(gelu(x) * upstream), through the pack or the composed reference, in a fresh leaf copy. */
    private static NDArray geluGradient(NDArray x, NDArray upstream, boolean fused) {
        NDArray leaf = x.duplicate();
        leaf.setRequiresGradient(true);
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            NDArray y = fused ? pack.geluTanh(leaf) : ReferenceKernels.geluTanh(leaf);
            gc.backward(y.mul(upstream).sum());
        }
        return leaf.getGradient();
    }

    // ---------------------------------------------------------------- ownership and leaks

    @Test
    void resultsBelongToTheFirstInputsManager() {
        try (NDManager m = NDManager.newBaseManager();
                NDManager qm = m.newSubManager();
                NDManager kvm = m.newSubManager()) {
            Shape shape = new Shape(1, 1, 4, 8);
            NDArray q = qm.randomNormal(shape);
            NDArray k = kvm.randomNormal(shape);
            NDArray v = kvm.randomNormal(shape);
            assertThat(pack.scaledDotProductAttention(q, k, v).getManager()).isSameAs(qm);
            assertThat(pack.geluTanh(k).getManager()).isSameAs(kvm);
            NDArray bf16 = pack.toBf16(q);
            assertThat(bf16.getManager()).isSameAs(qm);
            assertThat(pack.toFloat32(bf16).getManager()).isSameAs(qm);
        }
    }

    @Test
    void twoThousandCallsLeaveNoArraysInThePackOrInTheCallersManager() {
        int packBaseline = pack.manager().getManagedArrays().size();
        try (NDManager m = NDManager.newBaseManager()) {
            Shape shape = new Shape(1, 2, 8, 4);
            NDArray q = m.randomNormal(shape);
            NDArray k = m.randomNormal(shape);
            NDArray v = m.randomNormal(shape);
            q.setName("named.inputs.take.the.view.path");
            int baseline = m.getManagedArrays().size();
            for (int i = 0; i < 2000; i++) {
                NDArray out = i % 2 == 0 ? pack.scaledDotProductAttention(q, k, v) : pack.geluTanh(q);
                assertThat(m.getManagedArrays()).hasSize(baseline + 1).contains(out);
                out.close();
            }
            assertThat(m.getManagedArrays()).hasSize(baseline);
        }
        assertThat(pack.manager().getManagedArrays()).hasSize(packBaseline);
    }

    @Test
    void callsWithBackwardInPerStepSubManagersLeaveTheParentManagerFlat() {
        int packBaseline = pack.manager().getManagedArrays().size();
        try (NDManager m = NDManager.newBaseManager()) {
            Shape shape = new Shape(1, 2, 8, 4);
            NDArray q = m.randomNormal(shape);
            NDArray k = m.randomNormal(shape);
            NDArray v = m.randomNormal(shape);
            int baseline = m.getManagedArrays().size();
            for (int i = 0; i < 200; i++) {
                try (NDManager step = m.newSubManager()) {
                    NDArray ql = q.duplicate();
                    ql.attach(step);
                    ql.setRequiresGradient(true);
                    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                        NDArray out = pack.geluTanh(pack.scaledDotProductAttention(ql, k, v));
                        assertThat(out.getManager()).isSameAs(step);
                        gc.backward(out.sum());
                    }
                    ql.getGradient().attach(step);
                }
                assertThat(m.getManagedArrays()).hasSize(baseline);
            }
        }
        assertThat(pack.manager().getManagedArrays()).hasSize(packBaseline);
    }

    // ---------------------------------------------------------------- grad mode and threads

    @Test
    void resultComputedWithoutRecordingSupportsInPlaceOpsAndALaterBackward() {
        // Guards the choice of isTrain=true: with isTrain=false DJL runs the method under InferenceMode, and
        // its "inference tensor" results reject in-place updates and cannot be saved for a backward.
        try (NDManager m = NDManager.newBaseManager()) {
            Shape shape = new Shape(1, 1, 6, 4);
            NDArray q = m.randomNormal(shape);
            NDArray out = pack.scaledDotProductAttention(q, q, q);
            out.addi(1f);
            NDArray w = m.randomNormal(new Shape(4, 4));
            w.setRequiresGradient(true);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                gc.backward(out.matMul(w).sum());
            }
            assertThat(maxAbs(w.getGradient())).isGreaterThan(0.0);
        }
    }

    @Test
    void recordsAGraphExactlyWhenTheThreadsGradModeIsOnLikeDjlOps() {
        // A GradientCollector switches grad mode on; torch starts threads other than the engine's with it on.
        boolean before = JniUtils.isGradMode();
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.randomNormal(new Shape(3, 5));
            x.setRequiresGradient(true);
            for (boolean mode : new boolean[] {false, true}) {
                JniUtils.setGradMode(mode);
                NDArray fused = pack.geluTanh(x);
                NDArray djl = x.mul(2f);
                assertThat(backwardWorks(fused)).as("pack, grad mode %s", mode).isEqualTo(mode);
                assertThat(backwardWorks(djl)).as("DJL op, grad mode %s", mode).isEqualTo(mode);
            }
        } finally {
            JniUtils.setGradMode(before);
        }
    }

    /** Whether {@code y} carries an autograd graph (backward from it succeeds). */
    private static boolean backwardWorks(NDArray y) {
        try (NDManager tmp = y.getManager().newSubManager()) {
            NDArray ones = tmp.ones(y.getShape());
            JniUtils.backward((PtNDArray) y, (PtNDArray) ones, false, false);
            return true;
        } catch (EngineException e) {
            return false;
        }
    }

    @Test
    void concurrentCallsFromTwoThreadsGiveTheSequentialResults() throws Exception {
        int threads = 2;
        int calls = 100;
        Shape shape = new Shape(1, 2, 32, 16);
        try (NDManager m = NDManager.newBaseManager()) {
            List<NDArray[]> inputs = new ArrayList<>();
            List<float[]> expected = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                NDArray[] qkv = {m.randomNormal(shape), m.randomNormal(shape), m.randomNormal(shape)};
                inputs.add(qkv);
                expected.add(pack.scaledDotProductAttention(qkv[0], qkv[1], qkv[2]).toFloatArray());
            }
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            AtomicBoolean go = new AtomicBoolean();
            try {
                List<Future<Integer>> mismatches = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    NDArray[] qkv = inputs.get(t);
                    float[] want = expected.get(t);
                    mismatches.add(pool.submit(() -> {
                        while (!go.get()) {
                            Thread.onSpinWait();
                        }
                        int bad = 0;
                        for (int i = 0; i < calls; i++) {
                            try (NDManager local = NDManager.newBaseManager()) {
                                NDArray q = qkv[0].duplicate();
                                q.attach(local);
                                float[] got = pack.scaledDotProductAttention(q, qkv[1], qkv[2]).toFloatArray();
                                if (!java.util.Arrays.equals(got, want)) {
                                    bad++;
                                }
                            }
                        }
                        return bad;
                    }));
                }
                go.set(true);
                for (Future<Integer> f : mismatches) {
                    assertThat(f.get(60, TimeUnit.SECONDS)).isZero();
                }
            } finally {
                pool.shutdown();
            }
        }
    }

    // ---------------------------------------------------------------- bf16 casts and guards

    @Test
    void toBf16ReturnsAnUnknownDtypeArrayThatTheGuardRejects() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray bf16 = pack.toBf16(m.randomNormal(new Shape(2, 3)));
            assertThat(bf16.getDataType()).isEqualTo(DataType.UNKNOWN);
            assertThatThrownBy(() -> DTypeGuard.requireSupported(bf16, "cast result"))
                    .isInstanceOf(UnsupportedDTypeException.class)
                    .hasMessageContaining("cast result")
                    .hasMessageContaining("UNKNOWN");
        }
    }

    @Test
    void toFloat32RoundTripsThroughBf16WithinBf16Precision() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.randomNormal(new Shape(64));
            NDArray back = pack.toFloat32(pack.toBf16(x));
            assertThat(back.getDataType()).isEqualTo(DataType.FLOAT32);
            float[] a = x.toFloatArray();
            float[] b = back.toFloatArray();
            for (int i = 0; i < a.length; i++) {
                assertThat(Math.abs(a[i] - b[i])).isLessThanOrEqualTo(Math.abs(a[i]) * 0x1p-8f);
            }
        }
    }

    @Test
    void kernelsRejectTheUnknownDtypeOfABf16ArrayBeforeNativeCode() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray q = m.randomNormal(new Shape(1, 1, 4, 8));
            NDArray bf16 = pack.toBf16(q);
            assertThatThrownBy(() -> pack.scaledDotProductAttention(bf16, q, q))
                    .isInstanceOf(UnsupportedDTypeException.class).hasMessageContaining("attention query");
            assertThatThrownBy(() -> pack.geluTanh(bf16))
                    .isInstanceOf(UnsupportedDTypeException.class).hasMessageContaining("gelu input");
            assertThatThrownBy(() -> ReferenceKernels.naiveAttention(q, bf16, q))
                    .isInstanceOf(UnsupportedDTypeException.class).hasMessageContaining("attention key");
        }
    }

    // ---------------------------------------------------------------- argument checks

    @Test
    void namedInputsGiveTheSameResultAndKeepTheirNames() {
        try (NDManager m = NDManager.newBaseManager()) {
            Shape shape = new Shape(1, 2, 6, 4);
            NDArray q = m.randomNormal(shape);
            NDArray k = m.randomNormal(shape);
            NDArray v = m.randomNormal(shape);
            float[] plain = pack.scaledDotProductAttention(q, k, v).toFloatArray();
            q.setName("transformer_blocks.0.attn1.q");
            k.setName("module_method:gelu_tanh");
            v.setName("v[]");
            assertThat(pack.scaledDotProductAttention(q, k, v).toFloatArray()).containsExactly(plain);
            assertThat(q.getName()).isEqualTo("transformer_blocks.0.attn1.q");
        }
    }

    @Test
    void attentionRejectsMismatchedShapesNamingThem() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray q = m.zeros(new Shape(1, 2, 6, 4));
            NDArray k = m.zeros(new Shape(1, 2, 6, 8));
            assertThatThrownBy(() -> pack.scaledDotProductAttention(q, k, k))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("(1, 2, 6, 8)");
            NDArray flat = m.zeros(new Shape(6, 4));
            assertThatThrownBy(() -> pack.scaledDotProductAttention(flat, flat, flat))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[B, H, S, d]");
        }
    }

    @Test
    void closedPackRejectsCalls() {
        KernelPack own = KernelPack.load();
        own.close();
        own.close(); // idempotent
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray x = m.zeros(new Shape(2));
            assertThatThrownBy(() -> own.geluTanh(x)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("closed");
        }
    }

    @Test
    void theSharedPackIsOneInstanceThatClosingLeavesWorking() {
        KernelPack shared = KernelPack.shared();
        assertThat(KernelPack.shared()).isSameAs(shared);
        shared.close();
        try (NDManager m = NDManager.newBaseManager(); NDArray x = m.zeros(new Shape(2));
                NDArray y = shared.geluTanh(x)) {
            assertThat(y.toFloatArray()).containsExactly(0f, 0f);
        }
    }
}
