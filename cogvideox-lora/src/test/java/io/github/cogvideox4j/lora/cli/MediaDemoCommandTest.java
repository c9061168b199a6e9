package io.github.cogvideox4j.lora.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.cogvideox4j.data.media.FfmpegMedia;
import io.github.cogvideox4j.data.media.MediaInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The raw-media demo end to end, with nothing but the project: its own tiny pipeline written from a seed, generated
 * captioned clips -> prepare -> LoRA training over two buckets -> a playable validation MP4 (probed back) and a PNG
 * contact sheet.
 */
class MediaDemoCommandTest {
    @TempDir
    Path tmp;

    @Test
    void rawClipsBecomeACacheATrainedLoraAndValidationVideosWithTheBuiltInPipeline() throws Exception {
        Path out = tmp.resolve("demo");
        int code = new CommandLine(new CogVideoXCli()).execute("demo-media", "--output", out.toString(), "--steps",
                "12");
        assertThat(code).isZero();
        assertThat(out.resolve("tiny-pipeline/model_index.json")).exists();
        assertThat(out.resolve("pytorch_lora_weights.safetensors")).exists();
        Set<String> buckets = new HashSet<>();
        ObjectMapper json = new ObjectMapper();
        for (String line : Files.readAllLines(out.resolve("metrics.jsonl"))) {
            JsonNode n = json.readTree(line);
            if ("step".equals(n.path("type").asText())) {
                buckets.add(n.get("bucket").asText());
            }
        }
        assertThat(buckets).as("training ran over at least two buckets").hasSizeGreaterThanOrEqualTo(2);
        Path mp4 = out.resolve("validation/step-12/prompt-0.mp4");
        MediaInfo info = new FfmpegMedia().probe(mp4);
        assertThat(info.frames()).isEqualTo(9);
        assertThat(info.height()).isEqualTo(48);
        assertThat(info.width()).isEqualTo(64);
        assertThat(ImageIO.read(out.resolve("validation/step-12/prompt-0.png").toFile())).isNotNull();
    }

    @Test
    void aModelFolderWithoutModelIndexIsRefusedBeforeAnythingIsWritten() {
        Path out = tmp.resolve("refused");
        int code = new CommandLine(new CogVideoXCli()).execute("demo-media", "--model", tmp.resolve("none").toString(),
                "--output", out.toString());
        assertThat(code).isEqualTo(2);
        assertThat(out).doesNotExist();
    }
}
