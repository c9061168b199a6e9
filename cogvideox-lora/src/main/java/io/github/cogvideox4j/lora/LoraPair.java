package io.github.cogvideox4j.lora;

import static com.google.common.base.Preconditions.checkNotNull;

import ai.djl.ndarray.NDArray;

/**
 * The two LoRA matrices of one adapted Linear: {@code loraA} {@code [r, in]} and {@code loraB} {@code [out, r]}.
 * The arrays belong to whoever created the pair (see the producing method); the record does not close them.
 *
 * @param loraA the down projection {@code [r, in]}
 * @param loraB the up projection {@code [out, r]}
 */
public record LoraPair(NDArray loraA, NDArray loraB) {
    /** Checks both are present. */
    public LoraPair {
        checkNotNull(loraA, "loraA");
        checkNotNull(loraB, "loraB");
    }

    /** @return r, the rows of {@code loraA} */
    public int rank() {
        return (int) loraA.getShape().get(0);
    }
}
