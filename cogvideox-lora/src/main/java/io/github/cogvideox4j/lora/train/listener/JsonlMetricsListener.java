package io.github.cogvideox4j.lora.train.listener;

import static com.google.common.base.Preconditions.checkNotNull;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.cogvideox4j.core.io.AtomicFiles;
import io.github.cogvideox4j.lora.train.StepResult;
import io.github.cogvideox4j.lora.train.TrainingListener;
import io.github.cogvideox4j.lora.train.TrainingStart;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;

/**
 * Appends one JSON object per event to a {@code metrics.jsonl} file, flushed line by line:
 *
 * <pre>{@code
 * {"type":"step","step":12,"epoch":0,"loss":0.1234,"lr":1.0E-4,"grad_norm":0.53,"skipped":false,
 *  "bucket":"13x480x720","millis":850,"time":"2026-01-02T03:04:05.123Z"}
 * {"type":"validation","step":20,"loss":0.1111,"time":"..."}
 * {"type":"checkpoint","step":20,"dir":"/runs/x/checkpoints/checkpoint-000000020","time":"..."}
 * {"type":"validation_videos","step":20,"files":["/runs/x/validation/step-20/prompt-0.mp4", "..."],"time":"..."}
 * }</pre>
 *
 * Non-finite numbers (the loss of a skipped step) are written as {@code null}, so every line is valid JSON.
 *
 * <p>Resume: {@link #onStart} with {@code firstStep = k + 1} rewrites the file keeping only the lines of steps
 * {@code <= k} (and dropping a torn last line of a crashed process), so the file never holds two records for one
 * step; a fresh run ({@code firstStep = 1}) starts an empty file. The rewrite goes through a temporary file and an
 * atomic move.
 *
 * <p>Thread safety: confined to the training thread. Closed by {@link #onEnd} or {@link #close()}.
 */
public final class JsonlMetricsListener implements TrainingListener, AutoCloseable {
    /** The usual file name inside the output folder. */
    public static final String FILE_NAME = "metrics.jsonl";

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path file;
    private final Clock clock;
    private BufferedWriter out;

    /**
     * @param file the {@code metrics.jsonl} file; its folder is created on start
     */
    public JsonlMetricsListener(Path file) {
        this(file, Clock.systemUTC());
    }

    /**
     * @param file the {@code metrics.jsonl} file
     * @param clock the clock of the {@code time} fields
     */
    public JsonlMetricsListener(Path file, Clock clock) {
        this.file = checkNotNull(file, "file");
        this.clock = checkNotNull(clock, "clock");
    }

    /** @return the file written */
    public Path file() {
        return file;
    }

    /**
     * @throws UncheckedIOException if the file cannot be rewritten or opened
     */
    @Override
    public void onStart(TrainingStart start) {
        close();
        try {
            Path dir = file.toAbsolutePath().getParent();
            if (dir != null) {
                Files.createDirectories(dir);
            }
            List<String> kept = start.firstStep() > 1 ? linesBefore(file, start.firstStep()) : List.of();
            AtomicFiles.write(file, o -> {
                for (String line : kept) {
                    o.write((line + "\n").getBytes(StandardCharsets.UTF_8));
                }
            });
            out = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare " + file + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void onStep(StepResult r) {
        ObjectNode n = JSON.createObjectNode();
        n.put("type", "step");
        n.put("step", r.step());
        n.put("epoch", r.epoch());
        putFinite(n, "loss", r.loss());
        putFinite(n, "lr", r.learningRate());
        putFinite(n, "grad_norm", r.gradNorm());
        n.put("skipped", r.skipped());
        n.put("bucket", r.bucket());
        n.put("millis", r.millis());
        write(n);
    }

    @Override
    public void onValidation(long step, double loss) {
        ObjectNode n = JSON.createObjectNode();
        n.put("type", "validation");
        n.put("step", step);
        putFinite(n, "loss", loss);
        write(n);
    }

    @Override
    public void onValidationVideos(long step, List<Path> files) {
        ObjectNode n = JSON.createObjectNode();
        n.put("type", "validation_videos");
        n.put("step", step);
        ArrayNode list = n.putArray("files");
        files.forEach(f -> list.add(String.valueOf(f)));
        write(n);
    }

    @Override
    public void onCheckpoint(long step, Path dir) {
        ObjectNode n = JSON.createObjectNode();
        n.put("type", "checkpoint");
        n.put("step", step);
        n.put("dir", String.valueOf(dir));
        write(n);
    }

    @Override
    public void onEnd(long lastStep) {
        close();
    }

    /** Closes the file (idempotent); a later {@link #onStart} reopens it. */
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

    /**
     * Reads the records of a metrics file, skipping lines that are not JSON objects with a {@code step}.
     *
     * @param file a {@code metrics.jsonl}
     * @return its records in file order (empty when the file does not exist)
     * @throws IOException if the file cannot be read
     */
    public static List<JsonNode> read(Path file) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        if (!Files.exists(file)) {
            return out;
        }
        for (String line : lines(file)) {
            JsonNode n = parse(line);
            if (n != null) {
                out.add(n);
            }
        }
        return out;
    }

    private void write(ObjectNode n) {
        if (out == null) {
            throw new IllegalStateException(file + ": onStart was not called (or the file was closed)");
        }
        n.put("time", clock.instant().toString());
        try {
            out.write(JSON.writeValueAsString(n));
            out.newLine();
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot append to " + file + ": " + e.getMessage(), e);
        }
    }

    private static void putFinite(ObjectNode n, String key, double v) {
        if (Double.isFinite(v)) {
            n.put(key, v);
        } else {
            n.putNull(key);
        }
    }

    private static List<String> linesBefore(Path file, long firstStep) throws IOException {
        List<String> kept = new ArrayList<>();
        if (!Files.exists(file)) {
            return kept;
        }
        for (String line : lines(file)) {
            JsonNode n = parse(line);
            if (n != null && n.get("step").asLong() < firstStep) {
                kept.add(line);
            }
        }
        return kept;
    }

    /** The file's lines, decoding leniently (a torn multi-byte character must not fail the resume). */
    private static List<String> lines(Path file) throws IOException {
        return new String(Files.readAllBytes(file), StandardCharsets.UTF_8).lines().toList();
    }

    private static JsonNode parse(String line) {
        if (line.isBlank()) {
            return null;
        }
        try {
            JsonNode n = JSON.readTree(line);
            return n != null && n.isObject() && n.hasNonNull("step") && n.get("step").canConvertToLong() ? n : null;
        } catch (JsonProcessingException e) {
            return null; // a torn line of a crashed process
        }
    }
}
