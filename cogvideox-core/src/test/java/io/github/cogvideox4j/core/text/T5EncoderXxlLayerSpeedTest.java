package io.github.cogvideox4j.core.text;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.core.model.ComputePrecision;
import io.github.cogvideox4j.core.testing.Tolerance;
import org.junit.jupiter.api.Test;

/**
 * One block at the real T5-XXL width (d_model 4096, 64 heads, d_ff 10240; vocab cut to 256) on a full 226-token
 * prompt: bf16 storage with fp32 and bf16 compute agree with fp32 storage, and the measured per-block time gives the
 * XXL throughput estimate (24 blocks). Runs a few seconds.
 */
class T5EncoderXxlLayerSpeedTest {
    private static final T5Config ONE_XXL_BLOCK = new T5Config(256, 4096, 64, 10240, 1, 64, 32, 128, 1e-6);

    @Test
    void oneXxlBlockInBf16StorageMatchesFp32AndReportsTokensPerSecond() {
        try (NDManager m = NDManager.newBaseManager()) {
            long[] ids = new long[226];
            for (int i = 0; i < 200; i++) {
                ids[i] = 3 + (i * 37) % 250;
            }
            ids[200] = 1;
            NDArray input = EngineArrays.create(m, ids, new Shape(1, 226));
            float[] reference;
            try (T5EncoderModel fp32 = T5EncoderModel.random(ONE_XXL_BLOCK, m, 7, DataType.FLOAT32)) {
                reference = timed(fp32, input, "fp32 storage, FP32 compute");
            }
            try (T5EncoderModel bf16 = T5EncoderModel.random(ONE_XXL_BLOCK, m, 7, DataType.BFLOAT16)) {
                float[] wide = timed(bf16, input, "bf16 storage, FP32 compute");
                double e1 = Tolerance.assertCloseToMax("bf16 storage fp32 compute", wide, reference, 2e-2, 0);
                bf16.setComputePrecision(ComputePrecision.BF16);
                float[] narrow = timed(bf16, input, "bf16 storage, BF16 compute");
                double e2 = Tolerance.assertCloseToMax("bf16 storage bf16 compute", narrow, reference, 3e-2, 0);
                System.out.printf("XXL block vs fp32: max|err| bf16 storage %.3g, + bf16 compute %.3g%n", e1, e2);
            }
        }
    }

    private static float[] timed(T5EncoderModel model, NDArray input, String what) {
        try (NDArray shortIds = input.get("0:1, 0:8"); NDArray warm = model.forward(shortIds)) {
            assertThat(warm.getShape().getShape()).containsExactly(1, 8, 4096); // one-time kernel set-up
        }
        long t0 = System.nanoTime();
        try (NDArray y = model.forward(input)) {
            double s = (System.nanoTime() - t0) / 1e9;
            System.out.printf("T5-XXL %s: one block %.3f s for 226 tokens -> %.1f tokens/s for 24 blocks%n", what, s,
                    226 / (24 * s));
            assertThat(y.getShape().getShape()).containsExactly(1, 226, 4096);
            float[] out = y.toFloatArray();
            for (float v : out) {
                assertThat(Float.isFinite(v)).isTrue();
            }
            return out;
        }
    }
}
