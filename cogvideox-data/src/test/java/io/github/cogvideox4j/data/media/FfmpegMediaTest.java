package io.github.cogvideox4j.data.media;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.cogvideox4j.data.manifest.MediaType;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class FfmpegMediaTest {
    private final FfmpegMedia media = new FfmpegMedia();

    @TempDir
    Path dir;

    @ParameterizedTest
    @CsvSource({"64, 48, 9, 8", "48, 80, 17, 24", "96, 32, 5, 30"})
    void probesFrameCountFpsAndSizeOfMp4(int width, int height, int frames, int fps) throws IOException {
        Path v = TestVideos.writeVideo(dir.resolve("v.mp4"), width, height, frames, fps, TestVideos.greyByFrame());

        MediaInfo info = media.probe(v);

        assertThat(info).isEqualTo(new MediaInfo(MediaType.VIDEO, frames, fps, height, width));
        assertThat(Files.size(v)).isLessThan(20_000);
    }

    @Test
    void countsPacketsWhenTheContainerStoresNoFrameCount() throws IOException {
        Path v = TestVideos.writeVideo(dir.resolve("v.mkv"), 32, 32, 11, 10, TestVideos.greyByFrame());

        assertThat(media.probe(v).frames()).isEqualTo(11);
    }

    @Test
    void probesAnImageAsOneFrame() throws IOException {
        Path png = TestVideos.writePng(dir.resolve("a.png"), 40, 30, (k, x, y) -> 0x336699);

        assertThat(media.probe(png)).isEqualTo(new MediaInfo(MediaType.IMAGE, 1, 0, 30, 40));
    }

    @Test
    void decodesRequestedFramesByIndexInDecodeOrder() throws IOException {
        Path v = TestVideos.writeVideo(dir.resolve("v.mp4"), 32, 32, 12, 8, TestVideos.greyByFrame());

        List<byte[]> frames = media.decodeRgb(v, new int[] {7, 0, 11, 7}, 16, 16);

        assertThat(frames).hasSize(4);
        assertThat(meanLevel(frames.get(0))).isCloseTo(TestVideos.grey(7), org.assertj.core.data.Offset.offset(3.0));
        assertThat(meanLevel(frames.get(1))).isCloseTo(TestVideos.grey(0), org.assertj.core.data.Offset.offset(3.0));
        assertThat(meanLevel(frames.get(2))).isCloseTo(TestVideos.grey(11), org.assertj.core.data.Offset.offset(3.0));
        assertThat(frames.get(3)).isSameAs(frames.get(0));
        assertThat(frames.get(0)).hasSize(16 * 16 * 3);
    }

    @Test
    void rejectsAFrameIndexPastTheLastFrame() {
        Path v = TestVideos.writeVideo(dir.resolve("v.mp4"), 32, 32, 5, 8, TestVideos.greyByFrame());

        assertThatThrownBy(() -> media.decodeRgb(v, new int[] {0, 5}, 8, 8))
                .isInstanceOf(MediaDecodeException.class).hasMessageContaining(v.toString())
                .hasMessageContaining("only 5 decoded frames");
    }

    @Test
    void reportsAnUndecodableFileByName() throws IOException {
        Path bad = Files.write(dir.resolve("broken.mp4"), new byte[] {1, 2, 3, 4, 5, 6, 7, 8});

        assertThatThrownBy(() -> media.probe(bad)).isInstanceOf(MediaDecodeException.class)
                .hasMessageStartingWith(bad.toString());
    }

    private static double meanLevel(byte[] rgb) {
        long sum = 0;
        for (byte b : rgb) {
            sum += b & 0xFF;
        }
        return (double) sum / rgb.length;
    }
}
