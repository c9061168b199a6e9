package io.github.cogvideox4j.bench;

import io.github.cogvideox4j.data.BatchPlan;
import io.github.cogvideox4j.data.Bucket;
import io.github.cogvideox4j.data.BucketRule;
import io.github.cogvideox4j.data.BucketSampler;
import io.github.cogvideox4j.data.SamplerConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
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
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Bucketing a large dataset: {@link BucketRule#defaults} assignment of every sample, then a {@link BucketSampler}
 * and one epoch of shuffled batches. Budget: under 100 ms for 1,000,000 samples.
 *
 * <p>Synthetic samples: 1 in 10 is an image; videos have 17..400 frames; sizes are drawn from 12 common source
 * resolutions (480p to 4K, both orientations), 1 in 64 randomly cropped (about 15,000 distinct sizes). The path is
 * the allocation-light one a large dataset should use: {@link BucketRule#bucketOf} and
 * {@link BucketSampler#of(Bucket[], boolean[], SamplerConfig)}.
 * Buckets: frames {1, 17, 33, 49, 81} x the 12 x 12 height/width table of the reference trainers.
 *
 * <p>Methods: {@link #assignAndPlanEpoch} (the budgeted path), {@link #assignOnly}, {@link #planEpochOnly} (sampler
 * built in setup). Run: {@code java -cp <classpath> org.openjdk.jmh.Main BucketSamplerBench}; a smoke run adds
 * {@code -f 0 -wi 2 -i 3 -r 1s -w 1s}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xmx2g"})
public class BucketSamplerBench {
    private static final int[] SIZES = {256, 320, 384, 480, 512, 576, 720, 768, 960, 1024, 1280, 1536};
    private static final int[][] SOURCES = {
        {480, 640}, {480, 720}, {480, 854}, {576, 720}, {720, 1280}, {768, 1360}, {1080, 1920}, {1440, 2560},
        {2160, 3840}, {1080, 1080}, {1920, 1080}, {1280, 720}};

    /** Number of samples. */
    @Param({"1000000"})
    public int samples;

    /** Batch size. */
    @Param({"4"})
    public int batchSize;

    private int[] frames;
    private int[] heights;
    private int[] widths;
    private boolean[] images;
    private BucketRule rule;
    private BucketSampler sampler;

    /** Generates the samples and the bucket table. */
    @Setup
    public void setUp() {
        List<Bucket> buckets = new ArrayList<>();
        for (int f : new int[] {1, 17, 33, 49, 81}) {
            for (int h : SIZES) {
                for (int w : SIZES) {
                    buckets.add(new Bucket(f, h, w));
                }
            }
        }
        rule = BucketRule.defaults(buckets);
        SplittableRandom r = new SplittableRandom(42);
        frames = new int[samples];
        heights = new int[samples];
        widths = new int[samples];
        for (int i = 0; i < samples; i++) {
            int[] s = SOURCES[r.nextInt(SOURCES.length)];
            boolean crop = r.nextInt(64) == 0;
            frames[i] = r.nextInt(10) == 0 ? 1 : 17 + r.nextInt(384);
            heights[i] = crop ? 256 + r.nextInt(s[0] - 255) : s[0];
            widths[i] = crop ? 256 + r.nextInt(s[1] - 255) : s[1];
        }
        images = new boolean[samples];
        for (int i = 0; i < samples; i++) {
            images[i] = frames[i] == 1;
        }
        sampler = BucketSampler.of(assign(), images, SamplerConfig.of(batchSize, 7));
    }

    private Bucket[] assign() {
        Bucket[] out = new Bucket[samples];
        for (int i = 0; i < samples; i++) {
            out[i] = rule.bucketOf(frames[i], heights[i], widths[i]);
        }
        return out;
    }

    /**
     * Assignment of every sample, sampler construction and one epoch of batches, every batch visited (the budgeted
     * path).
     *
     * @param bh sink
     */
    @Benchmark
    public void assignAndPlanEpoch(Blackhole bh) {
        BucketSampler s = BucketSampler.of(assign(), images, SamplerConfig.of(batchSize, 7));
        walk(s.epoch(1), bh);
    }

    private static void walk(List<BatchPlan> epoch, Blackhole bh) {
        long sum = 0;
        for (BatchPlan b : epoch) {
            sum += b.sampleIndex(0) + b.size();
        }
        bh.consume(sum);
    }

    /**
     * Assignment only.
     *
     * @param bh sink
     */
    @Benchmark
    public void assignOnly(Blackhole bh) {
        bh.consume(assign());
    }

    /**
     * One epoch of a prepared sampler (every batch visited).
     *
     * @param bh sink
     */
    @Benchmark
    public void planEpochOnly(Blackhole bh) {
        walk(sampler.epoch(1), bh);
    }
}
