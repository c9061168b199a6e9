package io.github.cogvideox4j.lora.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;

/**
 * Gradient access without leaks: DJL's {@code getGradient()} makes a new handle in the parameter's long-lived
 * manager on every call (docs/djl-engine.md §4), so these helpers move it into a caller's per-call manager at once.
 *
 * <p>Thread safety: stateless; the arrays are confined to their thread.
 */
public final class Gradients {
    private Gradients() {}

    /**
     * @param parameter an array that requires gradients
     * @param scope the per-call manager that will own the returned handle
     * @return a handle on the parameter's gradient (same storage: writes go to the gradient), owned by {@code scope}
     */
    public static NDArray of(NDArray parameter, NDManager scope) {
        NDArray g = parameter.getGradient();
        g.attach(scope);
        return g;
    }

    /**
     * Sets a parameter's gradient to zeros by filling (PyTorch {@code grad.zero_()}), which also clears NaN and
     * infinities (subtracting or multiplying by zero would not).
     *
     * @param parameter an array that requires gradients
     */
    public static void clear(NDArray parameter) {
        if (parameter instanceof PtNDArray pt) {
            JniUtils.zeroGrad(pt);
            return;
        }
        try (NDManager scope = parameter.getManager().newSubManager()) {
            of(parameter, scope).set(new NDIndex(":"), 0f);
        }
    }
}
