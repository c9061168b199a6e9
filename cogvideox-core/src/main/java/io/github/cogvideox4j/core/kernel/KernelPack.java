package io.github.cogvideox4j.core.kernel;

import ai.djl.ndarray.NDArray;

/** TEMPORARY stub (replaced by the kernel branch). */
public final class KernelPack implements AutoCloseable {
    public static KernelPack load() {
        return new KernelPack();
    }

    public NDArray scaledDotProductAttention(NDArray q, NDArray k, NDArray v) {
        return ReferenceKernels.naiveAttention(q, k, v);
    }

    public NDArray geluTanh(NDArray x) {
        return ReferenceKernels.geluTanh(x);
    }

    @Override
    public void close() {}
}
