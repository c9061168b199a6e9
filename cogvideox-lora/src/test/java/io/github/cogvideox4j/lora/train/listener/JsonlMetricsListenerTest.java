package io.github.cogvideox4j.lora.train.listener;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.cogvideox4j.lora.train.StepResult;
import io.github.cogvideox4j.lora.train.TrainingStart;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The {@code metrics.jsonl} records and their consistency after a resume. */
class JsonlMetricsListenerTest {
    @TempDir
    Path tmp;

    private static final Clock CLOCK = Clock.fixed(Instant.parse("2026-01-02T03:04:05Z"), ZoneOffset.UTC);

    private static StepResult step(long s) {
        return new StepResult(s, 0, 1.0 / s, 1e-4, 0.5, false, "9x64x96", 100);
    }

    private static void run(JsonlMetricsListener l, long first, long last) {
        l.onStart(new TrainingStart(first, 10, Path.of("out"), "test"));
        for (long s = first; s <= last; s++) {
            l.onStep(step(s));
            if (s % 2 == 0) {
                l.onValidation(s, 0.1 * s);
            }
        }
    }

    @Test
    void writesOneJsonObjectPerEventWithNullForNonFiniteValues() throws IOException {
        Path file = tmp.resolve("out/metrics.jsonl");
        JsonlMetricsListener l = new JsonlMetricsListener(file, CLOCK);
        l.onStart(new TrainingStart(1, 10, tmp, "test"));
        l.onStep(new StepResult(1, 0, 0.25, 1e-4, 0.5, false, "9x64x96", 120));
        l.onStep(new StepResult(2, 0, Double.NaN, 1e-4, Double.POSITIVE_INFINITY, true, "9x64x96", 80));
        l.onValidation(2, 0.125);
        l.onCheckpoint(2, tmp.resolve("ckpt"));
        l.onEnd(2);
        List<String> lines = Files.readAllLines(file);
        assertThat(lines).hasSize(4);
        ObjectMapper json = new ObjectMapper();
        assertThat(json.readTree(lines.get(0))).isEqualTo(json.readTree("{\"type\":\"step\",\"step\":1,\"epoch\":0,"
                + "\"loss\":0.25,\"lr\":1.0E-4,\"grad_norm\":0.5,\"skipped\":false,\"bucket\":\"9x64x96\","
                + "\"millis\":120,\"time\":\"2026-01-02T03:04:05Z\"}"));
        JsonNode skipped = json.readTree(lines.get(1));
        assertThat(skipped.get("loss").isNull()).isTrue();
        assertThat(skipped.get("grad_norm").isNull()).isTrue();
        assertThat(skipped.get("skipped").asBoolean()).isTrue();
        assertThat(json.readTree(lines.get(2)).get("type").asText()).isEqualTo("validation");
        assertThat(json.readTree(lines.get(3)).get("dir").asText()).isEqualTo(tmp.resolve("ckpt").toString());
    }

    @Test
    void recordsTheValidationVideoFiles() throws IOException {
        Path file = tmp.resolve("out/metrics.jsonl");
        JsonlMetricsListener l = new JsonlMetricsListener(file, CLOCK);
        l.onStart(new TrainingStart(1, 10, tmp, "test"));
        Path mp4 = tmp.resolve("validation/step-4/prompt-0.mp4");
        Path png = tmp.resolve("validation/step-4/prompt-0.png");
        l.onValidationVideos(4, List.of(mp4, png));
        l.onEnd(4);

        JsonNode n = new ObjectMapper().readTree(Files.readAllLines(file).get(0));
        assertThat(n.get("type").asText()).isEqualTo("validation_videos");
        assertThat(n.get("step").asLong()).isEqualTo(4);
        assertThat(n.get("files").get(0).asText()).isEqualTo(mp4.toString());
        assertThat(n.get("files").get(1).asText()).isEqualTo(png.toString());
    }

    @Test
    void resumeDropsTheStepsAfterTheCheckpointAndATornLine() throws IOException {
        Path file = tmp.resolve("metrics.jsonl");
        JsonlMetricsListener first = new JsonlMetricsListener(file, CLOCK);
        run(first, 1, 7); // crashed after step 7, last checkpoint at step 4
        Files.writeString(file, "{\"type\":\"step\",\"st", StandardCharsets.UTF_8, StandardOpenOption.APPEND);
        first.close();

        JsonlMetricsListener resumed = new JsonlMetricsListener(file, CLOCK);
        run(resumed, 5, 8);
        resumed.onEnd(8);
        List<JsonNode> rows = JsonlMetricsListener.read(file);
        assertThat(rows).extracting(r -> r.get("type").asText().charAt(0) + "" + r.get("step").asLong())
                .containsExactly("s1", "s2", "v2", "s3", "s4", "v4", "s5", "s6", "v6", "s7", "s8", "v8");
        assertThat(Files.readAllLines(file)).hasSize(12);
    }

    @Test
    void freshRunStartsAnEmptyFile() throws IOException {
        Path file = tmp.resolve("metrics.jsonl");
        Files.writeString(file, "{\"type\":\"validation\",\"step\":0,\"loss\":1.0}\n{\"type\":\"step\",\"step\":3}\n");
        JsonlMetricsListener l = new JsonlMetricsListener(file, CLOCK);
        run(l, 1, 1);
        l.onEnd(1);
        assertThat(JsonlMetricsListener.read(file)).extracting(r -> r.get("step").asLong()).containsExactly(1L);
    }
}
