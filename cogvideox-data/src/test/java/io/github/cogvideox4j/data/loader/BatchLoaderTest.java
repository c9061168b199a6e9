package io.github.cogvideox4j.data.loader;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.io.SafetensorsDType;
import io.github.cogvideox4j.data.Bucket;
import io.github.cogvideox4j.data.cache.CacheKey;
import io.github.cogvideox4j.data.cache.CachedSample;
import io.github.cogvideox4j.data.cache.LatentCache;
import io.github.cogvideox4j.data.media.ContentHash;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(value = 20, unit = TimeUnit.SECONDS)
class BatchLoaderTest {
    /** Samples whose latent values equal their index: latents [2, 4, 3, 5], prompt [6, 8]. */
    static final class FakeSource implements SampleSource {
        final List<Integer> loaded = new CopyOnWriteArrayList<>();
        final Set<Integer> failing = ConcurrentHashMap.newKeySet();
        final Set<Integer> erroring = ConcurrentHashMap.newKeySet();
        final Set<Integer> oddShape = ConcurrentHashMap.newKeySet();

        @Override
        public TrainingSample load(int index, long seed, NDManager manager) throws IOException {
            loaded.add(index);
            if (failing.contains(index)) {
                throw new NoSuchFileException("/data/videos/" + index + ".mp4");
            }
            if (erroring.contains(index)) {
                throw new StackOverflowError("deep trouble in sample " + index);
            }
            Shape latentShape = oddShape.contains(index) ? new Shape(2, 4, 3, 6) : new Shape(2, 4, 3, 5);
            return new TrainingSample(index, describe(index), manager.full(latentShape, (float) index),
                    manager.full(new Shape(6, 8), (float) index), Optional.empty());
        }

        @Override
        public String describe(int index) {
            return "/data/videos/" + index + ".mp4";
        }
    }

    private static List<int[]> plan(int[]... groups) {
        return List.of(groups);
    }

    @Test
    void deliversStackedBatchesInPlanOrder() {
        FakeSource source = new FakeSource();
        try (NDManager root = NDManager.newBaseManager();
                BatchLoader loader = new BatchLoader(plan(new int[] {3, 1}, new int[] {0, 2}, new int[] {4}), source,
                        root, LoaderOptions.defaults())) {
            List<int[]> seen = new ArrayList<>();
            while (loader.hasNext()) {
                try (Batch b = loader.next()) {
                    seen.add(b.indices());
                    assertThat(b.latents().getShape()).isEqualTo(new Shape(b.size(), 2, 4, 3, 5));
                    assertThat(b.promptEmbeddings().getShape()).isEqualTo(new Shape(b.size(), 6, 8));
                    assertThat(b.latents().get(0).max().getFloat()).isEqualTo((float) b.indices()[0]);
                    assertThat(b.sources().get(0)).isEqualTo("/data/videos/" + b.indices()[0] + ".mp4");
                }
            }
            assertThat(seen).containsExactly(new int[] {3, 1}, new int[] {0, 2}, new int[] {4});
            assertThat(loader.delivered()).isEqualTo(3);
        }
    }

    @Test
    void prefetchesUpToTheDepthAheadOfTheConsumer() throws InterruptedException {
        int depth = 3;
        FakeSource fake = new FakeSource();
        AtomicInteger polls = new AtomicInteger();                   // batches the consumer has asked for
        Map<Integer, Integer> pollsAtLoad = new ConcurrentHashMap<>();
        CountDownLatch prefetched = new CountDownLatch(depth + 1);
        SampleSource source = (index, seed, manager) -> {
            pollsAtLoad.put(index, polls.get());
            prefetched.countDown();
            return fake.load(index, seed, manager);
        };
        List<int[]> groups = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            groups.add(new int[] {i});
        }
        try (NDManager root = NDManager.newBaseManager();
                BatchLoader loader = new BatchLoader(groups, source, root,
                        LoaderOptions.defaults().withPrefetchDepth(depth))) {
            assertThat(prefetched.await(10, TimeUnit.SECONDS)).as("depth + 1 samples loaded before any poll").isTrue();
            while (true) {
                polls.incrementAndGet();                             // before hasNext(): it takes from the queue
                if (!loader.hasNext()) {
                    break;
                }
                loader.next().close();
            }
        }
        assertThat(pollsAtLoad).hasSize(10);
        // depth queued + 1 built and waiting for room, all before the consumer asked for anything
        for (int i = 0; i <= depth; i++) {
            assertThat(pollsAtLoad.get(i)).as("consumer polls when sample %d was loaded", i).isZero();
        }
        // sample i is loaded only after batch i - 1 was queued, so after the consumer made room for it
        for (int i = depth + 1; i < 10; i++) {
            assertThat(pollsAtLoad.get(i)).as("consumer polls when sample %d was loaded", i)
                    .isGreaterThanOrEqualTo(i - depth);
        }
    }

    @Test
    void failPolicyThrowsANamedErrorAtTheFailingBatch() {
        FakeSource source = new FakeSource();
        source.failing.add(2);
        try (NDManager root = NDManager.newBaseManager();
                BatchLoader loader = new BatchLoader(plan(new int[] {0, 1}, new int[] {2, 3}), source, root,
                        LoaderOptions.defaults())) {
            loader.next().close();

            assertThatThrownBy(loader::hasNext).isInstanceOf(SampleLoadException.class)
                    .hasMessageContaining("sample 2").hasMessageContaining("/data/videos/2.mp4")
                    .hasCauseInstanceOf(NoSuchFileException.class);
            assertThat(loader.hasNext()).isFalse();
        }
    }

    @Test
    void skipPolicyLeavesBadSamplesOutAndReportsThem() {
        FakeSource source = new FakeSource();
        source.failing.add(1);
        source.failing.add(4);
        source.oddShape.add(3);
        try (NDManager root = NDManager.newBaseManager();
                BatchLoader loader = new BatchLoader(plan(new int[] {0, 1}, new int[] {2, 3}, new int[] {4}), source,
                        root, LoaderOptions.defaults().withPolicy(BadSamplePolicy.SKIP))) {
            List<int[]> seen = new ArrayList<>();
            loader.forEachRemaining(b -> {
                seen.add(b.indices());
                b.close();
            });

            assertThat(seen).containsExactly(new int[] {0}, new int[] {2});
            assertThat(loader.skipped()).extracting(SkippedSample::index).containsExactly(1, 3, 4);
            assertThat(loader.skipped().get(0).source()).isEqualTo("/data/videos/1.mp4");
            assertThat(loader.skipped().get(1).reason()).contains("differs from the batch's");
        }
    }

    @Test
    void anErrorThrownBySampleLoadingReachesTheConsumerInsteadOfHanging() {
        FakeSource source = new FakeSource();
        source.erroring.add(1);
        try (NDManager root = NDManager.newBaseManager();
                BatchLoader loader = new BatchLoader(plan(new int[] {0}, new int[] {1}, new int[] {2}), source, root,
                        LoaderOptions.defaults().withPolicy(BadSamplePolicy.SKIP))) {
            loader.next().close();

            assertThatThrownBy(loader::next).isInstanceOf(SampleLoadException.class)
                    .hasCauseInstanceOf(StackOverflowError.class).hasMessageContaining("deep trouble");
        }
    }

    @Test
    void aFailingPlanReachesTheConsumer() {
        Iterable<int[]> broken = () -> new Iterator<>() {
            int n;

            @Override
            public boolean hasNext() {
                return true;
            }

            @Override
            public int[] next() {
                if (n++ == 1) {
                    throw new IllegalStateException("sampler state corrupt");
                }
                return new int[] {0};
            }
        };
        try (NDManager root = NDManager.newBaseManager();
                BatchLoader loader = new BatchLoader(broken, new FakeSource(), root, LoaderOptions.defaults())) {
            loader.next().close();

            assertThatThrownBy(loader::next).isInstanceOf(SampleLoadException.class)
                    .hasMessageContaining("sampler state corrupt");
        }
    }

    @Test
    void closeStopsTheThreadAndFreesQueuedBatches() throws InterruptedException {
        FakeSource fake = new FakeSource();
        // 4 batches of 2: the one handed out, 2 queued (default depth) and 1 built and waiting for room
        CountDownLatch queueFull = new CountDownLatch(8);
        SampleSource source = (index, seed, manager) -> {
            TrainingSample s = fake.load(index, seed, manager);
            queueFull.countDown();
            return s;
        };
        Iterable<int[]> endless = () -> new Iterator<>() {
            @Override
            public boolean hasNext() {
                return true;
            }

            @Override
            public int[] next() {
                return new int[] {0, 1};
            }
        };
        try (NDManager root = NDManager.newBaseManager()) {
            BatchLoader loader = new BatchLoader(endless, source, root, LoaderOptions.defaults());
            Batch kept = loader.next();
            assertThat(queueFull.await(10, TimeUnit.SECONDS)).as("the loader filled its queue").isTrue();

            loader.close();

            assertThat(loader.isLoading()).as("close waits for the loader thread to end").isFalse();
            assertThat(loader.hasNext()).isFalse();
            // the queued batches and the one waiting for room are freed; the batch handed out stays valid until its
            // owner closes it
            assertThat(root.getManagedArrays()).containsExactlyInAnyOrder(kept.latents(), kept.promptEmbeddings());
            assertThat(kept.latents().getShape()).isEqualTo(new Shape(2, 2, 4, 3, 5));
            kept.close();
        }
    }

    @Test
    void cachedSamplesAreDrawnFromMomentsScaledAndPermuted(@TempDir Path dir) throws IOException {
        LatentCache cache = new LatentCache(dir);
        CacheKey key = new CacheKey(ContentHash.sha256("v"), ContentHash.sha256("p"), "vae", "t5",
                new Bucket(5, 16, 24), SafetensorsDType.F32, "resize=resize");
        CacheKey missing = new CacheKey(ContentHash.sha256("gone"), ContentHash.sha256("p"), "vae", "t5",
                new Bucket(5, 16, 24), SafetensorsDType.F32, "resize=resize");
        try (NDManager root = NDManager.newBaseManager()) {
            // mean 2, logvar -30 (std ~3e-7): the drawn latent is 2 * 0.5
            NDArray moments = root.full(new Shape(4, 2, 2, 3), 2f).concat(root.full(new Shape(4, 2, 2, 3), -30f), 0);
            cache.write(key, new CachedSample(moments, root.zeros(new Shape(6, 8)),
                    Optional.of(moments.get(":, 0:1")), 0.5f, OptionalDouble.of(0.04)));
            CachedSampleSource source = new CachedSampleSource(cache, List.of(key, missing),
                    List.of("/data/a.mp4", "/data/gone.mp4"));

            try (BatchLoader loader = new BatchLoader(plan(new int[] {0, 0}, new int[] {1}), source, root,
                    LoaderOptions.defaults())) {
                try (Batch b = loader.next()) {
                    assertThat(b.latents().getShape()).isEqualTo(new Shape(2, 2, 4, 2, 3)); // [B, F, C, h, w]
                    assertThat(b.latents().mean().getFloat()).isCloseTo(1f, org.assertj.core.data.Offset.offset(1e-4f));
                    assertThat(b.imageLatents().orElseThrow().getShape()).isEqualTo(new Shape(2, 1, 4, 2, 3));
                }
                assertThatThrownBy(loader::next).isInstanceOf(SampleLoadException.class)
                        .hasMessageContaining("/data/gone.mp4");
            }
        }
    }

    @Test
    void perSampleSeedsAreReproducible() {
        List<Long> first = new CopyOnWriteArrayList<>();
        List<Long> second = new CopyOnWriteArrayList<>();
        for (List<Long> sink : List.of(first, second)) {
            SampleSource s = (index, seed, manager) -> {
                sink.add(seed);
                return new TrainingSample(index, "x", manager.zeros(new Shape(1, 1, 1, 1)),
                        manager.zeros(new Shape(1, 1)), Optional.empty());
            };
            try (NDManager root = NDManager.newBaseManager();
                    BatchLoader loader = new BatchLoader(plan(new int[] {0, 1}, new int[] {0}), s, root,
                            LoaderOptions.defaults().withSeed(5))) {
                loader.forEachRemaining(Batch::close);
            }
        }
        assertThat(first).containsExactlyElementsOf(second).doesNotHaveDuplicates();
    }

    @Test
    void aSampleGetsTheSameSeedHoweverItsGlobalBatchIsCutIntoGroups() {
        // one global batch {4, 7, 2, 9}: whole, or as two groups sharing the batch's ordinal (a rank's micro-batches)
        java.util.Map<Integer, Long> whole = new ConcurrentHashMap<>();
        java.util.Map<Integer, Long> cut = new ConcurrentHashMap<>();
        for (boolean split : new boolean[] {false, true}) {
            java.util.Map<Integer, Long> sink = split ? cut : whole;
            SampleSource s = (index, seed, manager) -> {
                sink.put(index, seed);
                return new TrainingSample(index, "x", manager.zeros(new Shape(1, 1, 1, 1)),
                        manager.zeros(new Shape(1, 1)), Optional.empty());
            };
            List<int[]> groups = split ? plan(new int[] {4, 7}, new int[] {2, 9}, new int[] {1, 3}, new int[] {5, 6})
                    : plan(new int[] {4, 7, 2, 9}, new int[] {1, 3, 5, 6});
            try (NDManager root = NDManager.newBaseManager();
                    BatchLoader loader = new BatchLoader(groups, s, root,
                            new LoaderOptions(2, BadSamplePolicy.FAIL, 5, 10).withGroupsPerOrdinal(split ? 2 : 1))) {
                loader.forEachRemaining(Batch::close);
            }
        }
        assertThat(cut).isEqualTo(whole).hasSize(8);
    }
}
