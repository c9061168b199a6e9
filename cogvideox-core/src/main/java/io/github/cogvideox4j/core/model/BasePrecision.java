package io.github.cogvideox4j.core.model;

/**
 * How the frozen base Linear weights of the transformer are held in memory, for adapter (LoRA) training: the
 * layerwise-upcasting idea, where each GEMM widens its weight for the call only. The adapters, the activations, the
 * biases and norms stay float32 in every mode; the GEMM's own precision is {@link ComputePrecision}. See
 * docs/mixed-precision.md.
 */
public enum BasePrecision {
    /** float32 weights, 4 bytes per element: the only mode in which the base weights can be trained. */
    FP32,
    /**
     * bfloat16 weights, 2 bytes per element ({@code CogVideoXTransformer.load(dir, manager, DataType.BFLOAT16)}):
     * each element rounded to 8 significant bits.
     */
    BF16,
    /**
     * Symmetric int8 codes with one float32 scale per output channel ({@code max|w_row| / 127}), 1 byte per element
     * ({@link CogVideoXTransformer#quantizeBaseWeightsToInt8()}): each element off by at most half its row's scale.
     */
    INT8
}
