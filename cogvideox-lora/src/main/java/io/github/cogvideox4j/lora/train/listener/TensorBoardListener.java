package io.github.cogvideox4j.lora.train.listener;

import static com.google.common.base.Preconditions.checkNotNull;

import io.github.cogvideox4j.lora.train.StepResult;
import io.github.cogvideox4j.lora.train.TrainingListener;
import io.github.cogvideox4j.lora.train.TrainingStart;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Instant;
import java.util.Locale;

/**
 * Writes TensorBoard event files ({@code events.out.tfevents.<seconds>.<host>}) by hand, without TensorFlow or
 * protobuf: scalars {@code loss}, {@code lr}, {@code grad_norm} per step and {@code validation/loss}. Point
 * {@code tensorboard --logdir} at the folder (W&amp;B and others import the same files).
 *
 * <p>Every start opens a new file whose first record is {@code file_version = "brain.Event:2"}; a resumed run
 * ({@code firstStep > 1}) then writes a {@code SessionLog START} at {@code firstStep}, which tells TensorBoard to
 * discard the older files' points at steps {@code >= firstStep}. Non-finite values (a skipped step's loss) are not
 * written. Each event is flushed, so a crash loses at most the event being written.
 *
 * <p>Thread safety: confined to the training thread. Closed by {@link #onEnd} or {@link #close()}.
 */
public final class TensorBoardListener implements TrainingListener, AutoCloseable {
    private final Path logDir;
    private final Clock clock;
    private Path file;
    private OutputStream out;

    /**
     * @param logDir the folder of the event files (created on start), e.g. {@code <output_dir>/tensorboard}
     */
    public TensorBoardListener(Path logDir) {
        this(logDir, Clock.systemUTC());
    }

    /**
     * @param logDir the folder of the event files
     * @param clock the clock of the events' wall times
     */
    public TensorBoardListener(Path logDir, Clock clock) {
        this.logDir = checkNotNull(logDir, "logDir");
        this.clock = checkNotNull(clock, "clock");
    }

    /** @return the event file being written, or {@code null} before the first start */
    public Path file() {
        return file;
    }

    /**
     * @throws UncheckedIOException if the folder or file cannot be created
     */
    @Override
    public void onStart(TrainingStart start) {
        close();
        try {
            Files.createDirectories(logDir);
            Instant now = clock.instant();
            String base = String.format(Locale.ROOT, "events.out.tfevents.%010d.%s", now.getEpochSecond(), host());
            Path candidate = logDir.resolve(base);
            for (int i = 1; Files.exists(candidate); i++) {
                candidate = logDir.resolve(base + "." + i); // a restart within the same second
            }
            file = candidate;
            out = new BufferedOutputStream(Files.newOutputStream(file, StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE));
            record(TensorBoardEventWriter.fileVersionEvent(seconds(now)));
            if (start.firstStep() > 1) {
                record(TensorBoardEventWriter.sessionStartEvent(wallTime(), start.firstStep()));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start a TensorBoard event file in " + logDir + ": "
                    + e.getMessage(), e);
        }
    }

    @Override
    public void onStep(StepResult r) {
        double t = wallTime();
        scalar(t, r.step(), "loss", r.loss());
        scalar(t, r.step(), "lr", r.learningRate());
        scalar(t, r.step(), "grad_norm", r.gradNorm());
    }

    @Override
    public void onValidation(long step, double loss) {
        scalar(wallTime(), step, "validation/loss", loss);
    }

    @Override
    public void onEnd(long lastStep) {
        close();
    }

    /** Closes the file (idempotent); a later {@link #onStart} opens a new one. */
    @Override
    public void close() {
        if (out != null) {
            try {
                out.close();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot close " + file, e);
            } finally {
                out = null;
            }
        }
    }

    private void scalar(double wallTime, long step, String tag, double value) {
        if (Double.isFinite(value) && Float.isFinite((float) value)) {
            record(TensorBoardEventWriter.scalarEvent(wallTime, step, tag, (float) value));
        }
    }

    private void record(byte[] event) {
        if (out == null) {
            throw new IllegalStateException(logDir + ": onStart was not called (or the file was closed)");
        }
        try {
            TensorBoardEventWriter.writeRecord(out, event);
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write to " + file + ": " + e.getMessage(), e);
        }
    }

    private double wallTime() {
        return seconds(clock.instant());
    }

    private static double seconds(Instant t) {
        return t.getEpochSecond() + t.getNano() / 1e9;
    }

    private static String host() {
        String h = System.getenv("HOSTNAME");
        if (h == null || h.isBlank()) {
            try {
                h = InetAddress.getLocalHost().getHostName();
            } catch (IOException e) {
                h = "localhost";
            }
        }
        return h.replaceAll("[^A-Za-z0-9._-]", "_");
    }
}
