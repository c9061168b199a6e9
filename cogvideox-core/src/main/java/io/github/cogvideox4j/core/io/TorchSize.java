package io.github.cogvideox4j.core.io;

import java.util.List;

/**
 * A {@code torch.Size} found in a {@code torch.save} pickle (for example in DeepSpeed's {@code param_shapes}).
 *
 * <p>Thread safety: immutable.
 *
 * @param dims the dimensions, unmodifiable
 */
public record TorchSize(List<Long> dims) {
    /** Copies the dimensions. */
    public TorchSize {
        dims = List.copyOf(dims);
    }

    @Override
    public String toString() {
        return "torch.Size(" + dims + ")";
    }
}
