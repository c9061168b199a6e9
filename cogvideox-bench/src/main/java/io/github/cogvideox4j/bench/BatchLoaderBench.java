package io.github.cogvideox4j.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.google.common.io.MoreFiles;
import io.github.cogvideox4j.core.io.SafetensorsDType;
import io.github.cogvideox4j.data.Bucket;
import io.github.cogvideox4j.data.cache.CacheKey;
import io.github.cogvideox4j.data.cache.CachedSample;
import io.github.cogvideox4j.data.cache.LatentCache;
import io.github.cogvideox4j.data.loader.Batch;
import io.github.cogvideox4j.data.loader.BatchLoader;
import io.github.cogvideox4j.data.loader.CachedSampleSource;
import io.github.cogvideox4j.data.loader.LoaderOptions;
import io.github.cogvideox4j.data.media.ContentHash;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Time a training loop waits for a batch with the prefetching {@link BatchLoader}, versus the time to read the
 * same batch synchronously.
 *
 * <p>A cache of 4 entries is generated per trial at the 49x480x720 shape: VAE moments {@code [32, 13, 60, 90]}
 * and prompt embedding {@code [226, 4096]}, stored F16 (6.3 MB per entry). A batch is 2 entries: read, latent
 * sampled from the moments (Java Gaussian noise), permuted and stacked to {@code [2, 13, 16, 60, 90]} +
 * {@code [2, 226, 4096]}.
 * <ul>
 *   <li>{@link #readSynchronously}: the batch read on the caller's thread (what a loop without prefetch pays);</li>
 *   <li>{@link #stepWithPrefetch}: a simulated step of {@code stepMillis} (sleep, as for a step on an
 *       accelerator) followed by {@code loader.next()};</li>
 *   <li>{@link #stepOnly}: the simulated step alone.</li>
 * </ul>
 * Wait per batch with prefetch = stepWithPrefetch - stepOnly; it is near zero while the step takes longer than a
 * read. Files stay in the page cache, so this measures decoding and sampling, not the disk.
 *
 * <p>Run (after {@code mvn -pl cogvideox-bench -am package -DskipTests}):
 * {@code java -Dai.djl.offline=true -cp <classpath> org.openjdk.jmh.Main BatchLoaderBench}; a smoke run adds
 * {@code -f 0 -wi 1 -i 2 -r 2s -w 1s}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 3)
@Fork(value = 1, jvmArgsAppend = {"-Dai.djl.offline=true", "-Xmx2g"})
public class BatchLoaderBench {
    private static final int ENTRIES = 4;
    private static final Bucket BUCKET = new Bucket(49, 480, 720);

    /** Simulated training-step time in milliseconds. */
    @Param({"150"})
    public int stepMillis;

    /** Prefetch depth of the loader. */
    @Param({"2"})
    public int depth;

    private Path dir;
    private NDManager root;
    private CachedSampleSource source;
    private BatchLoader loader;
    private long ordinal;

    /**
     * Writes the cache and starts the loader on an endless plan.
     *
     * @throws IOException if writing fails
     */
    @Setup
    public void setUp() throws IOException {
        dir = Files.createTempDirectory("batch-loader-bench");
        root = NDManager.newBaseManager();
        LatentCache cache = new LatentCache(dir);
        List<CacheKey> keys = new ArrayList<>();
        List<String> names = new ArrayList<>();
        try (NDManager m = root.newSubManager()) {
            for (int i = 0; i < ENTRIES; i++) {
                CacheKey key = new CacheKey(ContentHash.sha256("video " + i), ContentHash.sha256("prompt " + i),
                        "bench-vae", "bench-t5", BUCKET, SafetensorsDType.F16, "resize=resize");
                NDArray moments = m.randomNormal(new Shape(32, 13, 60, 90)).mul(0.5f);
                NDArray prompt = m.randomNormal(new Shape(226, 4096));
                cache.write(key, new CachedSample(moments, prompt, Optional.empty(), 0.7f, OptionalDouble.empty()));
                keys.add(key);
                names.add("video " + i);
            }
        }
        source = new CachedSampleSource(cache, keys, names);
        Iterable<int[]> endless = () -> new Iterator<>() {
            private int next;

            @Override
            public boolean hasNext() {
                return true;
            }

            @Override
            public int[] next() {
                int a = next++ % ENTRIES;
                return new int[] {a, (a + 1) % ENTRIES};
            }
        };
        loader = new BatchLoader(endless, source, root, LoaderOptions.defaults().withPrefetchDepth(depth));
    }

    /** Stops the loader and deletes the cache. @throws IOException if deleting fails */
    @TearDown
    public void tearDown() throws IOException {
        loader.close();
        root.close();
        MoreFiles.deleteRecursively(dir);
    }

    /**
     * One batch read on the caller's thread.
     *
     * @param bh sink
     * @throws IOException if reading fails
     */
    @Benchmark
    public void readSynchronously(Blackhole bh) throws IOException {
        int a = (int) (ordinal++ % ENTRIES);
        try (NDManager m = root.newSubManager()) {
            var s0 = source.load(a, ordinal, m);
            var s1 = source.load((a + 1) % ENTRIES, ordinal, m);
            NDArray latents = s0.latents().stack(s1.latents());
            NDArray prompts = s0.promptEmbedding().stack(s1.promptEmbedding());
            bh.consume(latents.getShape());
            bh.consume(prompts.getShape());
        }
    }

    /**
     * A simulated step, then the next prefetched batch.
     *
     * @param bh sink
     * @throws InterruptedException never in practice
     */
    @Benchmark
    public void stepWithPrefetch(Blackhole bh) throws InterruptedException {
        Thread.sleep(stepMillis);
        try (Batch b = loader.next()) {
            bh.consume(b.latents().getShape());
        }
    }

    /**
     * The simulated step alone (baseline to subtract).
     *
     * @throws InterruptedException never in practice
     */
    @Benchmark
    public void stepOnly() throws InterruptedException {
        Thread.sleep(stepMillis);
    }
}
