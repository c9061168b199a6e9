package io.github.cogvideox4j.data.media;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.data.manifest.MediaType;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VideoWriterTest {
    private static final int F = 9;
    private static final int H = 48;
    private static final int W = 64;

    @TempDir
    Path dir;

    /** Red ramps along x, green along y, blue along time: [F, 3, H, W] in [0, 1]. */
    private static float[] gradient(int frames, int height, int width) {
        float[] v = new float[frames * 3 * height * width];
        int plane = height * width;
        for (int k = 0; k < frames; k++) {
            for (int y = 0; y < height; y++) {
                for (int x = 0; x < width; x++) {
                    int i = y * width + x;
                    v[(k * 3) * plane + i] = x / (float) (width - 1);
                    v[(k * 3 + 1) * plane + i] = y / (float) (height - 1);
                    v[(k * 3 + 2) * plane + i] = k / (float) Math.max(1, frames - 1);
                }
            }
        }
        return v;
    }

    private static NDArray gradientVideo(NDManager m) {
        return EngineArrays.create(m, gradient(F, H, W), new Shape(F, 3, H, W));
    }

    @Test
    void writtenMp4ProbesBackWithFrameCountSizeAndFps() throws IOException {
        try (NDManager m = NDManager.newBaseManager()) {
            Path mp4 = VideoWriter.write(dir.resolve("v.mp4"), gradientVideo(m), 8);

            assertThat(new FfmpegMedia().probe(mp4)).isEqualTo(new MediaInfo(MediaType.VIDEO, F, 8, H, W));
        }
    }

    @Test
    void decodedFramesMatchTheInputWithinCodecTolerance() throws IOException {
        float[] src = gradient(F, H, W);
        try (NDManager m = NDManager.newBaseManager()) {
            Path mp4 = VideoWriter.write(dir.resolve("v.mp4"),
                    EngineArrays.create(m, src, new Shape(F, 3, H, W)), 8);
            List<byte[]> frames = new FfmpegMedia().decodeRgb(mp4, new int[] {0, F - 1}, H, W);
            for (int f = 0; f < 2; f++) {
                int k = f == 0 ? 0 : F - 1;
                byte[] rgb = frames.get(f);
                double sum = 0;
                int max = 0;
                for (int c = 0; c < 3; c++) {
                    for (int i = 0; i < H * W; i++) {
                        int expected = Math.round(src[(k * 3 + c) * H * W + i] * 255f);
                        int d = Math.abs((rgb[i * 3 + c] & 0xff) - expected);
                        sum += d;
                        max = Math.max(max, d);
                    }
                }
                double mean = sum / (3.0 * H * W);
                // yuv420p (chroma at half resolution, limited range) + mpeg4 at qscale 2
                assertThat(mean).as("mean abs error of frame %s", k).isLessThan(2.0);
                assertThat(max).as("max abs error of frame %s", k).isLessThanOrEqualTo(16);
            }
        }
    }

    @Test
    void replacesAnExistingFileAndLeavesNoTemporaryFiles() throws IOException {
        Path target = Files.writeString(dir.resolve("v.mp4"), "old");
        try (NDManager m = NDManager.newBaseManager()) {
            VideoWriter.write(target, gradientVideo(m), 8);
        }
        assertThat(Files.size(target)).isGreaterThan(100);
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files).containsExactly(target);
        }
    }

    @Test
    void rejectsOddSizes() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray odd = EngineArrays.create(m, new float[2 * 3 * 5 * 4], new Shape(2, 3, 5, 4));
            assertThatThrownBy(() -> VideoWriter.write(dir.resolve("v.mp4"), odd, 8))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("even");
        }
    }

    @Test
    void contactSheetPlacesFramesInAGrid() throws IOException {
        float[] src = gradient(F, H, W);
        try (NDManager m = NDManager.newBaseManager()) {
            Path png = ContactSheet.write(dir.resolve("s.png"), EngineArrays.create(m, src, new Shape(F, 3, H, W)), 4);
            BufferedImage img = ImageIO.read(png.toFile());

            assertThat(img.getWidth()).isEqualTo(4 * W);
            assertThat(img.getHeight()).isEqualTo(3 * H);
            // frame 5 is at column 1, row 1; its pixel (x=10, y=20)
            int k = 5;
            int rgb = img.getRGB(W + 10, H + 20) & 0xffffff;
            int r = Math.round(10 / (float) (W - 1) * 255f);
            int g = Math.round(20 / (float) (H - 1) * 255f);
            int b = Math.round(k / (float) (F - 1) * 255f);
            assertThat(rgb).isEqualTo((r << 16) | (g << 8) | b);
            // cells past the last frame are black
            assertThat(img.getRGB(3 * W + 5, 2 * H + 5) & 0xffffff).isZero();
        }
    }
}
