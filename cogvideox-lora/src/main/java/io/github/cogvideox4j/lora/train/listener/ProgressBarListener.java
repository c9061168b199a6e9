package io.github.cogvideox4j.lora.train.listener;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import io.github.cogvideox4j.lora.train.StepResult;
import io.github.cogvideox4j.lora.train.TrainingListener;
import io.github.cogvideox4j.lora.train.TrainingStart;
import java.time.Duration;
import java.util.Locale;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import me.tongfei.progressbar.DelegatingProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarConsumer;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * A console progress bar over the run's steps with the last loss and learning rate and an ETA
 * ({@code me.tongfei:progressbar}, an optional dependency: add it to use this class).
 *
 * <p>After a resume the bar starts at {@code firstStep - 1} of {@code totalSteps}, and the ETA comes from the steps
 * done in this process only (measured from the end of its first step, which carries the warm-up), so it is right
 * from the first steps after a restart.
 *
 * <p>Thread safety: callbacks are confined to the training thread; the bar renders on its own thread. Closed by
 * {@link #onEnd} or {@link #close()}.
 */
public final class ProgressBarListener implements TrainingListener, AutoCloseable {
    private final ProgressBarConsumer consumer;
    private final int updateMillis;
    private final EtaEstimator eta;
    private ProgressBar bar;

    /** A bar on the console (standard error, redrawn in place on a terminal). */
    public ProgressBarListener() {
        this(null, 1000, System::nanoTime);
    }

    /**
     * A bar rendered as text lines handed to {@code lines} (e.g. a logger), for non-interactive runs.
     *
     * @param lines receives each rendering of the bar
     * @param width the rendered width in characters (&gt;= 40)
     */
    public ProgressBarListener(Consumer<String> lines, int width) {
        this(new DelegatingProgressBarConsumer(checkNotNull(lines, "lines"), checkWidth(width)), 1000,
                System::nanoTime);
    }

    ProgressBarListener(ProgressBarConsumer consumer, int updateMillis, LongSupplier nanoTime) {
        this.consumer = consumer;
        this.updateMillis = updateMillis;
        this.eta = new EtaEstimator(nanoTime);
    }

    private static int checkWidth(int width) {
        checkArgument(width >= 40, "width must be >= 40, got %s", width);
        return width;
    }

    @Override
    public void onStart(TrainingStart start) {
        close();
        eta.start();
        ProgressBarBuilder b = new ProgressBarBuilder()
                .setTaskName("train")
                .setInitialMax(start.totalSteps())
                .setStyle(ProgressBarStyle.ASCII)
                .setUpdateIntervalMillis(updateMillis)
                .startsFrom(Math.max(0, start.firstStep() - 1), Duration.ZERO)
                .setEtaFunction(state -> eta.eta(state.getMax() - state.getCurrent()));
        if (consumer != null) {
            b.setConsumer(consumer);
        }
        bar = b.build();
    }

    @Override
    public void onStep(StepResult r) {
        if (bar == null) {
            return;
        }
        eta.stepDone();
        bar.stepTo(r.step());
        bar.setExtraMessage(r.skipped()
                ? String.format(Locale.ROOT, "step skipped (loss %s)", r.loss())
                : String.format(Locale.ROOT, "loss %.4f lr %.2e", r.loss(), r.learningRate()));
    }

    @Override
    public void onEnd(long lastStep) {
        close();
    }

    /** Stops the bar (idempotent), rendering it a last time. */
    @Override
    public void close() {
        if (bar != null) {
            try {
                bar.close();
            } finally {
                bar = null;
            }
        }
    }
}
