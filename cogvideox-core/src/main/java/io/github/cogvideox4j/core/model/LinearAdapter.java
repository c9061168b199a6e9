package io.github.cogvideox4j.core.model;

import ai.djl.ndarray.NDArray;

/**
 * Something added to the output of a {@link Linear}: {@code y = W x + b + Σ adapter(x)}. LoRA is one
 * ({@code scale · B(A(x))}); the core model knows nothing more about it.
 *
 * <p>Implementations allocate their result in {@code x}'s manager (put {@code x} first in every op) and must not
 * close {@code x}.
 */
@FunctionalInterface
public interface LinearAdapter {
    /**
     * @param x the Linear's input {@code [..., in]}
     * @return the term to add to the Linear's output, {@code [..., out]}, in {@code x}'s manager
     */
    NDArray forward(NDArray x);
}
