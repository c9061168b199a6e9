package io.github.cogvideox4j.lora.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.dist.ProcessGroup;
import io.github.cogvideox4j.data.cache.CacheKey;
import io.github.cogvideox4j.data.cache.CachedSample;
import io.github.cogvideox4j.data.cache.LatentCache;
import io.github.cogvideox4j.data.manifest.MediaType;
import io.github.cogvideox4j.data.media.MediaInfo;
import io.github.cogvideox4j.data.media.ProbeCache;
import io.github.cogvideox4j.data.media.TestVideos;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code cogvideox prepare} on tiny generated videos with the tiny golden 5B pipeline. */
class PrepareCommandTest {
    private static final String BUCKETS = "9x32x48,9x48x32";

    @TempDir
    Path tmp;

    static Path pipeline() {
        String golden = System.getProperty("golden.dir");
        assertThat(golden).as("-Dgolden.dir must be set").isNotNull();
        Path p = Path.of(golden, "pipeline", "t2v_5b", "model");
        assertThat(p.resolve("vae/config.json")).exists();
        return p;
    }

    /** {@code good} distinct landscape/portrait clips, one 5-frame clip (no bucket) and one broken file. */
    private Path dataset(int good) throws IOException {
        return dataset(tmp, good);
    }

    /** In {@code tmp/data}: {@code good} distinct clips, one 5-frame clip (no bucket) and one broken file. */
    static Path dataset(Path tmp, int good) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("data/videos"));
        List<String> prompts = new ArrayList<>();
        List<String> videos = new ArrayList<>();
        for (int i = 0; i < good; i++) {
            boolean portrait = i % 2 == 1;
            int shade = i;
            TestVideos.writeVideo(dir.resolve("v" + i + ".mp4"), portrait ? 32 : 48, portrait ? 48 : 32, 10 + i % 3,
                    8, (k, x, y) -> {
                        int g = (20 + 9 * shade + 5 * k + x) & 0xff;
                        return (g << 16) | ((g + y) & 0xff) << 8 | 0x40;
                    });
            prompts.add("clip number " + i);
            videos.add("videos/v" + i + ".mp4");
        }
        TestVideos.writeVideo(dir.resolve("short.mp4"), 48, 32, 5, 8, TestVideos.greyByFrame());
        prompts.add("too short");
        videos.add("videos/short.mp4");
        Files.write(dir.resolve("broken.mp4"), new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
        prompts.add("not a video");
        videos.add("videos/broken.mp4");
        Files.write(tmp.resolve("data/prompts.txt"), prompts);
        Files.write(tmp.resolve("data/videos.txt"), videos);
        return tmp.resolve("data");
    }

    static List<String> args(Path data, Path cache) {
        return List.of("prepare", "--data", data.toString(), "--model", pipeline().toString(), "--cache",
                cache.toString(), "--buckets", BUCKETS);
    }

    private String run(Path data, Path cache) {
        StringWriter out = new StringWriter();
        CommandLine cli = new CommandLine(new CogVideoXCli()).setOut(new PrintWriter(out));
        int code = cli.execute(args(data, cache).toArray(new String[0]));
        assertThat(code).as(out.toString()).isZero();
        return out.toString();
    }

    private static Map<Path, FileTime> entryTimes(Path cache) throws IOException {
        Map<Path, FileTime> times = new HashMap<>();
        if (!Files.isDirectory(cache)) {
            return times;
        }
        try (Stream<Path> s = Files.walk(cache)) {
            for (Path p : s.filter(f -> f.getFileName().toString().endsWith(".safetensors")
                    && !f.getFileName().toString().startsWith(".")).toList()) {
                times.put(p, Files.getLastModifiedTime(p));
            }
        }
        return times;
    }

    private static void assertEveryEntryReads(LatentCache cache, int expected) throws IOException {
        List<CacheKey> keys = cache.keys();
        assertThat(keys).hasSize(expected);
        try (NDManager m = NDManager.newBaseManager()) {
            for (CacheKey k : keys) {
                CachedSample s = cache.read(k, m).orElseThrow();
                int h = k.bucket().height() / 8;
                int w = k.bucket().width() / 8;
                assertThat(s.videoMoments().getShape()).isEqualTo(new Shape(32, 3, h, w));
                assertThat(s.promptEmbedding().getShape()).isEqualTo(new Shape(226, 32));
            }
        }
    }

    @Test
    void prepareFillsTheCacheAndASecondRunDoesNoWork() throws IOException {
        Path data = dataset(3);
        Path cacheDir = tmp.resolve("cache");

        long t0 = System.nanoTime();
        String first = run(data, cacheDir);
        long firstNanos = System.nanoTime() - t0;
        Map<Path, FileTime> times = entryTimes(cacheDir);
        String second = run(data, cacheDir);
        System.err.printf("prepare of 3 tiny clips: first run %.2f s%n%s%n", firstNanos / 1e9, first);

        assertThat(first).contains("encoded 3, already cached 0, skipped or broken 2");
        assertThat(first).containsPattern("9x32x48\\s+2\\s+2\\s+0").containsPattern("9x48x32\\s+1\\s+1\\s+0");
        assertThat(first).contains("short.mp4").contains("broken.mp4");
        assertThat(second).contains("encoded 0, already cached 3, skipped or broken 2").contains("no model loaded");
        assertThat(entryTimes(cacheDir)).as("no entry rewritten").isEqualTo(times).hasSize(3);
        assertEveryEntryReads(new LatentCache(cacheDir), 3);
    }

    /** Raw media -> prepare -> train: a LoRA trained on the prepared cache of the tiny pipeline's transformer. */
    @Test
    void aPreparedCacheTrainsALoraOnThePipelinesTransformer() throws Exception {
        Path data = dataset(3);
        Path cacheDir = tmp.resolve("cache");
        run(data, cacheDir);
        Path out = tmp.resolve("run");
        int code = new CommandLine(new CogVideoXCli()).execute("train",
                "--set", "model.builtin=null", "--set", "model.path=" + pipeline().resolve("transformer"),
                "--set", "data.cache=" + cacheDir,
                "--set", "data.synthetic=null", "--set", "output_dir=" + out, "--set", "steps=3",
                "--set", "batch_size=1", "--set", "validation_every=0", "--set", "lora.rank=4",
                "--set", "lora.targets=[to_q, to_k, to_v, to_out.0]");
        assertThat(code).isZero();
        assertThat(out.resolve("pytorch_lora_weights.safetensors")).exists();
        assertThat(java.nio.file.Files.readAllLines(out.resolve("metrics.jsonl"))).hasSizeGreaterThanOrEqualTo(3);
    }

    @Test
    void rejectsABucketThatIsNotAMultipleOf16() throws IOException {
        Path data = dataset(1);
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new CogVideoXCli()).setErr(new PrintWriter(err));
        int code = cli.execute("prepare", "--data", data.toString(), "--model", pipeline().toString(), "--cache",
                tmp.resolve("cache").toString(), "--buckets", "9x30x48");

        assertThat(code).isNotZero();
        assertThat(err.toString()).contains("not a multiple of 16");
        assertThat(tmp.resolve("cache")).doesNotExist();
    }

    private ProcessBuilder childPrepare(Path data, Path cache, Path log) {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-Dai.djl.offline=true", "-cp",
                System.getProperty("java.class.path"), CogVideoXCli.class.getName()));
        cmd.addAll(args(data, cache));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        pb.environment().put("THP_MEM_ALLOC_ENABLE", "1");
        return pb;
    }

    @Test
    void aKilledPrepareResumesWithoutReencodingOrCorruptEntries() throws Exception {
        int clips = 12;
        Path data = dataset(clips);
        Path cacheDir = tmp.resolve("cache");

        Process p = childPrepare(data, cacheDir, tmp.resolve("killed.log")).start();
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
        while (entryTimes(cacheDir).isEmpty() && p.isAlive() && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(p.isAlive()).as("still preparing when killed: " + Files.readString(tmp.resolve("killed.log")))
                .isTrue();
        p.destroyForcibly().waitFor(1, TimeUnit.MINUTES); // SIGKILL: no shutdown hooks
        Map<Path, FileTime> done = entryTimes(cacheDir);
        assertThat(done.size()).isBetween(1, clips - 1);

        Process resumed = childPrepare(data, cacheDir, tmp.resolve("resumed.log")).start();
        assertThat(resumed.waitFor(3, TimeUnit.MINUTES)).isTrue();
        String log = Files.readString(tmp.resolve("resumed.log"));
        assertThat(resumed.exitValue()).as(log).isZero();
        System.err.println("resumed prepare: " + log.lines().filter(l -> l.startsWith("encoded ")).toList());

        assertThat(log).contains("encoded " + (clips - done.size()) + ", already cached " + done.size());
        Map<Path, FileTime> after = entryTimes(cacheDir);
        for (Map.Entry<Path, FileTime> e : done.entrySet()) {
            assertThat(after.get(e.getKey())).as("not rewritten: " + e.getKey()).isEqualTo(e.getValue());
        }
        assertEveryEntryReads(new LatentCache(cacheDir), clips);
        try (Stream<Path> s = Files.walk(cacheDir)) {
            assertThat(s.filter(f -> f.getFileName().toString().endsWith(".tmp")).toList()).isEmpty();
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Distributed prepare: the ranks of a group are threads here (InProcessRanks); the cache folder is shared.

    private static CommandLine.IFactory withGroups(Function<ProcessGroup.Options, ProcessGroup> groups) {
        return new CommandLine.IFactory() {
            @Override
            public <K> K create(Class<K> cls) throws Exception {
                return cls == PrepareCommand.class ? cls.cast(new PrepareCommand(groups))
                        : CommandLine.defaultFactory().create(cls);
            }
        };
    }

    /** Runs prepare as every rank of a group of {@code world} threads; returns each rank's output. */
    private List<String> runAsRanks(int world, Path data, Path cache) throws Exception {
        InProcessRanks ranks = new InProcessRanks(world);
        ExecutorService threads = Executors.newFixedThreadPool(world);
        List<CompletableFuture<String>> runs = new ArrayList<>();
        for (int r = 0; r < world; r++) {
            ProcessGroup group = ranks.rank(r);
            runs.add(CompletableFuture.supplyAsync(() -> {
                StringWriter out = new StringWriter();
                StringWriter err = new StringWriter();
                CommandLine cli = new CommandLine(new CogVideoXCli(), withGroups(o -> group))
                        .setOut(new PrintWriter(out)).setErr(new PrintWriter(err));
                List<String> a = new ArrayList<>(args(data, cache));
                a.add("--no-progress");
                int code = cli.execute(a.toArray(new String[0]));
                if (code != 0) {
                    ranks.abort();
                    throw new AssertionError("rank " + group.rank() + " exited " + code + ": " + err + out);
                }
                return out.toString();
            }, threads));
        }
        try {
            List<String> outs = new ArrayList<>();
            for (CompletableFuture<String> run : runs) {
                outs.add(run.get(5, TimeUnit.MINUTES));
            }
            return outs;
        } finally {
            ranks.abort();
            threads.shutdownNow();
        }
    }

    /** Every file of a cache folder (relative path to bytes). */
    static Map<String, byte[]> entryBytes(Path cache) throws IOException {
        Map<String, byte[]> files = new TreeMap<>();
        for (Path p : entryTimes(cache).keySet()) {
            files.put(cache.relativize(p).toString(), Files.readAllBytes(p));
        }
        return files;
    }

    @Test
    void theShardsOfTheRanksAreDisjointAndTogetherAreTheManifest() {
        for (int world = 1; world <= 4; world++) {
            for (int i = 0; i < 11; i++) {
                int owners = 0;
                for (int rank = 0; rank < world; rank++) {
                    owners += PrepareCommand.inShard(i, rank, world) ? 1 : 0;
                }
                assertThat(owners).as("entry %d of %d ranks", i, world).isEqualTo(1);
            }
        }
        assertThat(PrepareCommand.inShard(4, 0, 2)).isTrue();
        assertThat(PrepareCommand.inShard(5, 1, 2)).isTrue();
    }

    @Test
    void twoRanksWriteTheSameEntriesAndBytesAsOneProcess() throws Exception {
        Path data = dataset(5);
        Path single = tmp.resolve("cache-single");
        Path sharded = tmp.resolve("cache-sharded");
        run(data, single);

        List<String> outs = runAsRanks(2, data, sharded);

        Map<String, byte[]> expected = entryBytes(single);
        Map<String, byte[]> actual = entryBytes(sharded);
        assertThat(expected).hasSize(5);
        assertThat(actual.keySet()).isEqualTo(expected.keySet());
        for (String f : expected.keySet()) {
            assertThat(actual.get(f)).as(f).isEqualTo(expected.get(f));
        }
        System.err.println("two-rank prepare, rank 0's report:\n" + outs.get(0));
        assertThat(outs.get(1)).as("rank 1 prints nothing").isEmpty();
    }

    @Test
    void rankZeroReportsTheWholeRunAsOneProcessWould() throws Exception {
        Path data = dataset(5);
        String alone = run(data, tmp.resolve("cache-single"));

        String report = runAsRanks(2, data, tmp.resolve("cache-sharded")).get(0);

        for (String line : List.of("encoded 5, already cached 0, skipped or broken 2")) {
            assertThat(alone).contains(line);
            assertThat(report).contains(line);
        }
        assertThat(report).containsPattern("9x32x48\\s+3\\s+3\\s+0").containsPattern("9x48x32\\s+2\\s+2\\s+0")
                .contains("by rank: rank 0 encoded 3, cached 0; rank 1 encoded 2, cached 0");
        List<String> notCached = report.lines().filter(l -> l.startsWith("  ")).toList();
        assertThat(notCached).isEqualTo(alone.lines().filter(l -> l.startsWith("  ")).toList()).hasSize(2);
        assertThat(notCached.get(0)).contains("short.mp4");
        assertThat(notCached.get(1)).contains("broken.mp4");
    }

    @Test
    void afterARunOfRanksOnlyTheSharedFilesRemainAndTheyKnowEveryProbe() throws Exception {
        Path data = dataset(5);
        Path single = tmp.resolve("cache-single");
        Path sharded = tmp.resolve("cache-sharded");
        run(data, single);

        runAsRanks(2, data, sharded);

        try (Stream<Path> s = Files.list(sharded)) {
            assertThat(s.map(p -> p.getFileName().toString()).filter(n -> !n.matches("\\d+x\\d+x\\d+")))
                    .containsExactly(PrepareCommand.PROBE_STORE);
        }
        try (ProbeCache one = ProbeCache.open(single.resolve(PrepareCommand.PROBE_STORE), f -> {
            throw new AssertionError("probed");
        }); ProbeCache two = ProbeCache.open(sharded.resolve(PrepareCommand.PROBE_STORE), f -> {
            throw new AssertionError("probed");
        })) {
            assertThat(two.size()).isEqualTo(one.size()).isEqualTo(6);
        }
    }

    @Test
    void aSecondRunOfRanksFindsEveryEntryCachedAndLoadsNoModel() throws Exception {
        Path data = dataset(3);
        Path cache = tmp.resolve("cache");
        runAsRanks(2, data, cache);
        Map<Path, FileTime> times = entryTimes(cache);

        String again = runAsRanks(2, data, cache).get(0);

        assertThat(again).contains("encoded 0, already cached 3, skipped or broken 2").contains("no model loaded");
        assertThat(entryTimes(cache)).isEqualTo(times);
    }

    /** The fingerprint each rank presents at the rendezvous, taken from the options it would form its group with. */
    private String fingerprintOf(Path data, String... extra) {
        AtomicReference<String> fp = new AtomicReference<>();
        List<String> a = new ArrayList<>(args(data, tmp.resolve("cache")));
        a.addAll(List.of(extra));
        int code = new CommandLine(new CogVideoXCli(), withGroups(o -> {
            fp.set(o.fingerprint());
            throw new IllegalStateException("stop before preparing");
        })).setErr(new PrintWriter(new StringWriter())).execute(a.toArray(new String[0]));
        assertThat(code).isNotZero();
        assertThat(tmp.resolve("cache")).doesNotExist();
        return fp.get();
    }

    @Test
    void ranksWithOtherOptionsOrAnotherManifestPresentAnotherFingerprint() throws IOException {
        Path data = dataset(2);
        String base = fingerprintOf(data);

        assertThat(fingerprintOf(data)).isEqualTo(base).hasSize(64);
        assertThat(fingerprintOf(data, "--seed", "1")).isNotEqualTo(base);
        assertThat(fingerprintOf(data, "--dtype", "F32")).isNotEqualTo(base);
        Files.writeString(data.resolve("prompts.txt"), Files.readString(data.resolve("prompts.txt"))
                .replace("clip number 1", "clip number one"));
        assertThat(fingerprintOf(data)).isNotEqualTo(base);
    }

    @Test
    void whatAnInterruptedRunOfRanksLeftIsFoldedInOrRemovedByTheNextRun() throws Exception {
        Path data = dataset(1);
        Path cache = Files.createDirectories(tmp.resolve("cache"));
        Path elsewhere = Files.write(tmp.resolve("other.mp4"), new byte[7]);
        try (ProbeCache journal = ProbeCache.openWithJournal(cache.resolve(PrepareCommand.PROBE_STORE),
                cache.resolve("probe.rank-3.jsonl"), f -> new MediaInfo(MediaType.VIDEO, 9, 8, 32, 48))) {
            journal.probe(elsewhere);
        }
        Files.writeString(cache.resolve(".prepare-report.rank-3.json"), "{\"rank\": 3");

        run(data, cache);

        try (Stream<Path> s = Files.list(cache)) {
            assertThat(s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".") || n.contains("rank-")))
                    .isEmpty();
        }
        try (ProbeCache probes = ProbeCache.open(cache.resolve(PrepareCommand.PROBE_STORE), f -> {
            throw new AssertionError("probed " + f);
        })) {
            assertThat(probes.probe(elsewhere).frames()).as("the journal's probe was kept").isEqualTo(9);
        }
    }
}
