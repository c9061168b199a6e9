package io.github.cogvideox4j.core.model;

/**
 * Which implementation runs the attention and the tanh-approximate GELU, the two kernels DJL lacks.
 */
public enum KernelMode {
    /**
     * PyTorch's fused {@code scaled_dot_product_attention} and {@code gelu(approximate="tanh")} through the
     * TorchScript kernel pack: attention memory O(N) in forward and backward. The default.
     */
    FUSED,
    /**
     * Plain DJL compositions ({@code softmax(q·kᵀ/√d)·v}, GELU from tanh): memory quadratic in the token count;
     * the reference the fused kernels are tested against.
     */
    REFERENCE
}
