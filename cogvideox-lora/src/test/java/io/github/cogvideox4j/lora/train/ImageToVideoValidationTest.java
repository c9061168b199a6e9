package io.github.cogvideox4j.lora.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
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
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

/**
 * {@link ValidationVideos} on tiny random image-to-video pipeline folders of the 1.0 (5b-I2V, 64x96, its trained
 * size) and 1.5 (32x48) structures, 9 frames, 2 steps: one conditioning image per prompt, from image files, and
 * from stored {@link ValidationInputs} without a text encoder.
 */
class ImageToVideoValidationTest {
    private static final List<String> PROMPTS = List.of("A panda plays a small guitar.", "A red car at night.");

    @TempDir
    Path tmp;

    private static int height(CogVideoXVariant v) {
        return v.isVersion15() ? 32 : 64;
    }

    private static int width(CogVideoXVariant v) {
        return v.isVersion15() ? 48 : 96;
    }

    /** Two PNGs of other colours, read back as {@code [2, 3, H, W]} in [0, 1]. */
    private NDArray images(CogVideoXVariant v, NDManager m) throws Exception {
        NDList rows = new NDList();
        FfmpegMedia media = new FfmpegMedia();
        for (int k = 0; k < 2; k++) {
            int shade = 60 + 120 * k;
            Path png = TestVideos.writePng(tmp.resolve("image" + k + ".png"), 2 * width(v), 2 * height(v),
                    (f, x, y) -> (shade << 16) | ((x + y) & 0xff) << 8 | 0x30);
            rows.add(FirstFrame.read(media, media, png, height(v), width(v), m).expandDims(0));
        }
        return NDArrays.concat(rows, 0);
    }

    private static ValidationVideos.Builder sized(ValidationVideos.Builder b, CogVideoXVariant v) {
        return b.size(height(v), width(v)).numFrames(9).inferenceSteps(2).seed(5).fps(8).columns(3);
    }

    private static void assertMp4AndPngPerPrompt(List<Path> files, Path dir, CogVideoXVariant v) throws Exception {
        assertThat(files).containsExactly(dir.resolve("prompt-0.mp4"), dir.resolve("prompt-0.png"),
                dir.resolve("prompt-1.mp4"), dir.resolve("prompt-1.png"));
        for (int k = 0; k < 2; k++) {
            assertThat(new FfmpegMedia().probe(dir.resolve("prompt-" + k + ".mp4")))
                    .isEqualTo(new MediaInfo(MediaType.VIDEO, 9, 8, height(v), width(v)));
            BufferedImage png = ImageIO.read(dir.resolve("prompt-" + k + ".png").toFile());
            assertThat(png.getWidth()).isEqualTo(3 * width(v));
            assertThat(png.getHeight()).isEqualTo(3 * height(v));
        }
    }

    @ParameterizedTest
    @EnumSource(value = CogVideoXVariant.class, names = {"COGVIDEOX_5B_I2V", "COGVIDEOX_1_5_5B_I2V"})
    void writesAnMp4AndAPngPerPromptConditionedOnItsImage(CogVideoXVariant v) throws Exception {
        Path dir = TinyI2vPipeline.write(tmp.resolve("model"), v);
        try (NDManager m = NDManager.newBaseManager();
                CogVideoXPipeline pipe = CogVideoXPipeline.load(dir, m)) {
            NDArray images = images(v, m);
            List<Path> files = sized(ValidationVideos.builder(pipe, PROMPTS).images(images), v).build().run(3, tmp);

            assertMp4AndPngPerPrompt(files, tmp.resolve("validation/step-3"), v);
        }
    }

    @Test
    void theImageConditionsTheVideo() throws Exception {
        CogVideoXVariant v = CogVideoXVariant.COGVIDEOX_1_5_5B_I2V;
        Path dir = TinyI2vPipeline.write(tmp.resolve("model"), v);
        try (NDManager m = NDManager.newBaseManager();
                CogVideoXPipeline pipe = CogVideoXPipeline.load(dir, m)) {
            NDArray images = images(v, m);
            NDArray swapped = NDArrays.concat(new NDList(images.get("1:2"), images.get("0:1")), 0);
            List<String> same = List.of(PROMPTS.get(0), PROMPTS.get(0));
            sized(ValidationVideos.builder(pipe, same).images(images), v).build().run(1, tmp);
            sized(ValidationVideos.builder(pipe, same).images(swapped), v).build().run(2, tmp);

            // same prompt and seed (seed + k differs per row, so compare row 0 of each run): only the image differs
            byte[] first = Files.readAllBytes(tmp.resolve("validation/step-1/prompt-0.png"));
            byte[] other = Files.readAllBytes(tmp.resolve("validation/step-2/prompt-0.png"));
            assertThat(other).isNotEqualTo(first);
        }
    }

    /** Counts the calls of a prompt encoder that must never be called. */
    private static final class NeverCalled implements PromptEncoder {
        final List<List<String>> calls = new ArrayList<>();

        @Override
        public NDArray encode(List<String> prompts, NDManager manager) {
            calls.add(prompts);
            return PromptEncoder.unavailable().encode(prompts, manager);
        }
    }

    @ParameterizedTest
    @EnumSource(value = CogVideoXVariant.class, names = {"COGVIDEOX_5B_I2V", "COGVIDEOX_1_5_5B_I2V"})
    void storedInputsSampleWithoutATextEncoderAndGiveTheVideosOfTheTextPath(CogVideoXVariant v) throws Exception {
        Path dir = TinyI2vPipeline.write(tmp.resolve("model"), v);
        NeverCalled noText = new NeverCalled();
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray images = images(v, m);
            ValidationInputs inputs;
            T5TextEncoder t5 = T5TextEncoder.load(dir, DataType.FLOAT32, m);
            try {
                inputs = ValidationInputs.encode(PROMPTS, "", t5, images, List.of("image0.png", "image1.png"), m);
            } finally {
                t5.t5().close();
            }
            try (CogVideoXPipeline pipe = CogVideoXPipeline.load(dir, m, noText)) {
                List<Path> files = sized(ValidationVideos.builder(pipe, inputs), v).build().run(4, tmp);
                assertMp4AndPngPerPrompt(files, tmp.resolve("validation/step-4"), v);
            }
            try (CogVideoXPipeline withT5 = CogVideoXPipeline.load(dir, m)) {
                sized(ValidationVideos.builder(withT5, PROMPTS).images(images), v).build().run(5, tmp);
            }
        }
        assertThat(noText.calls).as("the prompt encoder is never called").isEmpty();
        for (int k = 0; k < 2; k++) {
            assertThat(Files.readAllBytes(tmp.resolve("validation/step-4/prompt-" + k + ".png")))
                    .as("prompt %s: stored embeddings give the text path's video", k)
                    .isEqualTo(Files.readAllBytes(tmp.resolve("validation/step-5/prompt-" + k + ".png")));
        }
    }

    @Test
    void anImageToVideoPipelineWithoutImagesIsRefused() throws Exception {
        Path dir = TinyI2vPipeline.write(tmp.resolve("model"), CogVideoXVariant.COGVIDEOX_1_5_5B_I2V);
        try (NDManager m = NDManager.newBaseManager();
                CogVideoXPipeline pipe = CogVideoXPipeline.load(dir, m, PromptEncoder.unavailable())) {
            assertThatThrownBy(() -> ValidationVideos.builder(pipe, PROMPTS).build())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("image-to-video: validation needs an image per prompt");
        }
    }

    @Test
    void imagesOfAnotherSizeThanTheVideosAreRefused() throws Exception {
        CogVideoXVariant v = CogVideoXVariant.COGVIDEOX_1_5_5B_I2V;
        Path dir = TinyI2vPipeline.write(tmp.resolve("model"), v);
        try (NDManager m = NDManager.newBaseManager();
                CogVideoXPipeline pipe = CogVideoXPipeline.load(dir, m, PromptEncoder.unavailable())) {
            NDArray images = images(v, m);
            assertThatThrownBy(() -> ValidationVideos.builder(pipe, PROMPTS).images(images).size(64, 64).build())
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("validation images are 32x48 but the videos are 64x64");
        }
    }
}
