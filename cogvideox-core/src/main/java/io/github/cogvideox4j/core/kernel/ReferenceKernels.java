package io.github.cogvideox4j.core.kernel;

import ai.djl.ndarray.NDArray;

/** TEMPORARY stub (replaced by the kernel branch). */
public final class ReferenceKernels {
    private ReferenceKernels() {}

    public static NDArray naiveAttention(NDArray q, NDArray k, NDArray v) {
        double scale = 1.0 / Math.sqrt(q.getShape().get(q.getShape().dimension() - 1));
        NDArray s = q.matMul(k.swapAxes(-1, -2)).muli(scale);
        NDArray p = s.softmax(-1);
        return p.matMul(v);
    }

    public static NDArray geluTanh(NDArray x) {
        NDArray inner = x.pow(3).mul(0.044715).add(x).mul(Math.sqrt(2 / Math.PI)).tanh().add(1);
        return x.mul(0.5).mul(inner);
    }
}
