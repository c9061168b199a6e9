package io.github.cogvideox4j.data.media;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.data.Bucket;
import io.github.cogvideox4j.data.manifest.DatasetManifest;
import io.github.cogvideox4j.data.manifest.ManifestEntry;
import io.github.cogvideox4j.data.manifest.ManifestLayout;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The whole path on real, generated videos of several sizes and frame counts: manifest -> probe -> frame
 * indices (the CogVideo trainer's rule, standing in for a bucket rule) -> clip tensor.
 */
class EndToEndDecodeTest {
    private static final Bucket BUCKET = new Bucket(5, 32, 48);

    @TempDir
    Path dir;

    /** CogVideo trainer: range(0, n, n // F)[:F], or repeat the last frame when n < F. */
    static int[] trainerIndices(int n, int frames) {
        int[] out = new int[frames];
        if (n < frames) {
            for (int i = 0; i < frames; i++) {
                out[i] = Math.min(i, n - 1);
            }
            return out;
        }
        int step = n / frames;
        for (int i = 0; i < frames; i++) {
            out[i] = i * step;
        }
        return out;
    }

    @Test
    void decodesEveryManifestVideoToTheBucketThroughProbeCache() throws IOException {
        Files.createDirectories(dir.resolve("videos"));
        TestVideos.writeVideo(dir.resolve("videos/wide.mp4"), 96, 48, 17, 8, TestVideos.greyByFrame());
        TestVideos.writeVideo(dir.resolve("videos/tall.mp4"), 48, 80, 9, 24, TestVideos.greyByFrame());
        TestVideos.writeVideo(dir.resolve("videos/short.mkv"), 64, 48, 3, 10, TestVideos.greyByFrame());
        Files.writeString(dir.resolve("prompts.txt"), "wide\ntall\nshort\n");
        Files.writeString(dir.resolve("videos.txt"), "videos/wide.mp4\nvideos/tall.mp4\nvideos/short.mkv\n");

        DatasetManifest manifest = DatasetManifest.read(dir).requireNoProblems();
        FfmpegMedia media = new FfmpegMedia();
        ClipDecoder decoder = new ClipDecoder(media);
        assertThat(manifest.layout()).isEqualTo(ManifestLayout.TWO_FILE);

        try (ProbeCache probes = ProbeCache.open(dir.resolve("cache/probe.jsonl"), media);
                NDManager m = NDManager.newBaseManager()) {
            int[][] expectedIndices = {{0, 3, 6, 9, 12}, {0, 1, 2, 3, 4}, {0, 1, 2, 2, 2}};
            int[] expectedFrames = {17, 9, 3};
            for (int i = 0; i < 3; i++) {
                ManifestEntry e = manifest.entries().get(i);
                MediaInfo info = probes.probe(e.media());
                assertThat(info.frames()).isEqualTo(expectedFrames[i]);
                int[] idx = trainerIndices(info.frames(), BUCKET.frames());
                assertThat(idx).containsExactly(expectedIndices[i]);

                NDArray clip = decoder.decode(e.media(), info, idx, BUCKET, ResizeMode.CENTER_CROP, null, m);

                assertThat(clip.getShape()).isEqualTo(new Shape(5, 3, 32, 48));
                for (int f = 0; f < 5; f++) {
                    assertThat(clip.get(f).mean().getFloat()).as("%s frame %s", e.stem(), f)
                            .isCloseTo(TestVideos.grey(idx[f]) / 127.5f - 1f, offset(0.03f));
                }
            }
            assertThat(probes.probesRun()).isEqualTo(3);
        }
        try (ProbeCache again = ProbeCache.open(dir.resolve("cache/probe.jsonl"), media)) {
            for (ManifestEntry e : manifest.entries()) {
                again.probe(e.media());
            }
            assertThat(again.probesRun()).isZero();
        }
    }
}
