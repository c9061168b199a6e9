package io.github.cogvideox4j.lora.train.listener;

import static com.google.common.base.Preconditions.checkArgument;

import io.github.cogvideox4j.lora.train.StepResult;
import io.github.cogvideox4j.lora.train.TrainingListener;
import io.github.cogvideox4j.lora.train.TrainingStart;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Logs the run through SLF4J (logger {@code io.github.cogvideox4j.lora.train.listener.LoggingListener}): the start,
 * every {@code everySteps}-th step at INFO (skipped steps always, at WARN), checkpoints, validations (with the
 * validation videos' files) and the end.
 *
 * <p>Thread safety: confined to the training thread.
 */
public final class LoggingListener implements TrainingListener {
    private static final Logger LOG = LoggerFactory.getLogger(LoggingListener.class);

    private final long everySteps;
    private final Logger log;
    private long totalSteps;

    /** Logs every step. */
    public LoggingListener() {
        this(1);
    }

    /**
     * @param everySteps log every this many steps (&gt;= 1); the last step is always logged
     */
    public LoggingListener(long everySteps) {
        this(everySteps, LOG);
    }

    LoggingListener(long everySteps, Logger log) {
        checkArgument(everySteps >= 1, "everySteps must be >= 1, got %s", everySteps);
        this.everySteps = everySteps;
        this.log = log;
    }

    @Override
    public void onStart(TrainingStart start) {
        totalSteps = start.totalSteps();
        if (start.firstStep() > 1) {
            log.info("resuming at step {}/{}: {} (output {})", start.firstStep(), start.totalSteps(),
                    start.description(), start.outputDir());
        } else {
            log.info("training {} steps: {} (output {})", start.totalSteps(), start.description(), start.outputDir());
        }
    }

    @Override
    public void onStep(StepResult r) {
        if (r.skipped()) {
            log.warn("step {}/{} skipped: loss {} grad_norm {} (bucket {}, epoch {})", r.step(), totalSteps,
                    r.loss(), r.gradNorm(), r.bucket(), r.epoch());
        } else if (r.step() % everySteps == 0 || r.step() == totalSteps) {
            log.info("step {}/{} loss {} lr {} grad_norm {} bucket {} epoch {} {} ms", r.step(), totalSteps,
                    String.format(Locale.ROOT, "%.6f", r.loss()), String.format(Locale.ROOT, "%.3e", r.learningRate()),
                    String.format(Locale.ROOT, "%.4f", r.gradNorm()), r.bucket(), r.epoch(), r.millis());
        }
    }

    @Override
    public void onCheckpoint(long step, Path dir) {
        log.info("checkpoint of step {} saved to {}", step, dir);
    }

    @Override
    public void onValidation(long step, double loss) {
        log.info("validation after step {}: loss {}", step, String.format(Locale.ROOT, "%.6f", loss));
    }

    @Override
    public void onValidationVideos(long step, List<Path> files) {
        log.info("validation videos of step {}: {}", step, files);
    }

    @Override
    public void onEnd(long lastStep) {
        log.info("training ended after step {}/{}", lastStep, totalSteps);
    }
}
