package io.github.cogvideox4j.lora.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** AdamW against its formula, state save/restore, gradient clearing and native-memory hygiene. */
class AdamWTest {
    private static final float[][] GRADS = {{0.5f, -1f, 2f, 0f}, {-0.25f, 3f, 0.1f, -4f}, {1f, 1f, -1f, 0.5f}};

    /** Installs {@code g} as the gradient of {@code p} through autograd ({@code d/dp sum(g * p) = g}). */
    static void setGradient(NDManager manager, NDArray p, float[] g) {
        try (NDManager step = manager.newSubManager();
                GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            gc.backward(step.create(g, p.getShape()).mul(p).sum());
        }
    }

    @Test
    void stepFollowsTheDecoupledWeightDecayFormulaWithBiasCorrection() {
        double lr = 0.01, b1 = 0.8, b2 = 0.9, eps = 1e-3, wd = 0.1;
        double[] p = {1, -2, 0.5, 3};
        double[] m = new double[4];
        double[] v = new double[4];
        try (NDManager manager = NDManager.newBaseManager();
                AdamW adamW = AdamW.builder().learningRate(lr).betas(b1, b2).epsilon(eps).weightDecay(wd).build()) {
            NDArray param = manager.create(new float[] {1, -2, 0.5f, 3});
            param.setRequiresGradient(true);
            for (int t = 1; t <= GRADS.length; t++) {
                setGradient(manager, param, GRADS[t - 1]);
                adamW.step(Map.of("w", param));
                for (int i = 0; i < 4; i++) {
                    double g = GRADS[t - 1][i];
                    p[i] *= 1 - lr * wd;
                    m[i] = b1 * m[i] + (1 - b1) * g;
                    v[i] = b2 * v[i] + (1 - b2) * g * g;
                    double denom = Math.sqrt(v[i]) / Math.sqrt(1 - Math.pow(b2, t)) + eps;
                    p[i] -= lr / (1 - Math.pow(b1, t)) * m[i] / denom;
                }
                float[] actual = param.toFloatArray();
                OptimizerState.Moments mom = adamW.state().moments().get("w");
                for (int i = 0; i < 4; i++) {
                    assertThat((double) actual[i]).as("p[%d] at t=%d", i, t).isCloseTo(p[i], within(2e-6));
                    assertThat((double) mom.expAvg()[i]).isCloseTo(m[i], within(2e-6));
                    assertThat((double) mom.expAvgSq()[i]).isCloseTo(v[i], within(2e-6));
                }
            }
            assertThat(adamW.stepCount()).isEqualTo(3);
        }
    }

    @Test
    void stepClearsTheGradientEvenWhenItHoldsNaN() {
        try (NDManager manager = NDManager.newBaseManager(); AdamW adamW = AdamW.builder().build()) {
            NDArray param = manager.create(new float[] {1, 2});
            param.setRequiresGradient(true);
            setGradient(manager, param, new float[] {Float.NaN, Float.POSITIVE_INFINITY});
            adamW.step(Map.of("w", param));
            try (NDManager scope = manager.newSubManager()) {
                assertThat(Gradients.of(param, scope).toFloatArray()).containsExactly(0f, 0f);
            }
        }
    }

    @Test
    void restoredStateContinuesExactlyLikeTheOriginal() {
        try (NDManager manager = NDManager.newBaseManager();
                AdamW first = AdamW.builder().learningRate(0.01).build();
                AdamW resumed = AdamW.builder().learningRate(0.01).build()) {
            NDArray a = manager.create(new float[] {1, -2, 0.5f, 3});
            NDArray b = manager.create(new float[] {1, -2, 0.5f, 3});
            a.setRequiresGradient(true);
            b.setRequiresGradient(true);
            for (int t = 0; t < 2; t++) {
                setGradient(manager, a, GRADS[t]);
                first.step(Map.of("w", a));
            }
            float[] saved = a.toFloatArray();
            OptimizerState state = first.state();
            setGradient(manager, a, GRADS[2]);
            first.step(Map.of("w", a));

            try (NDArray src = manager.create(saved)) {
                b.set(new ai.djl.ndarray.index.NDIndex(":"), src);
            }
            resumed.loadState(state, b.getDevice());
            setGradient(manager, b, GRADS[2]);
            resumed.step(Map.of("w", b));
            assertThat(b.toFloatArray()).containsExactly(a.toFloatArray());
            assertThat(resumed.stepCount()).isEqualTo(3);
        }
    }

    @Test
    void aThousandUpdatesDoNotGrowTheParametersManager() {
        try (NDManager manager = NDManager.newBaseManager();
                NDManager paramManager = manager.newSubManager();
                AdamW adamW = AdamW.builder().learningRate(1e-3).weightDecay(1e-4).build()) {
            Map<String, NDArray> params = new LinkedHashMap<>();
            for (int i = 0; i < 4; i++) {
                NDArray p = paramManager.randomNormal(new Shape(8, 16));
                p.setRequiresGradient(true);
                params.put("p" + i, p);
            }
            setGradients(manager, params);
            adamW.step(params);
            int arrays = paramManager.getManagedArrays().size();
            for (int i = 0; i < 1000; i++) {
                setGradients(manager, params);
                GradientClipper.clipGlobalNorm(params.values(), 0.1);
                adamW.step(params);
            }
            assertThat(paramManager.getManagedArrays()).hasSize(arrays);
            assertThat(adamW.stepCount()).isEqualTo(1001);
        }
    }

    private static void setGradients(NDManager manager, Map<String, NDArray> params) {
        try (NDManager step = manager.newSubManager();
                GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            NDArray loss = null;
            for (NDArray p : params.values()) {
                NDArray term = step.ones(p.getShape()).mul(p).sum();
                loss = loss == null ? term : loss.add(term);
            }
            gc.backward(loss);
        }
    }
}
