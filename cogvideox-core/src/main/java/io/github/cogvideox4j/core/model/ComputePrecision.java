package io.github.cogvideox4j.core.model;

/**
 * The precision the transformer's {@link Linear} layers compute in. Weights, LoRA parameters, activations between
 * layers, attention, norms and gradients stay float32 in both modes; only the GEMM of each Linear changes.
 */
public enum ComputePrecision {
    /** Plain float32 GEMMs through DJL: bit-identical to the model without this switch. The default. */
    FP32,
    /**
     * Every Linear casts its input and weight to bfloat16 inside the TorchScript kernel pack, runs oneDNN's bf16 GEMM
     * (3.5x the fp32 throughput on AVX512-BF16 CPUs) and returns float32; differentiable, with float32 gradients for
     * float32 master weights. Expect errors of the order of bf16's 8-bit mantissa (see docs/mixed-precision.md).
     */
    BF16
}
