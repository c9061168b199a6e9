package io.github.cogvideox4j.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.core.model.ComputePrecision;
import io.github.cogvideox4j.core.text.T5Config;
import io.github.cogvideox4j.core.text.T5EncoderModel;
import java.io.IOException;

/**
 * T5-XXL prompt encoding speed and memory from one block at the real width (d_model 4096, 64 heads, d_ff 10240; vocab
 * cut to 256) on a full 226-token prompt, with random weights: time per block, scaled to the 24 blocks of the encoder,
 * for fp32 storage + fp32 compute, bf16 storage + fp32 compute, bf16 storage + bf16 compute; and the peak extra RSS of
 * one block's forward. Prints whether the MKL vendor switch was on.
 *
 * <pre>
 * bin/cogvideox-java -Dai.djl.offline=true -cp cogvideox-bench/target/classes:$(cat cogvideox-bench/target/classpath.txt) \
 *     io.github.cogvideox4j.bench.T5EncoderBench
 * </pre>
 */
public final class T5EncoderBench {
    private static final T5Config ONE_XXL_BLOCK = new T5Config(256, 4096, 64, 10240, 1, 64, 32, 128, 1e-6);

    private T5EncoderBench() {}

    /**
     * @param args unused
     * @throws IOException if /proc cannot be read
     */
    public static void main(String[] args) throws IOException {
        System.out.println("# " + BenchEnvironment.describe());
        try (NDManager m = NDManager.newBaseManager()) {
            long[] ids = new long[226];
            for (int i = 0; i < 200; i++) {
                ids[i] = 3 + (i * 37) % 250;
            }
            ids[200] = 1;
            NDArray input = EngineArrays.create(m, ids, new Shape(1, 226));
            try (T5EncoderModel fp32 = T5EncoderModel.random(ONE_XXL_BLOCK, m, 7, DataType.FLOAT32)) {
                report("fp32 storage, fp32 compute", fp32, input);
            }
            try (T5EncoderModel bf16 = T5EncoderModel.random(ONE_XXL_BLOCK, m, 7, DataType.BFLOAT16)) {
                report("bf16 storage, fp32 compute", bf16, input);
                bf16.setComputePrecision(ComputePrecision.BF16);
                report("bf16 storage, bf16 compute", bf16, input);
            }
        }
    }

    private static void report(String what, T5EncoderModel model, NDArray input) throws IOException {
        model.forward(input).close();                                        // warm-up (kernel set-up)
        double best = Double.MAX_VALUE;
        long peak = 0;
        for (int rep = 0; rep < 3; rep++) {
            long before = ProcMemory.resetPeakKb();
            long t0 = System.nanoTime();
            model.forward(input).close();
            best = Math.min(best, (System.nanoTime() - t0) / 1e9);
            peak = Math.max(peak, ProcMemory.peakKb() - before);
        }
        System.out.printf("T5-XXL %s: one block %.3f s for 226 tokens -> %.1f tokens/s, %.1f s per prompt for 24 "
                + "blocks; peak extra RSS of one block %.0f MB%n", what, best, 226 / (24 * best), 24 * best,
                peak / 1024.0);
    }
}
