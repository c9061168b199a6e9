package io.github.cogvideox4j.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.common.io.MoreFiles;
import io.github.cogvideox4j.core.io.SafetensorsWriter;
import io.github.cogvideox4j.core.vae.AutoencoderKLCogVideoX;
import io.github.cogvideox4j.core.vae.LatentDistribution;
import io.github.cogvideox4j.core.vae.VaeConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Time, peak extra memory and conv FLOP rate of the CogVideoX VAE ({@link AutoencoderKLCogVideoX}, fp32, CPU) with
 * <b>random weights of the released shapes</b> (215.6M parameters): encode of a random {@code [1, 3, F, H, W]} clip in
 * [-1, 1] and decode of random latents {@code [1, 16, (F-1)/4+1, H/8, W/8]}, each with tiling off and on.
 *
 * <p><b>Weights.</b> {@link AutoencoderKLCogVideoX} has no random factory, so the bench writes a temporary Diffusers
 * folder: the released {@code config.json} ({@code --config}) and a safetensors file with every tensor of
 * {@link AutoencoderKLCogVideoX#parameterShapes}: GroupNorm weights 1, GroupNorm biases 0, everything else
 * normal(0, 0.02), fp32 (862 MB); it loads that with {@link AutoencoderKLCogVideoX#load} and deletes the folder.
 * The speed of a convolution does not depend on the weight values.
 *
 * <p><b>Tiling.</b> The default tile ({@code sample_height/2 x sample_width/2} = 240x360) covers the whole default
 * 240x360 clip, so "tiling on" uses {@code --tile=96x160} with the default overlaps 1/6 and 1/5: a 3x3 tile grid like
 * the one the default tiling gives a 480x720 clip (half scale 120x180 would give a 31-row latent: the model, like
 * diffusers, only reproduces the untiled shape when the tile arithmetic divides evenly; 96x160 does). For a
 * 9x120x180 clip use {@code --tile=48x80}.
 *
 * <p><b>Measured.</b> One run of each case (no warm-up, no repetition: each takes minutes). Peak extra RSS: rise of
 * VmHWM over the RSS right before the call (reset through {@code /proc/self/clear_refs}; the input and the weights
 * are excluded, the output included; a lower bound, see {@link ProcMemory}; run with
 * {@code MALLOC_MMAP_THRESHOLD_=131072} for meaningful memory figures). FLOPs: {@link VaeFlops} (convolutions only).
 * The rate is printed as a ratio to a plain fp32 2048³ GEMM measured in the same run (best of 5).
 *
 * <p>Options: {@code --frames=9 --height=240 --width=360 --tile=96x160 --tiling=off,on --ops=encode,decode
 * --config=/work/shared/golden/configs/cogvideox-5b/vae/config.json}. Run (project root):
 * <pre>{@code
 * mvn -q -B -pl cogvideox-bench -am package dependency:build-classpath -DskipTests \
 *     -DincludeScope=runtime -Dmdep.outputFile=target/classpath.txt
 * CP=cogvideox-bench/target/classes:$(cat cogvideox-bench/target/classpath.txt)
 * MALLOC_MMAP_THRESHOLD_=131072 nice -n -15 bin/cogvideox-java -Dai.djl.pytorch.num_threads=2 \
 *     -Dai.djl.pytorch.num_interop_threads=1 -Dai.djl.offline=true -cp $CP io.github.cogvideox4j.bench.VaeBench
 * }</pre>
 * Linux only (reads {@code /proc/self}). See {@code docs/vae-cost.md} for results and the full-size extrapolation.
 */
public final class VaeBench {
    private static final Set<String> OPTIONS = Set.of("frames", "height", "width", "tile", "tiling", "ops", "config");
    private static final double OVERLAP_H = 1.0 / 6;
    private static final double OVERLAP_W = 1.0 / 5;

    private VaeBench() {}

    /**
     * Runs the bench and prints the environment, one line per case and a table.
     *
     * @param args {@code --name=value} options, see the class documentation
     * @throws IOException if the temporary weights cannot be written or {@code /proc/self} cannot be read
     */
    public static void main(String[] args) throws IOException {
        int frames = Integer.parseInt(option(args, "frames", "9"));
        int height = Integer.parseInt(option(args, "height", "240"));
        int width = Integer.parseInt(option(args, "width", "360"));
        String[] tile = option(args, "tile", "96x160").split("x");
        List<String> tilings = List.of(option(args, "tiling", "off,on").split(","));
        List<String> ops = List.of(option(args, "ops", "encode,decode").split(","));
        Path configFile = Path.of(option(args, "config", "/work/shared/golden/configs/cogvideox-5b/vae/config.json"));
        VaeFlops.Tiling tiling = new VaeFlops.Tiling(Integer.parseInt(tile[0]), Integer.parseInt(tile[1]), OVERLAP_H,
                OVERLAP_W);

        System.out.println("# " + BenchEnvironment.describe());
        System.out.println("# MALLOC_MMAP_THRESHOLD_=" + System.getenv().getOrDefault("MALLOC_MMAP_THRESHOLD_", "<unset>")
                + "; clip [1, 3, " + frames + ", " + height + ", " + width + "]; tile " + tiling.tileSampleHeight() + "x"
                + tiling.tileSampleWidth() + " overlap 1/6, 1/5; config " + configFile);
        Engine.getInstance().setRandomSeed(42);
        VaeConfig config = VaeConfig.read(configFile);
        VaeFlops.Tiling full = new VaeFlops.Tiling(config.sampleHeight() / 2, config.sampleWidth() / 2, OVERLAP_H,
                OVERLAP_W);
        System.out.printf(Locale.ROOT, "# analytic conv TFLOP at 49x480x720: encode %.1f (tiled %dx%d: %.1f), decode"
                + " %.1f (tiled: %.1f); at this clip: encode %.2f, decode %.2f%n",
                VaeFlops.encode(config, 49, 480, 720, null) / 1e12, full.tileSampleHeight(), full.tileSampleWidth(),
                VaeFlops.encode(config, 49, 480, 720, full) / 1e12, VaeFlops.decode(config, 13, 60, 90, null) / 1e12,
                VaeFlops.decode(config, 13, 60, 90, full) / 1e12, VaeFlops.encode(config, frames, height, width, null)
                        / 1e12, VaeFlops.decode(config, (frames - 1) / 4 + 1, height / 8, width / 8, null) / 1e12);
        double gemmBefore = gemmRate(2048, 5);
        System.out.printf(Locale.ROOT, "# fp32 GEMM 2048^3 before: %.1f GFLOP/s (best of 5)%n", gemmBefore / 1e9);

        Path dir = Files.createTempDirectory("vae-bench-");
        StringBuilder table = new StringBuilder();
        try (NDManager root = NDManager.newBaseManager()) {
            long t0 = System.nanoTime();
            long params = writeRandomWeights(config, configFile, dir);
            System.out.printf(Locale.ROOT, "# wrote %,d random parameters in %.1f s%n", params,
                    (System.nanoTime() - t0) / 1e9);
            try (AutoencoderKLCogVideoX vae = AutoencoderKLCogVideoX.load(dir, root)) {
                MoreFiles.deleteRecursively(dir);
                int lf = (frames - 1) / config.temporalCompressionRatio() + 1;
                int scale = 1 << (config.blockOutChannels().size() - 1);
                for (String op : ops) {
                    for (String t : tilings) {
                        boolean on = "on".equals(t);
                        if (on) {
                            vae.enableTiling(tiling.tileSampleHeight(), tiling.tileSampleWidth(), OVERLAP_H, OVERLAP_W);
                        } else {
                            vae.disableTiling();
                        }
                        try (NDManager m = root.newSubManager()) {
                            boolean encode = "encode".equals(op);
                            Shape in = encode ? new Shape(1, config.inChannels(), frames, height, width)
                                    : new Shape(1, config.latentChannels(), lf, height / scale, width / scale);
                            NDArray x = encode ? m.randomUniform(-1, 1, in, DataType.FLOAT32)
                                    : m.randomNormal(0, 1, in, DataType.FLOAT32);
                            double flops = encode ? VaeFlops.encode(config, frames, height, width, on ? tiling : null)
                                    : VaeFlops.decode(config, lf, height / scale, width / scale, on ? tiling : null);
                            long base = ProcMemory.resetPeakKb();
                            long s0 = System.nanoTime();
                            Shape outShape;
                            if (encode) {
                                LatentDistribution d = vae.encode(x);
                                outShape = d.mean().getShape();
                            } else {
                                outShape = vae.decode(x).getShape();
                            }
                            double sec = (System.nanoTime() - s0) / 1e9;
                            double peakMb = (ProcMemory.peakKb() - base) / 1024.0;
                            String row = String.format(Locale.ROOT, "| %s | %s | %s | %s | %.1f | %.0f | %.2f | %.1f |",
                                    op, on ? "on " + tiling.tileSampleHeight() + "x" + tiling.tileSampleWidth() : "off",
                                    in, outShape, sec, peakMb, flops / 1e12, flops / sec / 1e9);
                            System.out.println(row);
                            table.append(row).append(String.format(Locale.ROOT, " %.2f |%n",
                                    flops / sec / gemmBefore));
                        }
                    }
                }
            }
        } finally {
            if (Files.exists(dir)) {
                MoreFiles.deleteRecursively(dir);
            }
        }
        double gemmAfter = gemmRate(2048, 5);
        System.out.printf(Locale.ROOT, "# fp32 GEMM 2048^3 after: %.1f GFLOP/s (the ratio column uses 'before')%n",
                gemmAfter / 1e9);
        System.out.println();
        System.out.println("| op | tiling | input | output | s | peak extra RSS MB | conv TFLOP | GFLOP/s | / GEMM |");
        System.out.println("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        System.out.print(table);
    }

    /** Writes config.json and random fp32 weights of the config's shapes to dir; returns the parameter count. */
    private static long writeRandomWeights(VaeConfig config, Path configFile, Path dir) throws IOException {
        Files.copy(configFile, dir.resolve("config.json"));
        long count = 0;
        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> tensors = new LinkedHashMap<>();
            for (Map.Entry<String, Shape> e : AutoencoderKLCogVideoX.parameterShapes(config).entrySet()) {
                Shape s = e.getValue();
                boolean norm = s.dimension() == 1 && e.getKey().contains("norm") && !e.getKey().contains("conv");
                NDArray a;
                if (norm) {
                    a = e.getKey().endsWith(".weight") ? m.ones(s) : m.zeros(s);
                } else {
                    a = m.randomNormal(0, 0.02f, s, DataType.FLOAT32);
                }
                tensors.put(e.getKey(), a);
                count += s.size();
            }
            SafetensorsWriter.write(dir.resolve(AutoencoderKLCogVideoX.WEIGHTS_BASE_NAME + ".safetensors"), tensors,
                    Map.of());
        }
        return count;
    }

    private static double gemmRate(long n, int reps) {
        return GemmReference.rate(n, n, n, reps);
    }

    private static String option(String[] args, String name, String defaultValue) {
        return BenchOptions.option(args, OPTIONS, name, defaultValue);
    }
}
