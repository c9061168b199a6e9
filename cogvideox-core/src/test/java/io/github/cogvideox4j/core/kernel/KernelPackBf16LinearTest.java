package io.github.cogvideox4j.core.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The kernel pack's bf16 linear methods: results within bf16 rounding of the fp32 linear, fp32 gradients, a bf16
 * weight used as is, the in-place bf16 merge, and the guards.
 */
class KernelPackBf16LinearTest {
    /** bf16 keeps 8 significant bits: operand rounding 2^-9 each, plus the bf16 output rounding. */
    private static final double BF16_REL = 1e-2;

    private static KernelPack pack;
    private NDManager manager;
    private NDArray x;
    private NDArray w;
    private NDArray b;

    @BeforeAll
    static void loadPack() {
        pack = KernelPack.load();
    }

    @AfterAll
    static void closePack() {
        pack.close();
    }

    @BeforeEach
    void setUp() {
        Engine.getInstance().setRandomSeed(11);
        manager = NDManager.newBaseManager();
        x = manager.randomNormal(new Shape(2, 7, 64));
        w = manager.randomNormal(new Shape(48, 64)).mul(0.1f);
        b = manager.randomNormal(new Shape(48));
    }

    @AfterEach
    void tearDown() {
        manager.close();
    }

    private static NDArray fp32Linear(NDArray x, NDArray w, NDArray b) {
        return ai.djl.nn.core.Linear.linear(x, w, b).singletonOrThrow();
    }

    /** max |a - e| / max |e|. */
    private static double relToMax(float[] a, float[] e) {
        double maxErr = 0;
        double maxRef = 0;
        for (int i = 0; i < a.length; i++) {
            maxErr = Math.max(maxErr, Math.abs((double) a[i] - e[i]));
            maxRef = Math.max(maxRef, Math.abs(e[i]));
        }
        return maxErr / maxRef;
    }

    /** Round to nearest even bf16, as torch's float -> bfloat16 cast (no NaN in the data). */
    static float roundToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        bits += 0x7FFF + ((bits >>> 16) & 1);
        return Float.intBitsToFloat(bits & 0xFFFF0000);
    }

    @Test
    void linearBf16ReturnsFloat32WithinBf16RoundingOfTheFp32Linear() {
        NDArray y = pack.linearBf16(x, w, b);
        assertThat(y.getDataType()).isEqualTo(DataType.FLOAT32);
        assertThat(y.getShape()).isEqualTo(new Shape(2, 7, 48));
        double rel = relToMax(y.toFloatArray(), fp32Linear(x, w, b).toFloatArray());
        assertThat(rel).isGreaterThan(0).isLessThan(BF16_REL);
    }

    @Test
    void linearBf16WithoutBiasMatchesTheFp32LinearWithoutBias() {
        double rel = relToMax(pack.linearBf16(x, w, null).toFloatArray(), fp32Linear(x, w, null).toFloatArray());
        assertThat(rel).isLessThan(BF16_REL);
    }

    @Test
    void aBf16WeightGivesTheSameResultAsItsFloat32Master() {
        NDArray w16 = pack.toBf16(w);
        assertThat(pack.linearBf16(x, w16, b).toFloatArray()).containsExactly(pack.linearBf16(x, w, b).toFloatArray());
    }

    @Test
    void linearWidenOfABf16WeightIsTheFp32LinearOfTheRoundedWeight() {
        NDArray w16 = pack.toBf16(w);
        NDArray wide = pack.toFloat32(w16);
        double rel = relToMax(pack.linearWiden(x, w16, b).toFloatArray(), fp32Linear(x, wide, b).toFloatArray());
        assertThat(rel).isLessThan(1e-6);
    }

    @Test
    void toFloat32OfToBf16RoundsToNearestEven() {
        float[] rounded = pack.toFloat32(pack.toBf16(w)).toFloatArray();
        float[] orig = w.toFloatArray();
        for (int i = 0; i < orig.length; i++) {
            assertThat(rounded[i]).as("element %d", i).isEqualTo(roundToBf16(orig[i]));
        }
    }

    @Test
    void linearBf16GivesFloat32GradientsCloseToTheFp32Gradients() {
        NDArray gOut = manager.randomNormal(new Shape(2, 7, 48));
        float[][] fp32 = gradients(gOut, false);
        float[][] bf16 = gradients(gOut, true);
        for (int i = 0; i < 3; i++) {
            assertThat(relToMax(bf16[i], fp32[i])).as("gradient %d (x, w, b)", i).isLessThan(BF16_REL);
        }
    }

    private float[][] gradients(NDArray gOut, boolean bf16) {
        NDArray xs = x.duplicate();
        NDArray ws = w.duplicate();
        NDArray bs = b.duplicate();
        for (NDArray a : new NDArray[] {xs, ws, bs}) {
            a.setRequiresGradient(true);
        }
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            NDArray y = bf16 ? pack.linearBf16(xs, ws, bs) : fp32Linear(xs, ws, bs);
            gc.backward(y.mul(gOut).sum());
        }
        for (NDArray a : new NDArray[] {xs, ws, bs}) {
            assertThat(a.getGradient().getDataType()).isEqualTo(DataType.FLOAT32);
        }
        return new float[][] {xs.getGradient().toFloatArray(), ws.getGradient().toFloatArray(),
            bs.getGradient().toFloatArray()};
    }

    @Test
    void addIntoBf16AddsInPlaceWithOneBf16Rounding() {
        NDArray w16 = pack.toBf16(w);
        float[] before = pack.toFloat32(w16).toFloatArray();
        NDArray delta = manager.randomNormal(new Shape(48, 64)).mul(0.01f);
        float[] d = delta.toFloatArray();
        pack.addIntoBf16(w16, delta);
        float[] after = pack.toFloat32(w16).toFloatArray();
        for (int i = 0; i < after.length; i++) {
            assertThat(after[i]).as("element %d", i).isEqualTo(roundToBf16(before[i] + d[i]));
        }
    }

    @Test
    void linearBf16RefusesABf16Input() {
        NDArray x16 = pack.toBf16(x);
        assertThatThrownBy(() -> pack.linearBf16(x16, w, b)).isInstanceOf(UnsupportedDTypeException.class)
                .hasMessageContaining("linearBf16 input");
    }

    @Test
    void linearBf16RefusesAFloat16InputAndAMisfittingWeight() {
        NDArray x16 = x.toType(DataType.FLOAT16, false);
        assertThatThrownBy(() -> pack.linearBf16(x16, w, b)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("FLOAT32");
        NDArray wide = manager.zeros(new Shape(48, 65));
        assertThatThrownBy(() -> pack.linearBf16(x, wide, b)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("does not fit");
    }

    @Test
    void addIntoBf16RefusesAFloat32TargetAndABf16Delta() {
        NDArray w16 = pack.toBf16(w);
        assertThatThrownBy(() -> pack.addIntoBf16(w, w)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("must be a bf16 array");
        assertThatThrownBy(() -> pack.addIntoBf16(w16, w16)).isInstanceOf(UnsupportedDTypeException.class);
        assertThat(manager.create(2f).getFloat()).isEqualTo(2f); // the JVM is alive
    }
}
