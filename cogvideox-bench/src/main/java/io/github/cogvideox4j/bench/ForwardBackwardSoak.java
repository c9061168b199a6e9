package io.github.cogvideox4j.bench;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.config.CogVideoXVariant;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.model.TransformerInput;
import java.io.IOException;

/**
 * Native-memory soak of the transformer's training-style step: forward + backward of a tiny model of a release
 * under a {@code GradientCollector}, every step in its own sub-manager, parameter gradients zeroed in place, a
 * {@code System.gc()} every 250 steps (docs/djl-engine.md §4). Prints the process RSS and the arrays held by the
 * model's manager every {@code report} steps, so growth per step can be read off one run.
 *
 * <pre>
 * THP_MEM_ALLOC_ENABLE=1 java -Dai.djl.offline=true -cp ... io.github.cogvideox4j.bench.ForwardBackwardSoak \
 *     [steps=2000] [variant=COGVIDEOX_1_5_5B_I2V] [report=250]
 * </pre>
 */
public final class ForwardBackwardSoak {
    private ForwardBackwardSoak() {}

    /**
     * @param args steps, variant, report interval
     * @throws IOException if /proc cannot be read
     */
    public static void main(String[] args) throws IOException {
        int steps = args.length > 0 ? Integer.parseInt(args[0]) : 2000;
        CogVideoXVariant variant = args.length > 1 ? CogVideoXVariant.valueOf(args[1])
                : CogVideoXVariant.COGVIDEOX_1_5_5B_I2V;
        int report = args.length > 2 ? Integer.parseInt(args[2]) : 250;
        System.out.println(BenchEnvironment.describe());
        CogVideoXConfig config = CogVideoXConfig.tiny(variant);
        try (NDManager root = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(config, root, 7)) {
            int modelArrays = root.getManagedArrays().size();
            Shape shape = new Shape(2, config.sampleLatentFrames(), config.inChannels(), config.sampleHeight(),
                    config.sampleWidth());
            long rss0 = 0;
            long t0 = System.nanoTime();
            for (int step = 0; step <= steps; step++) {
                try (NDManager s = root.newSubManager()) {
                    NDArray x = s.randomNormal(shape);
                    NDArray text = s.randomNormal(new Shape(2, config.maxTextSeqLength(), config.textEmbedDim()));
                    TransformerInput in = TransformerInput.of(x, text, s.create(new long[] {step % 1000, 999}));
                    if (config.ofsEmbedDim() != null) {
                        in = in.withOfs(s.create(new float[] {2f}));
                    }
                    try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                        NDArray sample = model.forward(in);
                        gc.backward(sample.square().mean());
                    }
                    for (NDArray p : model.namedParameters().values()) {
                        JniUtils.zeroGrad((PtNDArray) p);
                    }
                }
                if (step % 250 == 0) {
                    System.gc();
                }
                if (step % report == 0) {
                    long rss = ProcMemory.rssKb();
                    if (step == report) {
                        rss0 = rss;
                    }
                    System.out.printf("step %6d  RSS %8.1f MB  model-manager arrays %d (at start %d)  %.1f ms/step%n",
                            step, rss / 1024.0, root.getManagedArrays().size(), modelArrays,
                            (System.nanoTime() - t0) / 1e6 / Math.max(1, step));
                }
            }
            long rssEnd = ProcMemory.rssKb();
            System.out.printf("RSS growth from step %d to %d: %.1f MB (%.2f KB/step)%n", report, steps,
                    (rssEnd - rss0) / 1024.0, (rssEnd - rss0) / (double) Math.max(1, steps - report));
        }
    }

}
