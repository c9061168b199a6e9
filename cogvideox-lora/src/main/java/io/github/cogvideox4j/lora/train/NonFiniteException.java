package io.github.cogvideox4j.lora.train;

import io.github.cogvideox4j.core.CogVideoXException;
import java.util.List;

/**
 * A step whose loss or gradient norm was NaN or infinite under {@link FineTuner.NonFinitePolicy#STOP}. The update was
 * not applied and the gradients were cleared, so the weights and the last checkpoint are intact.
 */
public class NonFiniteException extends CogVideoXException {
    private static final long serialVersionUID = 1L;

    /** The step that produced the non-finite value. */
    private final long step;
    /** The samples of that step. */
    private final List<String> samples;

    /**
     * @param step the step
     * @param samples the samples of the step
     * @param message what was non-finite
     */
    public NonFiniteException(long step, List<String> samples, String message) {
        super(message);
        this.step = step;
        this.samples = List.copyOf(samples);
    }

    /** @return the step that produced the non-finite value */
    public long step() {
        return step;
    }

    /** @return the samples of that step */
    public List<String> samples() {
        return samples;
    }
}
