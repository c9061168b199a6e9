package io.github.cogvideox4j.lora.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.cogvideox4j.core.CogVideoXException;
import io.github.cogvideox4j.core.io.SafetensorsDType;
import io.github.cogvideox4j.data.Bucket;
import io.github.cogvideox4j.data.BucketAssignment;
import io.github.cogvideox4j.data.BucketRule;
import io.github.cogvideox4j.data.FrameRule;
import io.github.cogvideox4j.data.OddLatentPolicy;
import io.github.cogvideox4j.data.cache.CacheKey;
import io.github.cogvideox4j.data.cache.CachePreparer;
import io.github.cogvideox4j.data.cache.FramePlan;
import io.github.cogvideox4j.data.cache.LatentCache;
import io.github.cogvideox4j.data.cache.LatentEncoder;
import io.github.cogvideox4j.data.cache.PrepareOptions;
import io.github.cogvideox4j.data.cache.TextEncoder;
import io.github.cogvideox4j.data.encode.T5TextEncoder;
import io.github.cogvideox4j.data.encode.VaeLatentEncoder;
import io.github.cogvideox4j.data.manifest.DatasetManifest;
import io.github.cogvideox4j.data.manifest.ManifestEntry;
import io.github.cogvideox4j.data.manifest.ManifestProblem;
import io.github.cogvideox4j.data.media.ClipDecoder;
import io.github.cogvideox4j.data.media.FfmpegMedia;
import io.github.cogvideox4j.data.media.MediaInfo;
import io.github.cogvideox4j.data.media.ProbeCache;
import io.github.cogvideox4j.data.media.ResizeMode;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code cogvideox prepare}: dataset folder → probed, bucketed, encoded latent cache, the cache
 * {@code cogvideox train --set data.cache=<dir>} reads.
 *
 * <p>Per manifest entry: probe (memoised in {@code <cache>/probe.jsonl}), bucket with the chosen rule (buckets checked
 * against the model's frame rules), then {@link CachePreparer}: an entry whose verified cache file exists is skipped
 * by its key, so a run interrupted at any point (even SIGKILL: entries are written atomically) resumes where it
 * stopped. The VAE and T5 are loaded only when the first entry needs encoding. At the end: a per-bucket table
 * (samples, encoded now, already cached), the skipped and broken files with their reasons, and timings.
 *
 * <p>Exit code 0 when the run completes (skipped or broken files are reported, not fatal); 1 on a usage or
 * manifest error. The cache folder must have one writer at a time: leftover temporary files of an interrupted
 * write are removed at start.
 */
@Command(name = "prepare", mixinStandardHelpOptions = true,
        description = "Probe, bucket and encode a dataset folder into a latent cache (resumable).")
final class PrepareCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Spec
    private CommandSpec spec;

    @Option(names = "--data", required = true,
            description = "dataset folder or manifest file (prompts.txt+videos.txt, metadata.jsonl/csv, ...)")
    private Path data;

    @Option(names = "--model", required = true, description = "Diffusers CogVideoX pipeline folder (vae/, "
            + "text_encoder/, tokenizer/, transformer/)")
    private Path model;

    @Option(names = "--cache", required = true, description = "cache folder to fill")
    private Path cacheDir;

    @Option(names = "--buckets", split = ",", defaultValue = "49x480x720,49x720x480",
            description = "buckets FxHxW, comma-separated (default: ${DEFAULT-VALUE})")
    private List<String> buckets;

    @Option(names = "--rule", defaultValue = "default",
            description = "bucket rule: default, finetrainers or cogvideo (default: ${DEFAULT-VALUE})")
    private String rule;

    @Option(names = "--resize", defaultValue = "center_crop",
            description = "resize, center_crop or random_crop (default: ${DEFAULT-VALUE})")
    private String resize;

    @Option(names = "--i2v", description = "also store noised first-frame moments for image-to-video training")
    private boolean imageToVideo;

    @Option(names = "--dtype", defaultValue = "F16", description = "storage dtype F16 or F32 (default: ${DEFAULT-VALUE})")
    private SafetensorsDType dtype;

    @Option(names = "--seed", defaultValue = "0", description = "seed of random crops and I2V noise")
    private long seed;

    @Option(names = "--tiling", description = "encode with the VAE's tiling (lower memory, other numbers)")
    private boolean tiling;

    @Option(names = "--no-progress", description = "no progress bar")
    private boolean noProgress;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        List<Bucket> bucketList = buckets.stream().map(PrepareCommand::parseBucket).toList();
        FrameRule frameRule = frameRule(model);
        BucketRule bucketRule = bucketRule(rule, bucketList, frameRule);
        PrepareOptions options = (imageToVideo ? PrepareOptions.imageToVideo(ResizeMode.parse(resize))
                : PrepareOptions.textToVideo(ResizeMode.parse(resize))).withDtype(dtype).withSeed(seed);
        DatasetManifest manifest = DatasetManifest.read(data);
        LatentCache cache = new LatentCache(cacheDir);
        int staleTemps = removeStaleTemps(cache.root());

        List<String> skipped = new ArrayList<>();
        for (ManifestProblem p : manifest.problems()) {
            skipped.add("manifest " + p);
        }
        Map<String, int[]> perBucket = new TreeMap<>();
        long encodeNanos = 0;
        long loadNanos;
        int encoded = 0;
        int reused = 0;
        long start = System.nanoTime();
        try (NDManager manager = NDManager.newBaseManager();
                LazyModels models = new LazyModels(model, tiling, manager);
                ProbeCache probes = ProbeCache.open(cache.root().resolve("probe.jsonl"), new FfmpegMedia());
                ProgressBar bar = progressBar(manifest.entries().size())) {
            CachePreparer preparer = new CachePreparer(cache, probes, new ClipDecoder(new FfmpegMedia()),
                    models.vae, models.text, options);
            for (ManifestEntry entry : manifest.entries()) {
                try {
                    MediaInfo info = probes.probe(entry.media());
                    BucketAssignment a = bucketRule.assign(info.frames(), info.height(), info.width());
                    if (a.frameCount() != a.bucket().frames()) {
                        throw new IllegalArgumentException(a.frameCount() + " frames for bucket " + a.bucket());
                    }
                    FramePlan plan = new FramePlan(a.bucket(), a.frameIndices());
                    CacheKey key = preparer.keyFor(entry, plan);
                    int[] row = perBucket.computeIfAbsent(plan.bucket().toString(), b -> new int[2]);
                    if (isCached(cache, key, manager)) {
                        reused++;
                        row[1]++;
                    } else {
                        long t0 = System.nanoTime();
                        long load0 = models.loadNanos;
                        preparer.prepare(entry, plan, manager);
                        encodeNanos += System.nanoTime() - t0 - (models.loadNanos - load0);
                        encoded++;
                        row[0]++;
                    }
                } catch (IllegalArgumentException e) {
                    skipped.add("skipped " + entry.media() + " (" + entry.location() + "): " + e.getMessage());
                } catch (ModelLoadException e) {
                    throw e;
                } catch (IOException | CogVideoXException e) {
                    skipped.add("broken  " + entry.media() + " (" + entry.location() + "): " + e.getMessage());
                }
                if (bar != null) {
                    bar.step();
                }
            }
            loadNanos = models.loadNanos;
        }
        report(out, perBucket, encoded, reused, skipped, staleTemps, encodeNanos, loadNanos,
                System.nanoTime() - start);
        return 0;
    }

    private static boolean isCached(LatentCache cache, CacheKey key, NDManager manager) throws IOException {
        if (!cache.contains(key)) {
            return false;
        }
        try (NDManager scratch = manager.newSubManager()) {
            return cache.read(key, scratch).isPresent();
        }
    }

    private ProgressBar progressBar(int total) {
        if (noProgress) {
            return null;
        }
        return new ProgressBarBuilder().setTaskName("prepare").setInitialMax(total).setStyle(ProgressBarStyle.ASCII)
                .setUpdateIntervalMillis(500).showSpeed().build();
    }

    private void report(PrintWriter out, Map<String, int[]> perBucket, int encoded, int reused, List<String> skipped,
            int staleTemps, long encodeNanos, long loadNanos, long totalNanos) {
        out.printf("%-20s %8s %8s %8s%n", "bucket (FxHxW)", "samples", "encoded", "cached");
        for (Map.Entry<String, int[]> e : perBucket.entrySet()) {
            int[] r = e.getValue();
            out.printf("%-20s %8d %8d %8d%n", e.getKey(), r[0] + r[1], r[0], r[1]);
        }
        out.printf("%-20s %8d %8d %8d%n", "total", encoded + reused, encoded, reused);
        out.printf(Locale.ROOT, "encoded %d, already cached %d, skipped or broken %d in %.1f s%s%n", encoded, reused,
                skipped.size(), totalNanos / 1e9, encoded == 0 ? ""
                        : String.format(Locale.ROOT, " (%.3f s per encoded sample)", encodeNanos / 1e9 / encoded));
        out.println(loadNanos == 0 ? "no model loaded"
                : String.format(Locale.ROOT, "models loaded in %.2f s", loadNanos / 1e9));
        if (staleTemps > 0) {
            out.printf("removed %d temporary file(s) of an interrupted run%n", staleTemps);
        }
        if (!skipped.isEmpty()) {
            out.printf("%d file(s) not cached:%n", skipped.size());
            skipped.forEach(s -> out.println("  " + s));
        }
        out.printf("cache: %s (train with --set data.cache=%s)%n", cacheDir, cacheDir);
        out.flush();
    }

    static Bucket parseBucket(String spec) {
        String[] p = spec.trim().toLowerCase(Locale.ROOT).split("x");
        if (p.length != 3) {
            throw new IllegalArgumentException("bucket must be FxHxW (e.g. 49x480x720), got " + spec);
        }
        return new Bucket(Integer.parseInt(p[0]), Integer.parseInt(p[1]), Integer.parseInt(p[2]));
    }

    /** CogVideoX1.5 ({@code patch_size_t} set) trims odd latent counts; 1.0 takes any 4k+1 bucket. */
    static FrameRule frameRule(Path pipeline) throws IOException {
        Path config = pipeline.resolve("transformer").resolve("config.json");
        if (!Files.isRegularFile(config)) {
            return FrameRule.cogVideoX10();
        }
        JsonNode pt = JSON.readTree(config.toFile()).get("patch_size_t");
        return pt != null && !pt.isNull() && pt.asInt() > 1 ? FrameRule.cogVideoX15(OddLatentPolicy.TRIM)
                : FrameRule.cogVideoX10();
    }

    static BucketRule bucketRule(String name, List<Bucket> buckets, FrameRule frameRule) {
        switch (name.toLowerCase(Locale.ROOT)) {
            case "default":
                return BucketRule.defaults(buckets, frameRule);
            case "finetrainers":
                frameRule.checkBuckets(buckets);
                return BucketRule.finetrainers(buckets);
            case "cogvideo":
                frameRule.checkBuckets(buckets);
                return BucketRule.cogvideo(buckets);
            default:
                throw new IllegalArgumentException("unknown --rule " + name + " (default, finetrainers, cogvideo)");
        }
    }

    private static int removeStaleTemps(Path root) throws IOException {
        if (!Files.isDirectory(root)) {
            return 0;
        }
        int n = 0;
        try (Stream<Path> files = Files.walk(root, 2)) {
            for (Path f : files.filter(p -> {
                String name = p.getFileName().toString();
                return name.startsWith(".") && name.contains(".safetensors.") && name.endsWith(".tmp");
            }).toList()) {
                Files.deleteIfExists(f);
                n++;
            }
        }
        return n;
    }

    /** A model that cannot be loaded ends the run (every sample would fail). */
    static final class ModelLoadException extends CogVideoXException {
        private static final long serialVersionUID = 1L;

        ModelLoadException(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * The VAE and T5 behind the cache's encoder interfaces, loaded on first use: identities and the scaling factor
     * come from the files, so a run that finds everything cached loads no weights.
     */
    private static final class LazyModels implements AutoCloseable {
        private final Path pipeline;
        private final boolean tiling;
        private final NDManager manager;
        private VaeLatentEncoder vaeModel;
        private T5TextEncoder textModel;
        long loadNanos;
        final LatentEncoder vae;
        final TextEncoder text;

        LazyModels(Path pipeline, boolean tiling, NDManager manager) throws IOException {
            this.pipeline = pipeline;
            this.tiling = tiling;
            this.manager = manager;
            String vaeId = VaeLatentEncoder.identityOf(pipeline, tiling);
            float scaling = VaeLatentEncoder.scalingFactorOf(pipeline);
            String textId = T5TextEncoder.identityOf(pipeline, DataType.FLOAT32);
            this.vae = new LatentEncoder() {
                @Override
                public String identity() {
                    return vaeId;
                }

                @Override
                public float scalingFactor() {
                    return scaling;
                }

                @Override
                public NDArray encodeMoments(NDArray pixels, NDManager m) {
                    return vae().encodeMoments(pixels, m);
                }
            };
            this.text = new TextEncoder() {
                @Override
                public String identity() {
                    return textId;
                }

                @Override
                public NDArray encode(String prompt, NDManager m) {
                    return text().encode(prompt, m);
                }
            };
        }

        private VaeLatentEncoder vae() {
            if (vaeModel == null) {
                try {
                    long t0 = System.nanoTime();
                    vaeModel = VaeLatentEncoder.load(pipeline, tiling, manager);
                    loadNanos += System.nanoTime() - t0;
                } catch (IOException e) {
                    throw new ModelLoadException("cannot load the VAE of " + pipeline + ": " + e.getMessage(), e);
                }
            }
            return vaeModel;
        }

        private T5TextEncoder text() {
            if (textModel == null) {
                try {
                    long t0 = System.nanoTime();
                    textModel = T5TextEncoder.load(pipeline, DataType.FLOAT32, manager);
                    loadNanos += System.nanoTime() - t0;
                } catch (IOException e) {
                    throw new ModelLoadException("cannot load the T5 of " + pipeline + ": " + e.getMessage(), e);
                }
            }
            return textModel;
        }

        @Override
        public void close() {
            if (vaeModel != null) {
                vaeModel.vae().close();
            }
            if (textModel != null) {
                textModel.t5().close();
            }
        }
    }
}
