package io.github.cogvideox4j.lora.cli;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.common.base.Preconditions;
import io.github.cogvideox4j.core.CogVideoXException;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.pipeline.CogVideoXSampler;
import io.github.cogvideox4j.core.dist.ProcessGroup;
import io.github.cogvideox4j.core.io.AtomicFiles;
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
import io.github.cogvideox4j.data.cache.ValidationInputs;
import io.github.cogvideox4j.data.encode.T5TextEncoder;
import io.github.cogvideox4j.data.encode.VaeLatentEncoder;
import io.github.cogvideox4j.data.manifest.DatasetManifest;
import io.github.cogvideox4j.data.manifest.ManifestEntry;
import io.github.cogvideox4j.data.manifest.ManifestProblem;
import io.github.cogvideox4j.data.media.ClipDecoder;
import io.github.cogvideox4j.data.media.ContentHash;
import io.github.cogvideox4j.data.media.FfmpegMedia;
import io.github.cogvideox4j.data.media.FirstFrame;
import io.github.cogvideox4j.data.media.MediaInfo;
import io.github.cogvideox4j.data.media.ProbeCache;
import io.github.cogvideox4j.data.media.ResizeMode;
import io.github.cogvideox4j.lora.train.ValidationSettings;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.function.Function;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
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
 * <p>Several ranks ({@code cogvideox launch --nproc-per-node N -- prepare ...}, or any torchrun-style launcher): rank
 * {@code r} of {@code W} encodes the entries {@code i} with {@code i mod W == r} ({@link #inShard}) into the same cache
 * folder, so the union of the shards is what one process would write, file for file and byte for byte (an entry's
 * randomness comes from its content, not from the order of work). Shared files have one writer: rank 0 alone removes
 * stale temporary files at start, before a barrier; ranks other than 0 append their probes to their own journal
 * ({@code probe.rank-<r>.jsonl}) and write their part of the report to {@code .prepare-report.rank-<r>.json}; after
 * a last barrier rank 0 folds the journals into {@code probe.jsonl} and prints the report of the whole run. The ranks
 * check at the rendezvous that they agree on the options, the encoders and the manifest.
 *
 * <p>Exit code 0 when the run completes (skipped or broken files are reported, not fatal); 1 on a usage or
 * manifest error. The cache folder must have one run at a time (one process, or the ranks of one distributed run):
 * leftover temporary files of an interrupted write are removed at start.
 */
@Command(name = "prepare", mixinStandardHelpOptions = true,
        description = "Probe, bucket and encode a dataset folder into a latent cache (resumable).")
final class PrepareCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The probe store of the cache folder (rank 0 of a distributed run is its only writer). */
    static final String PROBE_STORE = "probe.jsonl";
    private static final Pattern JOURNAL_NAME = Pattern.compile("probe\\.rank-\\d+\\.jsonl");
    private static final Pattern REPORT_NAME = Pattern.compile("\\.prepare-report\\.rank-\\d+\\.json");

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

    @Option(names = "--validation", description = "a training config whose validation section to prepare: its "
            + "prompts' T5 embeddings and, for an image-to-video model, its images (else the first frames of the "
            + "dataset's first clips), stored as <cache>/" + ValidationInputs.FILE + " for runs without T5")
    private Path validationConfig;

    /** Forms the group of the ranks taking part (a single process unless started as one of several ranks). */
    private final Function<ProcessGroup.Options, ProcessGroup> groups;

    /** The command as the CLI runs it: the group comes from the torchrun-style variables. */
    PrepareCommand() {
        this(ProcessGroup::fromEnvironment);
    }

    /**
     * @param groups forms the group from its options (tests give ranks of a group of their own)
     */
    PrepareCommand(Function<ProcessGroup.Options, ProcessGroup> groups) {
        this.groups = groups;
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        List<Bucket> bucketList = buckets.stream().map(PrepareCommand::parseBucket).toList();
        FrameRule frameRule = frameRule(model);
        BucketRule bucketRule = bucketRule(rule, bucketList, frameRule);
        PrepareOptions options = (imageToVideo ? PrepareOptions.imageToVideo(ResizeMode.parse(resize))
                : PrepareOptions.textToVideo(ResizeMode.parse(resize))).withDtype(dtype).withSeed(seed);
        ValidationSettings validation = validationConfig == null ? null
                : ValidationSettings.readSection(validationConfig).orElseThrow(() -> new IllegalArgumentException(
                        "--validation " + validationConfig + ": the file has no validation section"));
        DatasetManifest manifest = DatasetManifest.read(data);
        LatentCache cache = new LatentCache(cacheDir);
        Path root = cache.root();
        List<ManifestEntry> entries = manifest.entries();
        long start = System.nanoTime();
        try (NDManager manager = NDManager.newBaseManager();
                LazyModels models = new LazyModels(model, tiling, manager);
                ProcessGroup group = groups.apply(RankRuntime.groupOptions(System.getenv(),
                        fingerprint(entries, models)))) {
            int rank = group.rank();
            int world = group.worldSize();
            // rank 0 tidies the folder while no rank writes: what an interrupted run left (temporary files, probe
            // journals, report parts)
            int staleTemps = 0;
            if (rank == 0) {
                staleTemps = removeStaleTemps(root);
                mergeProbeJournals(root);
                removeShardReports(root);
            }
            group.barrier();
            ShardReport shard;
            String validationLine = null;
            Path store = root.resolve(PROBE_STORE);
            try (ProbeCache probes = rank == 0 ? ProbeCache.open(store, new FfmpegMedia())
                    : ProbeCache.openWithJournal(store, probeJournal(root, rank), new FfmpegMedia())) {
                group.barrier(); // every rank has read the probe store before rank 0 appends to it
                shard = prepareShard(rank, world, entries, bucketRule, options, cache, probes, models, manager);
                if (validation != null && rank == 0) {
                    validationLine = prepareValidation(validation, entries, root, probes, models, manager);
                }
            }
            if (world == 1) {
                report(out, List.of(shard), manifest.problems(), staleTemps, System.nanoTime() - start);
                printValidation(out, validationLine);
                return 0;
            }
            if (rank != 0) {
                writeShardReport(root, shard);
            }
            group.barrier(); // every shard is encoded, its journal closed and its report written
            if (rank == 0) {
                mergeProbeJournals(root);
                List<ShardReport> shards = new ArrayList<>(List.of(shard));
                for (int r = 1; r < world; r++) {
                    shards.add(readShardReport(root, r));
                }
                report(out, shards, manifest.problems(), staleTemps, System.nanoTime() - start);
                printValidation(out, validationLine);
            }
            return 0;
        }
    }

    /**
     * The validation inputs of a run without T5 ({@link ValidationInputs}): the prompts' and the empty negative
     * prompt's embeddings and, for an image-to-video model, one image per prompt at the validation size (the given
     * image, or the first frame of a video, fitted by a centre crop; without {@code images}, the conditioning image
     * or first frame of manifest entry {@code k}). Skipped when the stored inputs have the same key.
     */
    private String prepareValidation(ValidationSettings v, List<ManifestEntry> entries, Path root, ProbeCache probes,
            LazyModels models, NDManager manager) throws IOException {
        CogVideoXConfig config = CogVideoXConfig.read(model.resolve("transformer").resolve("config.json"));
        int scale = CogVideoXSampler.VAE_SCALE_FACTOR_SPATIAL;
        try (NDManager scope = manager.newSubManager()) {
            NDArray images = null;
            List<String> sources = new ArrayList<>();
            if (config.isImageToVideo()) {
                int h = v.height() != null ? v.height() : config.sampleHeight() * scale;
                int w = v.width() != null ? v.width() : config.sampleWidth() * scale;
                List<Path> files = new ArrayList<>(v.images());
                if (files.isEmpty()) {
                    if (entries.size() < v.prompts().size()) {
                        throw new IllegalArgumentException("validation: " + v.prompts().size() + " prompts but the "
                                + "dataset has " + entries.size() + " clips to take first frames from; give "
                                + "validation.images");
                    }
                    for (int k = 0; k < v.prompts().size(); k++) {
                        files.add(entries.get(k).conditioningImage().orElse(entries.get(k).media()));
                    }
                }
                NDList rows = new NDList();
                FfmpegMedia media = new FfmpegMedia();
                for (Path f : files) {
                    rows.add(FirstFrame.read(probes, media, f, h, w, scope).expandDims(0));
                    sources.add(f.toString());
                }
                images = NDArrays.concat(rows, 0);
            }
            String key = ValidationInputs.key(v.prompts(), "", models.text.identity(), images);
            if (key.equals(ValidationInputs.storedKey(root).orElse(null))) {
                return "validation inputs of " + v.prompts().size() + " prompt(s) already stored";
            }
            Path file = ValidationInputs.encode(v.prompts(), "", models.text, images, sources, scope).write(root);
            return "validation inputs: " + v.prompts().size() + " prompt embedding(s)" + (images == null ? ""
                    : " and image(s) " + images.getShape().get(2) + "x" + images.getShape().get(3)) + " written to "
                    + file;
        }
    }

    private static void printValidation(PrintWriter out, String line) {
        if (line != null) {
            out.println(line);
            out.flush();
        }
    }

    /**
     * The entries rank {@code rank} of {@code world} encodes: every {@code world}-th entry of the manifest, starting
     * at {@code rank}. Every rank reads the same manifest in the same order, so the shards of the ranks are disjoint
     * and together are the manifest.
     *
     * @param index an entry's position in the manifest
     * @param rank the rank, in {@code [0, world)}
     * @param world the number of ranks
     * @return whether the entry belongs to the rank's shard
     */
    static boolean inShard(int index, int rank, int world) {
        Preconditions.checkArgument(world > 0 && rank >= 0 && rank < world, "rank %s out of [0, %s)", rank, world);
        return index % world == rank;
    }

    /** Probes, buckets and (where not cached yet) encodes the rank's shard; returns what happened, for the report. */
    private ShardReport prepareShard(int rank, int world, List<ManifestEntry> entries, BucketRule bucketRule,
            PrepareOptions options, LatentCache cache, ProbeCache probes, LazyModels models, NDManager manager)
            throws IOException {
        Map<String, int[]> perBucket = new TreeMap<>();
        List<NotCached> notCached = new ArrayList<>();
        long encodeNanos = 0;
        int encoded = 0;
        int reused = 0;
        int size = 0;
        for (int i = 0; i < entries.size(); i++) {
            size += inShard(i, rank, world) ? 1 : 0;
        }
        try (ProgressBar bar = rank == 0 ? progressBar(size, world) : null) {
            CachePreparer preparer = new CachePreparer(cache, probes, new ClipDecoder(new FfmpegMedia()),
                    models.vae, models.text, options);
            for (int i = 0; i < entries.size(); i++) {
                if (!inShard(i, rank, world)) {
                    continue;
                }
                ManifestEntry entry = entries.get(i);
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
                    notCached.add(new NotCached(i, "skipped " + entry.media() + " (" + entry.location() + "): "
                            + e.getMessage()));
                } catch (ModelLoadException e) {
                    throw e;
                } catch (IOException | CogVideoXException e) {
                    notCached.add(new NotCached(i, "broken  " + entry.media() + " (" + entry.location() + "): "
                            + e.getMessage()));
                }
                if (bar != null) {
                    bar.step();
                }
            }
        }
        return new ShardReport(rank, perBucket, encoded, reused, notCached, encodeNanos, models.loadNanos);
    }

    private static boolean isCached(LatentCache cache, CacheKey key, NDManager manager) throws IOException {
        if (!cache.contains(key)) {
            return false;
        }
        try (NDManager scratch = manager.newSubManager()) {
            return cache.read(key, scratch).isPresent();
        }
    }

    private ProgressBar progressBar(int total, int world) {
        if (noProgress) {
            return null;
        }
        return new ProgressBarBuilder().setTaskName(world == 1 ? "prepare" : "prepare 1/" + world)
                .setInitialMax(total).setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(500).showSpeed().build();
    }

    /** The report of the whole run: every rank's shard, the manifest's problems first, then entries in order. */
    private void report(PrintWriter out, List<ShardReport> shards, List<ManifestProblem> problems, int staleTemps,
            long totalNanos) {
        Map<String, int[]> perBucket = new TreeMap<>();
        List<NotCached> notCached = new ArrayList<>();
        int encoded = 0;
        int reused = 0;
        long encodeNanos = 0;
        long loadNanos = 0;
        for (ShardReport s : shards) {
            s.perBucket().forEach((b, r) -> {
                int[] row = perBucket.computeIfAbsent(b, k -> new int[2]);
                row[0] += r[0];
                row[1] += r[1];
            });
            notCached.addAll(s.notCached());
            encoded += s.encoded();
            reused += s.reused();
            encodeNanos += s.encodeNanos();
            loadNanos = Math.max(loadNanos, s.loadNanos());
        }
        List<String> skipped = new ArrayList<>();
        for (ManifestProblem p : problems) {
            skipped.add("manifest " + p);
        }
        notCached.stream().sorted(Comparator.comparingInt(NotCached::index)).forEach(n -> skipped.add(n.text()));

        out.printf("%-20s %8s %8s %8s%n", "bucket (FxHxW)", "samples", "encoded", "cached");
        for (Map.Entry<String, int[]> e : perBucket.entrySet()) {
            int[] r = e.getValue();
            out.printf("%-20s %8d %8d %8d%n", e.getKey(), r[0] + r[1], r[0], r[1]);
        }
        out.printf("%-20s %8d %8d %8d%n", "total", encoded + reused, encoded, reused);
        out.printf(Locale.ROOT, "encoded %d, already cached %d, skipped or broken %d in %.1f s%s%n", encoded, reused,
                skipped.size(), totalNanos / 1e9, encoded == 0 ? ""
                        : String.format(Locale.ROOT, " (%.3f s per encoded sample)", encodeNanos / 1e9 / encoded));
        if (shards.size() > 1) {
            out.println("by rank: " + shards.stream().map(s -> String.format(Locale.ROOT,
                    "rank %d encoded %d, cached %d", s.rank(), s.encoded(), s.reused())).collect(
                            Collectors.joining("; ")));
        }
        out.println(loadNanos == 0 ? "no model loaded"
                : String.format(Locale.ROOT, "models loaded in %.2f s%s", loadNanos / 1e9,
                        shards.size() > 1 ? " (slowest rank)" : ""));
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

    /**
     * What must be equal on every rank, or the shards would not add up: the options, the encoders' identities and
     * the manifest's entries (file names and captions; the folders may be mounted at other paths on other machines).
     */
    private String fingerprint(List<ManifestEntry> entries, LazyModels models) {
        StringBuilder b = new StringBuilder("prepare/1\n");
        b.append(String.join(",", buckets)).append('|').append(rule).append('|').append(resize).append('|')
                .append(imageToVideo).append('|').append(dtype).append('|').append(seed).append('|').append(tiling)
                .append('|').append(models.vae.identity()).append('|').append(models.text.identity()).append('\n');
        for (ManifestEntry e : entries) {
            b.append(e.media().getFileName()).append('\t').append(e.caption()).append('\t')
                    .append(e.conditioningImage().map(p -> p.getFileName().toString()).orElse("")).append('\n');
        }
        return ContentHash.sha256(b.toString());
    }

    /** Folds every rank's probe journal into the shared probe store. Rank 0, while no rank probes. */
    private static void mergeProbeJournals(Path root) throws IOException {
        if (!Files.isDirectory(root)) {
            return;
        }
        List<Path> journals;
        try (Stream<Path> files = Files.list(root)) {
            journals = files.filter(f -> JOURNAL_NAME.matcher(f.getFileName().toString()).matches()).sorted()
                    .toList();
        }
        for (Path j : journals) {
            ProbeCache.mergeJournal(root.resolve(PROBE_STORE), j);
        }
    }

    private static void removeShardReports(Path root) throws IOException {
        if (!Files.isDirectory(root)) {
            return;
        }
        try (Stream<Path> files = Files.list(root)) {
            for (Path f : files.filter(p -> REPORT_NAME.matcher(
                    AtomicFiles.targetOf(p).orElse(p).getFileName().toString()).matches()).toList()) {
                Files.deleteIfExists(f);
            }
        }
    }

    private static Path probeJournal(Path root, int rank) {
        return root.resolve("probe.rank-" + rank + ".jsonl");
    }

    private static Path shardReportFile(Path root, int rank) {
        return root.resolve(".prepare-report.rank-" + rank + ".json");
    }

    private static void writeShardReport(Path root, ShardReport shard) throws IOException {
        Path file = shardReportFile(root, shard.rank());
        AtomicFiles.write(file, JSON.writeValueAsBytes(shard));
    }

    private static ShardReport readShardReport(Path root, int rank) throws IOException {
        Path file = shardReportFile(root, rank);
        if (!Files.isRegularFile(file)) {
            throw new CogVideoXException("rank " + rank + " passed the last barrier without its report " + file);
        }
        ShardReport shard = JSON.readValue(file.toFile(), ShardReport.class);
        if (shard.rank() != rank) {
            throw new CogVideoXException(file + " is the report of rank " + shard.rank() + ", expected " + rank);
        }
        Files.delete(file);
        return shard;
    }

    /** A manifest entry that was not cached, with its position in the manifest (the report's order). */
    record NotCached(int index, String text) {}

    /**
     * What one rank did with its shard: samples per bucket ({encoded now, already cached}), the entries not cached,
     * and its timings (the models' load time is included in neither count).
     */
    record ShardReport(int rank, Map<String, int[]> perBucket, int encoded, int reused, List<NotCached> notCached,
            long encodeNanos, long loadNanos) {}

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
