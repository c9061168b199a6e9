package io.github.cogvideox4j.lora.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.data.cache.CacheKey;
import io.github.cogvideox4j.data.cache.CachedSample;
import io.github.cogvideox4j.data.cache.LatentCache;
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
import java.util.concurrent.TimeUnit;
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

    private List<String> args(Path data, Path cache) {
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
}
