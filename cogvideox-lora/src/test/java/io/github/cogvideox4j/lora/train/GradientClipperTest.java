package io.github.cogvideox4j.lora.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Global-norm clipping: the returned pre-clip norm, the torch coefficient, and no change below the limit. */
class GradientClipperTest {
    private static List<NDArray> params(NDManager manager) {
        NDArray a = manager.create(new float[] {3, 0});
        NDArray b = manager.create(new float[] {0, 4, 0});
        a.setRequiresGradient(true);
        b.setRequiresGradient(true);
        AdamWTest.setGradient(manager, a, new float[] {3, 0});
        AdamWTest.setGradient(manager, b, new float[] {0, 4, 0});
        return List.of(a, b);
    }

    private static float[] grad(NDManager manager, NDArray p) {
        try (NDManager scope = manager.newSubManager()) {
            return Gradients.of(p, scope).toFloatArray();
        }
    }

    @Test
    void returnsThePreClipNormAndLeavesGradientsUnchangedBelowTheLimit() {
        try (NDManager manager = NDManager.newBaseManager()) {
            List<NDArray> ps = params(manager);
            assertThat(GradientClipper.clipGlobalNorm(ps, 5.5)).isEqualTo(5.0);
            assertThat(grad(manager, ps.get(0))).containsExactly(3f, 0f);
            assertThat(grad(manager, ps.get(1))).containsExactly(0f, 4f, 0f);
        }
    }

    @Test
    void scalesEveryGradientByMaxOverNormPlusEpsilon() {
        try (NDManager manager = NDManager.newBaseManager()) {
            List<NDArray> ps = params(manager);
            assertThat(GradientClipper.clipGlobalNorm(ps, 1.0)).isEqualTo(5.0);
            double coef = 1.0 / (5.0 + 1e-6);
            float[] a = grad(manager, ps.get(0));
            float[] b = grad(manager, ps.get(1));
            assertThat((double) a[0]).isCloseTo(3 * coef, within(1e-7));
            assertThat((double) b[1]).isCloseTo(4 * coef, within(1e-7));
            assertThat(GradientClipper.globalNorm(ps)).isCloseTo(1.0, within(1e-6));
        }
    }
}
