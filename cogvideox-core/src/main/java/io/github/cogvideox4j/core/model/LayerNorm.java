package io.github.cogvideox4j.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * {@code torch.nn.LayerNorm} over the last axis. Without elementwise affine parameters the model passes a
 * constant weight of ones and bias of zeros (DJL's layer norm needs both), which are not parameters.
 *
 * <p>Shapes: input {@code [..., dim]} → output {@code [..., dim]} in the input's {@code NDManager}.
 *
 * <p>Thread safety: immutable.
 */
public final class LayerNorm {
    private final String name;
    private final NDArray weight;
    private final NDArray bias;
    private final float eps;
    private final Shape normalizedShape;

    LayerNorm(String name, NDArray weight, NDArray bias, double eps) {
        this.name = name;
        this.weight = weight;
        this.bias = bias;
        this.eps = (float) eps;
        this.normalizedShape = new Shape(weight.getShape().get(0));
    }

    /** @return the Diffusers key prefix, e.g. {@code norm_final} */
    public String name() {
        return name;
    }

    /**
     * @param x {@code [..., dim]}
     * @return the normalized {@code [..., dim]} in {@code x}'s manager
     */
    public NDArray forward(NDArray x) {
        return ai.djl.nn.norm.LayerNorm.layerNorm(x, normalizedShape, weight, bias, eps).singletonOrThrow();
    }
}
