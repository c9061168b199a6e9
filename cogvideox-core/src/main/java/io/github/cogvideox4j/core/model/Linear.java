package io.github.cogvideox4j.core.model;

import ai.djl.ndarray.NDArray;
import com.google.common.base.Preconditions;

/**
 * {@code torch.nn.Linear}: {@code y = x W^T + b} over the last axis.
 *
 * <p>Shapes: weight {@code [out, in]}, bias {@code [out]} or absent; input {@code [..., in]} → output
 * {@code [..., out]}. The output belongs to the input's {@code NDManager}. The weights belong to the model.
 *
 * <p>Thread safety: immutable; safe for concurrent forwards (DJL ops permitting).
 */
public final class Linear {
    private final String name;
    private final NDArray weight;
    private final NDArray bias;

    Linear(String name, NDArray weight, NDArray bias) {
        Preconditions.checkArgument(weight.getShape().dimension() == 2, "%s.weight must be 2-D, got %s", name,
                weight.getShape());
        this.name = name;
        this.weight = weight;
        this.bias = bias;
    }

    /** @return the Diffusers key prefix, e.g. {@code transformer_blocks.0.attn1.to_q} */
    public String name() {
        return name;
    }

    /** @return {@code [out, in]} weight, owned by the model */
    public NDArray weight() {
        return weight;
    }

    /** @return the bias {@code [out]} or {@code null}, owned by the model */
    public NDArray bias() {
        return bias;
    }

    /**
     * @param x {@code [..., in]}
     * @return {@code [..., out]} in {@code x}'s manager
     */
    public NDArray forward(NDArray x) {
        return ai.djl.nn.core.Linear.linear(x, weight, bias).singletonOrThrow();
    }
}
