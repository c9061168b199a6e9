package io.github.cogvideox4j.data.cache;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.io.SafetensorsDType;
import io.github.cogvideox4j.data.Bucket;
import io.github.cogvideox4j.data.manifest.DatasetManifest;
import io.github.cogvideox4j.data.manifest.ManifestEntry;
import io.github.cogvideox4j.data.media.ClipDecoder;
import io.github.cogvideox4j.data.media.FfmpegMedia;
import io.github.cogvideox4j.data.media.ProbeCache;
import io.github.cogvideox4j.data.media.ResizeMode;
import io.github.cogvideox4j.data.media.TestVideos;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CachePreparerTest {
    private static final FramePlan PLAN = new FramePlan(new Bucket(5, 16, 24), new int[] {0, 1, 2, 3, 4});

    @TempDir
    Path dir;

    private ManifestEntry entry() throws IOException {
        Files.createDirectories(dir.resolve("videos"));
        TestVideos.writeVideo(dir.resolve("videos/a.mp4"), 48, 32, 6, 8, TestVideos.greyByFrame());
        Files.writeString(dir.resolve("prompt.txt"), "a grey fade\n");
        Files.writeString(dir.resolve("videos.txt"), "videos/a.mp4\n");
        return DatasetManifest.read(dir).requireNoProblems().entries().get(0);
    }

    private CachePreparer preparer(ProbeCache probes, TinyEncoders.Vae vae, TinyEncoders.Text text,
            PrepareOptions options) {
        return new CachePreparer(new LatentCache(dir.resolve("cache")), probes, new ClipDecoder(new FfmpegMedia()),
                vae, text, options);
    }

    @Test
    void writesMomentsAndPromptEmbeddingOnceAndReusesThem() throws IOException {
        ManifestEntry e = entry();
        TinyEncoders.Vae vae = new TinyEncoders.Vae("tiny-vae/v1");
        TinyEncoders.Text text = new TinyEncoders.Text();
        try (ProbeCache probes = ProbeCache.open(dir.resolve("probe.jsonl"), new FfmpegMedia());
                NDManager m = NDManager.newBaseManager()) {
            CachePreparer p = preparer(probes, vae, text, PrepareOptions.textToVideo(ResizeMode.CENTER_CROP));
            CacheKey k1 = p.prepare(e, PLAN, m);
            CacheKey k2 = p.prepare(e, PLAN, m);

            assertThat(k2).isEqualTo(k1);
            assertThat(vae.calls).hasValue(1);
            assertThat(text.calls).hasValue(1);
            CachedSample s = new LatentCache(dir.resolve("cache")).read(k1, m).orElseThrow();
            assertThat(s.videoMoments().getShape()).isEqualTo(new Shape(8, 2, 2, 3)); // 5 frames -> 2 latent
            assertThat(s.promptEmbedding().getShape()).isEqualTo(new Shape(8, 16));
            assertThat(s.imageMoments()).isEmpty();
            assertThat(s.scalingFactor()).isEqualTo(0.7f);
            // moments are unscaled: channel 0 mean of latent frame 1 (source frame 4) is the pixel value
            assertThat(s.videoMoments().get(0, 1).mean().getFloat())
                    .isCloseTo(TestVideos.grey(4) / 127.5f - 1f, org.assertj.core.data.Offset.offset(0.03f));
        }
    }

    @Test
    void aChangedVideoOrEncoderGetsANewEntry() throws IOException {
        ManifestEntry e = entry();
        try (ProbeCache probes = ProbeCache.open(dir.resolve("probe.jsonl"), new FfmpegMedia());
                NDManager m = NDManager.newBaseManager()) {
            TinyEncoders.Vae vae = new TinyEncoders.Vae("tiny-vae/v1");
            PrepareOptions options = PrepareOptions.textToVideo(ResizeMode.RESIZE);
            CacheKey before = preparer(probes, vae, new TinyEncoders.Text(), options).prepare(e, PLAN, m);

            CacheKey otherVae = preparer(probes, new TinyEncoders.Vae("tiny-vae/v2"), new TinyEncoders.Text(),
                    options).prepare(e, PLAN, m);
            CacheKey otherDtype = preparer(probes, vae, new TinyEncoders.Text(),
                    options.withDtype(SafetensorsDType.F32)).prepare(e, PLAN, m);

            TestVideos.writeVideo(e.media(), 48, 32, 6, 8, (k, x, y) -> 0x808080);
            Files.setLastModifiedTime(e.media(), FileTime.fromMillis(System.currentTimeMillis() + 10_000));
            TinyEncoders.Vae counting = new TinyEncoders.Vae("tiny-vae/v1");
            CacheKey after = preparer(probes, counting, new TinyEncoders.Text(), options).prepare(e, PLAN, m);

            assertThat(otherVae).isNotEqualTo(before);
            assertThat(otherDtype).isNotEqualTo(before);
            assertThat(after.contentSha256()).isNotEqualTo(before.contentSha256());
            assertThat(counting.calls).as("the changed video is encoded again").hasValue(1);
        }
    }

    @Test
    void imageToVideoStoresNoisedFirstFrameMomentsAndTheirSigma() throws IOException {
        ManifestEntry e = entry();
        try (ProbeCache probes = ProbeCache.open(dir.resolve("probe.jsonl"), new FfmpegMedia());
                NDManager m = NDManager.newBaseManager()) {
            TinyEncoders.Vae vae = new TinyEncoders.Vae("tiny-vae/v1");
            CachePreparer p = preparer(probes, vae, new TinyEncoders.Text(),
                    PrepareOptions.imageToVideo(ResizeMode.CENTER_CROP).withSeed(42));
            CacheKey key = p.prepare(e, PLAN, m);

            CachedSample s = new LatentCache(dir.resolve("cache")).read(key, m).orElseThrow();
            assertThat(s.imageMoments()).isPresent();
            assertThat(s.imageMoments().get().getShape()).isEqualTo(new Shape(8, 1, 2, 3));
            double sigma = s.imageNoiseSigma().orElseThrow();
            assertThat(sigma).isBetween(Math.exp(-3 - 5 * 0.5), Math.exp(-3 + 5 * 0.5));
            assertThat(key.preprocessing()).contains("seed=42").contains("i2v=logsigma~N(-3.0,0.5)");
            assertThat(vae.calls).hasValue(2);
        }
    }
}
