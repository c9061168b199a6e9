package io.github.cogvideox4j.core.model;

import ai.djl.ndarray.NDArray;
import io.github.cogvideox4j.core.kernel.KernelPack;
import io.github.cogvideox4j.core.kernel.ReferenceKernels;

/**
 * The two kernels DJL lacks, as the model's modules call them: the fused TorchScript kernel pack
 * ({@link KernelMode#FUSED}, O(N) attention memory) or the plain DJL reference ({@link KernelMode#REFERENCE}).
 * One instance per model, shared by its blocks, so that switching the mode switches every block.
 */
final class Kernels implements AutoCloseable {
    private final KernelPack pack;
    private KernelMode mode = KernelMode.FUSED;

    Kernels(KernelPack pack) {
        this.pack = pack;
    }

    KernelMode mode() {
        return mode;
    }

    void setMode(KernelMode mode) {
        this.mode = mode;
    }

    /** q, k, v {@code [B, H, S, d]} → {@code [B, H, S, d]} in q's manager. */
    NDArray attention(NDArray q, NDArray k, NDArray v) {
        return mode == KernelMode.FUSED ? pack.scaledDotProductAttention(q, k, v)
                : ReferenceKernels.naiveAttention(q, k, v);
    }

    /** GELU, tanh approximation, in x's manager. */
    NDArray geluTanh(NDArray x) {
        return mode == KernelMode.FUSED ? pack.geluTanh(x) : ReferenceKernels.geluTanh(x);
    }

    @Override
    public void close() {
        pack.close();
    }
}
