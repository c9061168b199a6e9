package io.github.cogvideox4j.data.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.io.SafetensorsDType;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.data.Bucket;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LatentCacheTest {
    @TempDir
    Path dir;

    private static CachedSample sample(NDManager m, float base, boolean i2v) {
        NDArray video = m.arange(base, base + 2 * 4 * 2 * 3, 1f).reshape(8, 2, 1, 3); // [2C=8, F=2, h=1, w=3]
        NDArray prompt = m.full(new Shape(8, 16), base);
        return new CachedSample(video, prompt, i2v ? Optional.of(m.ones(new Shape(8, 1, 1, 3))) : Optional.empty(),
                0.7f, i2v ? OptionalDouble.of(0.05) : OptionalDouble.empty());
    }

    @Test
    void roundTripsEveryTensorAndTheRecordedFactors() throws IOException {
        LatentCache cache = new LatentCache(dir);
        CacheKey key = CacheKeyTest.BASE;
        try (NDManager m = NDManager.newBaseManager()) {
            CachedSample s = sample(m, 1f, true);
            Path file = cache.write(key, s);

            assertThat(file).isEqualTo(dir.resolve("9x32x48").resolve(key.fileName()));
            CachedSample back = cache.read(key, m).orElseThrow();
            assertThat(back.videoMoments().getDataType()).isEqualTo(DataType.FLOAT32);
            assertThat(back.videoMoments().toFloatArray()).containsExactly(s.videoMoments().toFloatArray());
            assertThat(back.promptEmbedding().getShape()).isEqualTo(new Shape(8, 16));
            assertThat(back.imageMoments()).isPresent();
            assertThat(back.scalingFactor()).isEqualTo(0.7f);
            assertThat(back.imageNoiseSigma()).hasValue(0.05);
        }
    }

    @Test
    void storesInTheKeysDtype() throws IOException {
        LatentCache cache = new LatentCache(dir);
        try (NDManager m = NDManager.newBaseManager()) {
            Path file = cache.write(CacheKeyTest.BASE, sample(m, 1f, false));
            try (SafetensorsReader r = SafetensorsReader.open(file)) {
                assertThat(r.info(LatentCache.VIDEO_MOMENTS).dtype()).isEqualTo(SafetensorsDType.F16);
                assertThat(r.metadata()).containsEntry("latent_encoder", "vae/a").containsEntry("bucket", "9x32x48")
                        .containsEntry("scaling_factor", "0.7");
                assertThat(r.contains(LatentCache.IMAGE_MOMENTS)).isFalse();
            }
        }
    }

    @Test
    void neverServesAnEntryWrittenForAnotherKey() throws IOException {
        LatentCache cache = new LatentCache(dir);
        CacheKey other = new CacheKey(CacheKeyTest.CONTENT, CacheKeyTest.PROMPT, "vae/b", "t5/a",
                CacheKeyTest.BASE.bucket(), SafetensorsDType.F16, "resize=resize");
        try (NDManager m = NDManager.newBaseManager()) {
            Path written = cache.write(CacheKeyTest.BASE, sample(m, 1f, false));
            // A stale file sitting exactly where the other key's entry would be (renamed, copied by hand...).
            Files.copy(written, cache.pathOf(other), StandardCopyOption.REPLACE_EXISTING);

            assertThat(cache.contains(other)).isTrue();
            assertThat(cache.read(other, m)).isEmpty();
        }
    }

    @Test
    void treatsATruncatedFileAsAMiss() throws IOException {
        LatentCache cache = new LatentCache(dir);
        try (NDManager m = NDManager.newBaseManager()) {
            Path file = cache.write(CacheKeyTest.BASE, sample(m, 1f, false));
            byte[] bytes = Files.readAllBytes(file);
            Files.write(file, java.util.Arrays.copyOf(bytes, bytes.length / 2));

            assertThat(cache.read(CacheKeyTest.BASE, m)).isEmpty();
        }
    }

    @Test
    void aCorruptEntryIsAMissWhoseWarningNamesTheFileAndTheOtherEntriesAndTheFileStayAsTheyWere()
            throws IOException {
        LatentCache cache = new LatentCache(dir);
        CacheKey other = new CacheKey(CacheKeyTest.CONTENT, CacheKeyTest.PROMPT, "vae/b", "t5/a",
                CacheKeyTest.BASE.bucket(), SafetensorsDType.F16, "resize=resize");
        ch.qos.logback.classic.Logger logger =
                (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(LatentCache.class);
        ch.qos.logback.core.read.ListAppender<ch.qos.logback.classic.spi.ILoggingEvent> log =
                new ch.qos.logback.core.read.ListAppender<>();
        log.start();
        logger.addAppender(log);
        try (NDManager m = NDManager.newBaseManager()) {
            Path corrupt = cache.write(CacheKeyTest.BASE, sample(m, 1f, false));
            Path intact = cache.write(other, sample(m, 5f, false));
            byte[] intactBytes = Files.readAllBytes(intact);
            byte[] bytes = Files.readAllBytes(corrupt);
            for (int i = 12; i < 40; i++) {
                bytes[i] = '#'; // the JSON header, overwritten in place
            }
            Files.write(corrupt, bytes);

            assertThat(cache.read(CacheKeyTest.BASE, m)).isEmpty();
            assertThat(log.list).singleElement().satisfies(e -> {
                assertThat(e.getLevel()).isEqualTo(ch.qos.logback.classic.Level.WARN);
                assertThat(e.getFormattedMessage()).startsWith(corrupt + ": unreadable cache entry treated as a miss");
            });
            assertThat(Files.readAllBytes(corrupt)).as("the corrupt file is left for inspection").isEqualTo(bytes);
            assertThat(Files.readAllBytes(intact)).isEqualTo(intactBytes);
            CachedSample read = cache.read(other, m).orElseThrow();
            assertThat(read.videoMoments().toFloatArray())
                    .containsExactly(sample(m, 5f, false).videoMoments().toType(DataType.FLOAT16, false)
                            .toType(DataType.FLOAT32, false).toFloatArray());
        } finally {
            logger.detachAppender(log);
        }
    }

    @Test
    void anEntryWithoutItsScalingFactorIsAMissNotAnError() throws IOException {
        LatentCache cache = new LatentCache(dir);
        try (NDManager m = NDManager.newBaseManager()) {
            Path file = cache.write(CacheKeyTest.BASE, sample(m, 1f, false));
            java.util.Map<String, String> meta;
            java.util.Map<String, NDArray> tensors = new java.util.LinkedHashMap<>();
            try (SafetensorsReader r = SafetensorsReader.open(file)) {
                meta = new java.util.LinkedHashMap<>(r.metadata());
                for (String name : r.names()) {
                    tensors.put(name, r.read(name, m, DataType.FLOAT32));
                }
            }
            meta.remove("scaling_factor");
            Files.delete(file);
            io.github.cogvideox4j.core.io.SafetensorsWriter.write(file, tensors, meta);

            assertThat(cache.read(CacheKeyTest.BASE, m)).isEmpty();
        }
    }

    @Test
    void aFailedWriteLeavesThePreviousEntryAndNoTemporaryFile() throws IOException {
        LatentCache cache = new LatentCache(dir);
        try (NDManager m = NDManager.newBaseManager()) {
            cache.write(CacheKeyTest.BASE, sample(m, 1f, false));
            CachedSample broken = sample(m, 5f, false);
            broken.promptEmbedding().close(); // its bytes cannot be read any more: the writer fails mid-way

            assertThatThrownBy(() -> cache.write(CacheKeyTest.BASE, broken)).isInstanceOf(RuntimeException.class);

            CachedSample back = cache.read(CacheKeyTest.BASE, m).orElseThrow();
            assertThat(back.videoMoments().getFloat(0, 0, 0, 0)).isEqualTo(1f);
            assertThat(filesUnder(dir)).containsExactly(cache.pathOf(CacheKeyTest.BASE));
        }
    }

    @Test
    void writesLeaveOnlyTheEntryFile() throws IOException {
        LatentCache cache = new LatentCache(dir);
        try (NDManager m = NDManager.newBaseManager()) {
            cache.write(CacheKeyTest.BASE, sample(m, 1f, false));
            cache.write(CacheKeyTest.BASE, sample(m, 2f, false));

            assertThat(filesUnder(dir)).containsExactly(cache.pathOf(CacheKeyTest.BASE));
            assertThat(cache.read(CacheKeyTest.BASE, m).orElseThrow().videoMoments().getFloat(0, 0, 0, 0))
                    .isEqualTo(2f);
        }
    }

    private static List<Path> filesUnder(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            return s.filter(Files::isRegularFile).collect(Collectors.toList());
        }
    }
}
