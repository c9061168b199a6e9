package io.github.cogvideox4j.lora.cli;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.google.common.io.MoreFiles;
import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.core.pipeline.CogVideoXPipeline;
import io.github.cogvideox4j.core.pipeline.TinyPipelineWriter;
import io.github.cogvideox4j.data.BucketSampler;
import io.github.cogvideox4j.data.BucketedSample;
import io.github.cogvideox4j.data.SamplerConfig;
import io.github.cogvideox4j.data.cache.CacheKey;
import io.github.cogvideox4j.data.cache.LatentCache;
import io.github.cogvideox4j.data.loader.CachedSampleSource;
import io.github.cogvideox4j.data.media.VideoWriter;
import io.github.cogvideox4j.lora.LoraAdapter;
import io.github.cogvideox4j.lora.LoraConfig;
import io.github.cogvideox4j.lora.train.AdamW;
import io.github.cogvideox4j.lora.train.CheckpointStore;
import io.github.cogvideox4j.lora.train.FineTuner;
import io.github.cogvideox4j.lora.train.StepResult;
import io.github.cogvideox4j.lora.train.TrainingListener;
import io.github.cogvideox4j.lora.train.TrainingRun;
import io.github.cogvideox4j.lora.train.ValidationVideos;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code cogvideox demo-media}: the whole path from raw media, in the JVM. Generates a handful of short captioned
 * videos of two sizes and two lengths (coloured shapes that move as their captions say), runs {@code prepare} (probe,
 * bucket, VAE and T5 encoding into a latent cache) with a tiny Diffusers pipeline folder, trains a LoRA on the cache
 * and writes validation videos (MP4 + PNG contact sheet) during training. Without {@code --model} the pipeline is
 * written first, from a fixed seed, by {@link TinyPipelineWriter} into {@code <output>/tiny-pipeline}: the demo
 * needs nothing but the project.
 */
@Command(name = "demo-media", mixinStandardHelpOptions = true,
        description = "Raw videos -> prepare -> LoRA training -> validation videos, on a built-in tiny default.")
final class MediaDemoCommand implements Callable<Integer> {
    private static final String[] CAPTIONS = {"a red square moving to the right", "a blue square moving down",
        "a green square moving to the left"};

    /** The seed of the built-in tiny pipeline's weights. */
    static final long PIPELINE_SEED = 1;

    @Option(names = "--model", description = "a tiny Diffusers CogVideoX pipeline folder (default: a tiny random "
            + "pipeline written to <output>/tiny-pipeline)")
    private Path model;

    @Option(names = "--output", defaultValue = "runs/media-demo", description = "output folder (default: ${DEFAULT-VALUE})")
    private Path output;

    @Option(names = "--steps", defaultValue = "150", description = "training steps (default: ${DEFAULT-VALUE})")
    private int steps;

    @Override
    public Integer call() throws Exception {
        PrintStream out = System.out;
        if (model != null && !Files.isRegularFile(model.resolve("model_index.json"))) {
            out.println("demo-media: --model " + model + " is not a Diffusers pipeline folder (no model_index.json)");
            return 2;
        }
        if (Files.isDirectory(output)) { MoreFiles.deleteRecursively(output); }
        Path data = output.resolve("data");
        Path cache = output.resolve("cache");
        Path pipelineDir = model;
        if (pipelineDir == null) {
            pipelineDir = TinyPipelineWriter.write(output.resolve("tiny-pipeline"), PIPELINE_SEED, List.of(CAPTIONS));
            out.printf("0. wrote a tiny random pipeline (seed %d) to %s%n", PIPELINE_SEED, pipelineDir);
        }
        long t0 = System.nanoTime();
        // 1. raw media: 12 captioned mp4 clips, 48x64 and 64x48, 9 and 13 frames
        writeDataset(data, 12);
        out.printf("1. wrote 12 captioned clips to %s%n", data);
        // 2. prepare: probe, bucket, encode with the pipeline's VAE and T5
        int code = new CommandLine(new CogVideoXCli()).execute("prepare", "--data", data.toString(), "--model",
                pipelineDir.toString(), "--cache", cache.toString(), "--buckets", "9x48x64,9x64x48", "--no-progress");
        if (code != 0) {
            return code;
        }
        long t1 = System.nanoTime();
        out.printf("2. prepared the cache in %.1f s (%.2f s per clip)%n", (t1 - t0) / 1e9, (t1 - t0) / 1e9 / 12);
        // 3. train a LoRA on the cache, with validation videos every 50 steps
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXPipeline pipe = CogVideoXPipeline.load(pipelineDir, manager);
                LoraAdapter lora = LoraAdapter.inject(pipe.transformer(), LoraConfig.of(8, 8).withInitSeed(1))) {
            LatentCache latentCache = new LatentCache(cache);
            List<CacheKey> keys = latentCache.keys();
            List<BucketedSample> samples = new ArrayList<>();
            List<String> sources = new ArrayList<>();
            for (int i = 0; i < keys.size(); i++) {
                samples.add(BucketedSample.video(i, keys.get(i).bucket()));
                sources.add(latentCache.pathOf(keys.get(i)).toString());
            }
            BucketSampler sampler = new BucketSampler(samples, SamplerConfig.of(2, 1));
            out.println(sampler.report().format());
            ValidationVideos videos = ValidationVideos.builder(pipe, List.of(CAPTIONS[0], CAPTIONS[1])).size(48, 64)
                    .numFrames(9).inferenceSteps(4).build();
            FineTuner.Builder builder = FineTuner.builder(pipe.transformer(), pipe.scheduler()).lora(lora)
                    .optimizer(AdamW.builder().learningRate(3e-3).betas(0.9, 0.95).build()).seed(1);
            for (TrainingListener l : Listeners.standard(output, steps)) {
                builder.listener(l);
            }
            try (FineTuner tuner = builder.build()) {
                List<StepResult> results = TrainingRun.builder(tuner, sampler,
                                new CachedSampleSource(latentCache, keys, sources))
                        .totalSteps(steps).checkpoints(CheckpointStore.open(output.resolve("checkpoints"), 1), steps)
                        .validationVideos(videos, 50).outputDir(output).description("tiny pipeline, raw-media demo")
                        .build().run();
                lora.save(output.resolve("pytorch_lora_weights.safetensors"));
                double first = results.subList(0, 10).stream().mapToDouble(StepResult::loss).average().orElse(0);
                double last = results.subList(results.size() - 10, results.size()).stream()
                        .mapToDouble(StepResult::loss).average().orElse(0);
                out.printf("3. trained %d steps on %d cached clips: mean loss of the first 10 steps %.4f, of the last "
                        + "10 %.4f; validation videos in %s; total %.1f s%n", results.size(), keys.size(), first, last,
                        output.resolve("validation"), (System.nanoTime() - t0) / 1e9);
            }
        }
        return 0;
    }

    /** Writes {@code n} clips (prompts.txt + videos.txt): a coloured square moving as its caption says. */
    static void writeDataset(Path dir, int n) throws IOException {
        Files.createDirectories(dir.resolve("videos"));
        List<String> prompts = new ArrayList<>();
        List<String> videos = new ArrayList<>();
        try (NDManager m = NDManager.newBaseManager()) {
            for (int i = 0; i < n; i++) {
                int k = i % CAPTIONS.length;
                boolean wide = (i / CAPTIONS.length) % 2 == 0;
                int h = wide ? 48 : 64;
                int w = wide ? 64 : 48;
                int frames = i % 2 == 0 ? 9 : 13;
                float[] v = new float[frames * 3 * h * w];
                for (int f = 0; f < frames; f++) {
                    int shift = 2 * (i / 6);                             // every clip differs
                    int x0 = (k == 0 ? 4 + 3 * f : k == 2 ? w - 20 - 3 * f : w / 2 - 8) + shift;
                    int y0 = k == 1 ? 4 + 3 * f : h / 2 - 8;
                    for (int y = 0; y < h; y++) {
                        for (int x = 0; x < w; x++) {
                            boolean inside = x >= x0 && x < x0 + 16 && y >= y0 && y < y0 + 16;
                            for (int c = 0; c < 3; c++) {
                                float bg = 0.15f + 0.1f * c;
                                v[((f * 3 + c) * h + y) * w + x] = inside ? (c == k ? 0.95f : 0.1f) : bg;
                            }
                        }
                    }
                }
                String name = "videos/clip" + i + ".mp4";
                VideoWriter.write(dir.resolve(name), EngineArrays.create(m, v, new Shape(frames, 3, h, w)), 8);
                prompts.add(CAPTIONS[k]);
                videos.add(name);
            }
        }
        Files.write(dir.resolve("prompts.txt"), prompts);
        Files.write(dir.resolve("videos.txt"), videos);
    }

}
