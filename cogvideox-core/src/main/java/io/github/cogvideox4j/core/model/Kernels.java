package io.github.cogvideox4j.core.model;

import ai.djl.ndarray.NDArray;
import io.github.cogvideox4j.core.kernel.KernelPack;
import io.github.cogvideox4j.core.kernel.ReferenceKernels;

/**
 * The kernels DJL lacks, as the model's modules call them: the fused TorchScript kernel pack
 * ({@link KernelMode#FUSED}, O(N) attention memory) or the plain DJL reference ({@link KernelMode#REFERENCE}) for
 * attention and GELU, and the Linear GEMM in the chosen {@link ComputePrecision}. One instance per model, shared by
 * its modules, so that switching a mode switches every block.
 */
final class Kernels implements AutoCloseable {
    private final KernelPack pack;
    private KernelMode mode = KernelMode.FUSED;
    private ComputePrecision precision = ComputePrecision.FP32;

    Kernels(KernelPack pack) {
        this.pack = pack;
    }

    KernelMode mode() {
        return mode;
    }

    void setMode(KernelMode mode) {
        this.mode = mode;
    }

    ComputePrecision precision() {
        return precision;
    }

    void setPrecision(ComputePrecision precision) {
        this.precision = precision;
    }

    KernelPack pack() {
        return pack;
    }

    /** q, k, v {@code [B, H, S, d]} → {@code [B, H, S, d]} in q's manager. */
    NDArray attention(NDArray q, NDArray k, NDArray v) {
        return mode == KernelMode.FUSED ? pack.scaledDotProductAttention(q, k, v)
                : ReferenceKernels.naiveAttention(q, k, v);
    }

    /**
     * Whether {@link #feedForward} runs the two Linears and the GELU as one bf16 kernel: fused kernels, bf16
     * compute, both layers with a bias, the same storage kind (int8 or not) and no adapter (whose term the kernel
     * would skip).
     */
    boolean fusesFeedForward(Linear proj, Linear out) {
        return mode == KernelMode.FUSED && precision == ComputePrecision.BF16 && !proj.hasAdapters()
                && !out.hasAdapters() && proj.bias() != null && out.bias() != null
                && proj.hasInt8Weight() == out.hasInt8Weight();
    }

    /** {@code out(gelu_tanh(proj(x)))} as one bf16 kernel; only where {@link #fusesFeedForward} holds. */
    NDArray feedForward(NDArray x, Linear proj, Linear out) {
        if (proj.hasInt8Weight()) {
            return pack.feedForwardInt8Bf16(x, proj.storedWeight(), proj.int8Scale(), proj.bias(),
                    out.storedWeight(), out.int8Scale(), out.bias());
        }
        return pack.feedForwardBf16(x, proj.storedWeight(), proj.bias(), out.storedWeight(), out.bias());
    }

    /** GELU, tanh approximation, in x's manager. */
    NDArray geluTanh(NDArray x) {
        return mode == KernelMode.FUSED ? pack.geluTanh(x) : ReferenceKernels.geluTanh(x);
    }

    /**
     * {@code x W^T + b} in the current precision; a bf16-stored weight always goes through the pack (widened for
     * FP32, used as is for BF16), so it never reaches a DJL op.
     */
    NDArray linear(NDArray x, NDArray weight, NDArray bias, boolean bf16Weight) {
        return linear(x, weight, null, bias, bf16Weight);
    }

    /**
     * As {@link #linear(NDArray, NDArray, NDArray, boolean)}; with {@code int8Scale} non-null the weight holds int8
     * codes, dequantised inside the pack for the call.
     */
    NDArray linear(NDArray x, NDArray weight, NDArray int8Scale, NDArray bias, boolean bf16Weight) {
        if (int8Scale != null) {
            return pack.linearInt8(x, weight, int8Scale, bias, precision == ComputePrecision.BF16);
        }
        if (precision == ComputePrecision.BF16) {
            return pack.linearBf16(x, weight, bias);
        }
        if (bf16Weight) {
            return pack.linearWiden(x, weight, bias);
        }
        return ai.djl.nn.core.Linear.linear(x, weight, bias).singletonOrThrow();
    }

    @Override
    public void close() {
        pack.close();
    }
}
