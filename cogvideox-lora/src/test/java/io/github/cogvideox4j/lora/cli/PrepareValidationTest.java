package io.github.cogvideox4j.lora.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.config.CogVideoXVariant;
import io.github.cogvideox4j.core.pipeline.CogVideoXPipeline;
import io.github.cogvideox4j.core.pipeline.PromptEncoder;
import io.github.cogvideox4j.data.cache.ValidationInputs;
import io.github.cogvideox4j.data.encode.T5TextEncoder;
import io.github.cogvideox4j.data.manifest.MediaType;
import io.github.cogvideox4j.data.media.FfmpegMedia;
import io.github.cogvideox4j.data.media.FirstFrame;
import io.github.cogvideox4j.data.media.MediaInfo;
import io.github.cogvideox4j.data.media.TestVideos;
import io.github.cogvideox4j.lora.TinyI2vPipeline;
import io.github.cogvideox4j.lora.train.ValidationVideos;
import java.io.PrintWriter;
import java.io.StringWriter;
import com.google.common.io.MoreFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * {@code cogvideox prepare --validation run.yaml} stores the validation inputs in the cache, and a run from the cache
 * samples its validation videos from them without T5: on the golden tiny text-to-video pipeline and on a tiny random
 * CogVideoX1.5-I2V pipeline folder (32x48, 9 frames, 2 steps).
 */
class PrepareValidationTest {
    private static final List<String> PROMPTS = List.of("A panda plays a small guitar.", "A red car at night.");

    @TempDir
    Path tmp;

    private static String prepare(String... args) {
        StringWriter out = new StringWriter();
        List<String> all = new ArrayList<>(List.of("prepare", "--no-progress"));
        all.addAll(List.of(args));
        int code = new CommandLine(new CogVideoXCli()).setOut(new PrintWriter(out)).execute(all.toArray(new String[0]));
        assertThat(code).as(out.toString()).isZero();
        return out.toString();
    }

    /** A training config with a validation section (the lines given after {@code validation:}). */
    private Path config(Path model, Path cache, Path out, String... validationLines) throws Exception {
        List<String> lines = new ArrayList<>(List.of("model: {path: " + model + "}", "data: {cache: " + cache + "}",
                "output_dir: " + out, "lora: {rank: 2, targets: [to_q, to_v]}", "steps: 2", "batch_size: 1",
                "checkpoint_every: 0", "validation_every: 2", "validation:",
                "  prompts: [\"" + PROMPTS.get(0) + "\", \"" + PROMPTS.get(1) + "\"]"));
        for (String l : validationLines) {
            lines.add("  " + l);
        }
        return Files.write(tmp.resolve("run.yaml"), lines);
    }

    /** {@code n} 16-frame 32x48 clips of other colours, prompts.txt + videos.txt. */
    private Path clips(int n) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("data/videos"));
        List<String> prompts = new ArrayList<>();
        List<String> videos = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int shade = 40 + 60 * i;
            TestVideos.writeVideo(dir.resolve("c" + i + ".mp4"), 48, 32, 16, 8,
                    (k, x, y) -> (shade << 16) | ((x + 3 * k) & 0xff) << 8 | (y & 0xff));
            prompts.add("clip " + i);
            videos.add("videos/c" + i + ".mp4");
        }
        Files.write(tmp.resolve("data/prompts.txt"), prompts);
        Files.write(tmp.resolve("data/videos.txt"), videos);
        return tmp.resolve("data");
    }

    @Test
    void prepareStoresTheT5EmbeddingsOfTheValidationPrompts() throws Exception {
        Path model = PrepareCommandTest.pipeline();
        Path cache = tmp.resolve("cache");
        Path cfg = config(model, cache, tmp.resolve("run"));
        String out = prepare("--data", PrepareCommandTest.dataset(tmp, 2).toString(), "--model", model.toString(),
                "--cache", cache.toString(), "--buckets", "9x32x48,9x48x32", "--validation", cfg.toString());

        assertThat(out).contains("validation inputs: 2 prompt embedding(s) written to");
        try (NDManager m = NDManager.newBaseManager()) {
            ValidationInputs stored = ValidationInputs.read(cache, m).orElseThrow();
            T5TextEncoder t5 = T5TextEncoder.load(model, DataType.FLOAT32, m);
            try {
                assertThat(stored.prompts()).isEqualTo(PROMPTS);
                assertThat(stored.promptEmbeds().getShape()).isEqualTo(new Shape(2, 226, 32));
                for (int k = 0; k < 2; k++) {
                    assertThat(stored.promptEmbeds().get(new NDIndex(k)).toFloatArray()).as("prompt %s", k)
                            .containsExactly(t5.encode(PROMPTS.get(k), m).toFloatArray());
                }
                assertThat(stored.negativePromptEmbeds().toFloatArray()).as("the empty negative prompt")
                        .containsExactly(t5.encode("", m).toFloatArray());
                assertThat(stored.images()).as("text-to-video: no images").isEmpty();
            } finally {
                t5.t5().close();
            }
        }
    }

    @Test
    void aSecondPrepareFindsTheValidationInputsStored() throws Exception {
        Path model = PrepareCommandTest.pipeline();
        Path cache = tmp.resolve("cache");
        Path cfg = config(model, cache, tmp.resolve("run"));
        String[] args = {"--data", PrepareCommandTest.dataset(tmp, 1).toString(), "--model", model.toString(),
            "--cache", cache.toString(), "--buckets", "9x32x48,9x48x32", "--validation", cfg.toString()};
        prepare(args);
        var written = Files.getLastModifiedTime(cache.resolve(ValidationInputs.FILE));

        assertThat(prepare(args)).contains("validation inputs of 2 prompt(s) already stored");
        assertThat(Files.getLastModifiedTime(cache.resolve(ValidationInputs.FILE))).isEqualTo(written);
    }

    @Test
    void imageToVideoStoresTheConfiguredImagesFittedToTheValidationSize() throws Exception {
        Path model = TinyI2vPipeline.write(tmp.resolve("model"), CogVideoXVariant.COGVIDEOX_1_5_5B_I2V);
        Path cache = tmp.resolve("cache");
        Path png = TestVideos.writePng(tmp.resolve("panda.png"), 96, 64, (f, x, y) -> (x << 16) | (y << 8) | 0x80);
        Path clip = clips(1).resolve("videos/c0.mp4");
        Path cfg = config(model, cache, tmp.resolve("run"), "images: [" + png + ", " + clip + "]", "size: 32x48");
        prepare("--data", tmp.resolve("data").toString(), "--model", model.toString(), "--cache", cache.toString(),
                "--buckets", "13x32x48", "--i2v", "--validation", cfg.toString());

        try (NDManager m = NDManager.newBaseManager()) {
            ValidationInputs stored = ValidationInputs.read(cache, m).orElseThrow();
            NDArray images = stored.images().orElseThrow();
            assertThat(images.getShape()).isEqualTo(new Shape(2, 3, 32, 48));
            FfmpegMedia media = new FfmpegMedia();
            assertThat(images.get(new NDIndex(0)).toFloatArray()).as("the PNG, resized")
                    .containsExactly(FirstFrame.read(media, media, png, 32, 48, m).toFloatArray());
            assertThat(images.get(new NDIndex(1)).toFloatArray()).as("the first frame of the video")
                    .containsExactly(FirstFrame.read(media, media, clip, 32, 48, m).toFloatArray());
            assertThat(stored.imageSources()).containsExactly(png.toString(), clip.toString());
        }
    }

    @Test
    void imageToVideoWithoutImagesValidatesOnTheFirstFramesOfTheDatasetsClips() throws Exception {
        Path model = TinyI2vPipeline.write(tmp.resolve("model"), CogVideoXVariant.COGVIDEOX_1_5_5B_I2V);
        Path cache = tmp.resolve("cache");
        Path data = clips(3);
        Path cfg = config(model, cache, tmp.resolve("run"), "size: 32x48");
        prepare("--data", data.toString(), "--model", model.toString(), "--cache", cache.toString(),
                "--buckets", "13x32x48", "--i2v", "--validation", cfg.toString());

        try (NDManager m = NDManager.newBaseManager();
                CogVideoXPipeline pipe = CogVideoXPipeline.load(model, m, PromptEncoder.unavailable())) {
            ValidationInputs stored = ValidationInputs.read(cache, m).orElseThrow();
            FfmpegMedia media = new FfmpegMedia();
            for (int k = 0; k < 2; k++) {
                Path clip = data.resolve("videos/c" + k + ".mp4");
                assertThat(stored.images().orElseThrow().get(new NDIndex(k)).toFloatArray()).as("clip %s", k)
                        .containsExactly(FirstFrame.read(media, media, clip, 32, 48, m).toFloatArray());
            }
            List<Path> files = ValidationVideos.builder(pipe, stored).numFrames(9).inferenceSteps(2).build()
                    .run(7, tmp);
            Path dir = tmp.resolve("validation/step-7");
            assertThat(files).containsExactly(dir.resolve("prompt-0.mp4"), dir.resolve("prompt-0.png"),
                    dir.resolve("prompt-1.mp4"), dir.resolve("prompt-1.png"));
            assertThat(media.probe(dir.resolve("prompt-1.mp4"))).isEqualTo(new MediaInfo(MediaType.VIDEO, 9, 8, 32, 48));
        }
    }

    /** The whole path: prepare with T5, then a train run on a model folder that has no text encoder any more. */
    @Test
    void aCacheOnlyImageToVideoRunWritesValidationVideosWithoutT5() throws Exception {
        Path model = TinyI2vPipeline.write(tmp.resolve("model"), CogVideoXVariant.COGVIDEOX_1_5_5B_I2V);
        Path cache = tmp.resolve("cache");
        Path out = tmp.resolve("run");
        Path cfg = config(model, cache, out, "size: 32x48", "frames: 9", "steps: 2", "seed: 3");
        prepare("--data", clips(2).toString(), "--model", model.toString(), "--cache", cache.toString(),
                "--buckets", "13x32x48", "--i2v", "--validation", cfg.toString());
        MoreFiles.deleteRecursively(model.resolve("text_encoder"));
        MoreFiles.deleteRecursively(model.resolve("tokenizer"));

        int code = new CommandLine(new CogVideoXCli()).execute("train", "--config", cfg.toString());

        assertThat(code).isZero();
        Path dir = out.resolve("validation/step-2");
        FfmpegMedia media = new FfmpegMedia();
        for (int k = 0; k < 2; k++) {
            assertThat(media.probe(dir.resolve("prompt-" + k + ".mp4")))
                    .isEqualTo(new MediaInfo(MediaType.VIDEO, 9, 8, 32, 48));
            assertThat(dir.resolve("prompt-" + k + ".png")).isRegularFile();
        }
    }
}
