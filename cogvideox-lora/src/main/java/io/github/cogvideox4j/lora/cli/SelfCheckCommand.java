package io.github.cogvideox4j.lora.cli;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.config.CogVideoXVariant;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.io.TensorSource;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.model.TransformerInput;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code cogvideox selfcheck}: checks that this installation computes what it should. For each of the five
 * releases, a tiny model with random weights of its structure runs a forward and a backward pass; then one golden
 * case is checked against the Diffusers reference. Prints timings and errors; exits non-zero if the golden check
 * fails.
 */
@Command(name = "selfcheck", mixinStandardHelpOptions = true,
        description = "Forward + backward of a tiny random model of every CogVideoX release, and a golden check.")
final class SelfCheckCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Option(names = "--golden", description = "golden folder (default: -Dgolden.dir or ../shared/golden)")
    private Path golden;

    @Option(names = "--seed", defaultValue = "42", description = "random seed (default: ${DEFAULT-VALUE})")
    private long seed;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        out.printf("CogVideoX4J selfcheck on %s (%s), MKL vendor switch %s%n", Engine.getInstance().getEngineName(),
                Engine.getInstance().getVersion(), MklSwitch.describe());
        Engine.getInstance().setRandomSeed((int) seed);
        out.printf("%-22s %-22s %10s %12s %12s %12s%n", "release", "input [B,F,C,H,W]", "params", "load ms",
                "forward ms", "backward ms");
        for (CogVideoXVariant variant : CogVideoXVariant.values()) {
            runVariant(variant, out);
        }
        return goldenCheck(out);
    }

    private void runVariant(CogVideoXVariant variant, PrintWriter out) {
        CogVideoXConfig config = CogVideoXConfig.tiny(variant);
        try (NDManager manager = NDManager.newBaseManager()) {
            long t0 = System.nanoTime();
            try (CogVideoXTransformer model = CogVideoXTransformer.random(config, manager, seed)) {
                long t1 = System.nanoTime();
                int frames = config.sampleLatentFrames();
                Shape shape = new Shape(1, frames, config.inChannels(), config.sampleHeight(), config.sampleWidth());
                NDArray x = manager.randomNormal(shape);
                NDArray text = manager.randomNormal(new Shape(1, config.maxTextSeqLength(), config.textEmbedDim()));
                TransformerInput in = TransformerInput.of(x, text, manager.create(new long[] {500}));
                if (config.ofsEmbedDim() != null) {
                    in = in.withOfs(manager.create(new float[] {2f}));
                }
                long params = model.namedParameters().values().stream().mapToLong(a -> a.getShape().size()).sum();
                long t2;
                long t3;
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    NDArray sample = model.forward(in);
                    t2 = System.nanoTime();
                    gc.backward(sample.square().mean());
                    t3 = System.nanoTime();
                }
                out.printf("%-22s %-22s %10d %12.1f %12.1f %12.1f%n", variant.displayName(), shape, params,
                        (t1 - t0) / 1e6, (t2 - t1) / 1e6, (t3 - t2) / 1e6);
            }
        }
    }

    private int goldenCheck(PrintWriter out) throws Exception {
        Path root = golden != null ? golden : Path.of(System.getProperty("golden.dir", "../shared/golden"));
        Path dir = root.resolve("transformer").resolve("b_cogvideox_5b_rope");
        if (!Files.isDirectory(dir)) {
            out.println("golden check: " + dir + " not found; pass --golden DIR to check against the reference");
            return 0;
        }
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.load(dir, manager);
                TensorSource in = SafetensorsReader.open(dir.resolve("inputs.safetensors"));
                TensorSource ref = SafetensorsReader.open(dir.resolve("outputs.safetensors"))) {
            TransformerInput input = TransformerInput.of(in.read("hidden_states", manager),
                    in.read("encoder_hidden_states", manager), in.read("timestep", manager));
            long t0 = System.nanoTime();
            float[] sample = model.forward(input).toFloatArray();
            long t1 = System.nanoTime();
            float[] expected = ref.readFloats("sample");
            double maxErr = 0;
            boolean ok = sample.length == expected.length;
            for (int i = 0; ok && i < sample.length; i++) {
                double err = Math.abs(sample[i] - expected[i]);
                maxErr = Math.max(maxErr, err);
                ok = err <= 1e-5 + 1e-4 * Math.abs(expected[i]);
            }
            out.printf("golden check %s (CogVideoX-5b structure, model-built RoPE): max |diff| %.2e in %.1f ms: %s%n",
                    dir.getFileName(), maxErr, (t1 - t0) / 1e6, ok ? "OK" : "FAILED");
            return ok ? 0 : 1;
        }
    }
}
