package io.github.cogvideox4j.lora.train;

/**
 * What one optimizer step did, as listeners see it. Every value is a Java number (the loss is the step's only
 * device-to-host copy).
 *
 * <p>Thread safety: immutable.
 *
 * @param step the 1-based global step just finished
 * @param epoch the epoch it belongs to (0-based)
 * @param loss the step's loss (mean over accumulated micro-batches)
 * @param learningRate the learning rate used
 * @param gradNorm the global gradient norm before clipping
 * @param skipped whether the update was skipped (non-finite loss or gradient)
 * @param bucket the batch's bucket, e.g. {@code 13x480x720} (latent frames x pixel height x width)
 * @param millis wall time of the step
 */
public record StepResult(long step, int epoch, double loss, double learningRate, double gradNorm, boolean skipped,
        String bucket, long millis) {}
