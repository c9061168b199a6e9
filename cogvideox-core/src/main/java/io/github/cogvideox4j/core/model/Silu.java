package io.github.cogvideox4j.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;

/**
 * {@code SiLU(x) = x·sigmoid(x)} composed from tensor ops. DJL's {@code Activation.swish(x, 1f)} multiplies by a
 * Java-wrapped scalar that autograd saves and the garbage collector may free before backward (see
 * {@link io.github.cogvideox4j.core.EngineArrays}).
 */
final class Silu {
    private Silu() {}

    /**
     * @param x any shape
     * @return {@code x·sigmoid(x)} in x's manager
     */
    static NDArray apply(NDArray x) {
        return x.mul(Activation.sigmoid(x));
    }
}
