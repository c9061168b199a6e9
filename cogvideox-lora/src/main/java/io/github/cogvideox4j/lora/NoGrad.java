package io.github.cogvideox4j.lora;

import ai.djl.pytorch.jni.JniUtils;

/**
 * Turns PyTorch's (thread-local) grad mode off for a block, as {@code torch.no_grad()}: in-place updates of
 * parameters that require gradients (merging, loading, optimizer steps) are then allowed even while a DJL
 * {@code GradientCollector} is open, and record nothing. Restores the previous mode on {@link #close()}.
 *
 * <pre>{@code try (NoGrad ignored = NoGrad.enter()) { weight.addi(delta); } }</pre>
 *
 * <p>Confined to the thread that entered it.
 */
public final class NoGrad implements AutoCloseable {
    private final boolean previous;

    private NoGrad(boolean previous) {
        this.previous = previous;
    }

    /** @return a scope with grad mode off until closed */
    public static NoGrad enter() {
        boolean was = JniUtils.isGradMode();
        if (was) {
            JniUtils.setGradMode(false);
        }
        return new NoGrad(was);
    }

    /** Restores the grad mode found on entry. */
    @Override
    public void close() {
        if (previous) {
            JniUtils.setGradMode(true);
        }
    }
}
