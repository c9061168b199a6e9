package io.github.cogvideox4j.data.media;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.data.Bucket;
import java.io.IOException;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClipDecoderTest {
    private static final int RED = 0xFF0000;
    private static final int GREEN = 0x00FF00;
    private static final int BLUE = 0x0000FF;

    private final FfmpegMedia media = new FfmpegMedia();
    private final ClipDecoder decoder = new ClipDecoder(media);

    @TempDir
    Path dir;

    /** 96 x 32 image: thirds red | green | blue. */
    private Path thirds() throws IOException {
        return TestVideos.writePng(dir.resolve("thirds.png"), 96, 32, (k, x, y) -> x < 32 ? RED : x < 64 ? GREEN : BLUE);
    }

    @Test
    void clipIsFx3xHxWFloat32InMinusOneToOne() throws IOException {
        Path v = TestVideos.writeVideo(dir.resolve("v.mp4"), 64, 48, 9, 8, TestVideos.greyByFrame());
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray clip = decoder.decode(v, media.probe(v), new int[] {0, 2, 4, 6, 8}, new Bucket(5, 32, 48),
                    ResizeMode.RESIZE, null, m);

            assertThat(clip.getShape()).isEqualTo(new Shape(5, 3, 32, 48));
            assertThat(clip.getDataType()).isEqualTo(DataType.FLOAT32);
            assertThat(clip.min().getFloat()).isGreaterThanOrEqualTo(-1f);
            assertThat(clip.max().getFloat()).isLessThanOrEqualTo(1f);
            // frame 2 of the clip is source frame 4: grey level g -> g / 127.5 - 1
            assertThat(clip.get(2).mean().getFloat()).isCloseTo(TestVideos.grey(4) / 127.5f - 1f, offset(0.03f));
        }
    }

    @Test
    void repeatedIndicesRepeatTheFrame() throws IOException {
        Path v = TestVideos.writeVideo(dir.resolve("v.mp4"), 32, 32, 3, 8, TestVideos.greyByFrame());

        float[] clip = decoder.decodeFloats(v, media.probe(v), new int[] {0, 2, 2, 2}, new Bucket(4, 16, 16),
                ResizeMode.RESIZE, null);

        int frame = 3 * 16 * 16;
        for (int i = 0; i < frame; i++) {
            assertThat(clip[3 * frame + i]).isEqualTo(clip[frame * 1 + i]);
        }
    }

    @Test
    void centerCropKeepsTheMiddleOfAWideFrame() throws IOException {
        Path img = thirds();

        float[] clip = decoder.decodeFloats(img, media.probe(img), new int[] {0}, new Bucket(1, 16, 16),
                ResizeMode.CENTER_CROP, null);

        // all green: R = -1, G = 1, B = -1 away from the edges of the cut
        int plane = 16 * 16;
        int px = 8 * 16 + 8;
        assertThat(clip[px]).isCloseTo(-1f, offset(0.05f));
        assertThat(clip[plane + px]).isCloseTo(1f, offset(0.05f));
        assertThat(clip[2 * plane + px]).isCloseTo(-1f, offset(0.05f));
        assertThat(clip[plane + 8 * 16 + 1]).isCloseTo(1f, offset(0.1f));
        assertThat(clip[plane + 8 * 16 + 14]).isCloseTo(1f, offset(0.1f));
    }

    @Test
    void resizeSqueezesTheWholeFrameIntoTheBucket() throws IOException {
        Path img = thirds();

        float[] clip = decoder.decodeFloats(img, media.probe(img), new int[] {0}, new Bucket(1, 16, 48),
                ResizeMode.RESIZE, null);

        int plane = 16 * 48;
        int row = 8 * 48;
        assertThat(clip[row + 2]).isCloseTo(1f, offset(0.05f)); // red at the left
        assertThat(clip[2 * plane + row + 45]).isCloseTo(1f, offset(0.05f)); // blue at the right
    }

    @Test
    void randomCropMovesWithTheSeedAndRepeatsWithIt() throws IOException {
        Path img = TestVideos.writePng(dir.resolve("ramp.png"), 200, 20, (k, x, y) -> {
            int g = x + 20;
            return (g << 16) | (g << 8) | g;
        });
        MediaInfo info = media.probe(img);

        float[] a = decoder.decodeFloats(img, info, new int[] {0}, new Bucket(1, 20, 20), ResizeMode.RANDOM_CROP,
                new SplittableRandom(1));
        float[] b = decoder.decodeFloats(img, info, new int[] {0}, new Bucket(1, 20, 20), ResizeMode.RANDOM_CROP,
                new SplittableRandom(1));
        float[] c = decoder.decodeFloats(img, info, new int[] {0}, new Bucket(1, 20, 20), ResizeMode.RANDOM_CROP,
                new SplittableRandom(2));

        assertThat(a).containsExactly(b);
        assertThat(a[0]).isNotEqualTo(c[0]);
    }

    @Test
    void rejectsIndicesThatDoNotMatchTheBucketFrames() throws IOException {
        Path img = thirds();

        assertThatThrownBy(() -> decoder.decodeFloats(img, media.probe(img), new int[] {0}, new Bucket(2, 8, 8),
                ResizeMode.RESIZE, null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(img.toString());
    }
}
