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
 * prompt: bf16 storage with fp32 and bf16 compute agree with fp32 storage within 2% / 3% of the output's scale (bf16
 * keeps 8 significant bits; measured 1.5e-2 / 2.0e-2). Speed is measured by {@code T5EncoderBench}, not here.
 */
class T5EncoderXxlLayerTest {
    private static final T5Config ONE_XXL_BLOCK = new T5Config(256, 4096, 64, 10240, 1, 64, 32, 128, 1e-6);

    @Test
    void oneXxlBlockInBf16StorageMatchesFp32() {
        try (NDManager m = NDManager.newBaseManager()) {
            long[] ids = new long[226];
            for (int i = 0; i < 200; i++) {
                ids[i] = 3 + (i * 37) % 250;
            }
            ids[200] = 1;
            NDArray input = EngineArrays.create(m, ids, new Shape(1, 226));
            float[] reference;
            try (T5EncoderModel fp32 = T5EncoderModel.random(ONE_XXL_BLOCK, m, 7, DataType.FLOAT32)) {
                reference = run(fp32, input);
            }
            try (T5EncoderModel bf16 = T5EncoderModel.random(ONE_XXL_BLOCK, m, 7, DataType.BFLOAT16)) {
                Tolerance.assertCloseToMax("bf16 storage fp32 compute", run(bf16, input), reference, 2e-2, 0);
                bf16.setComputePrecision(ComputePrecision.BF16);
                Tolerance.assertCloseToMax("bf16 storage bf16 compute", run(bf16, input), reference, 3e-2, 0);
            }
        }
    }

    private static float[] run(T5EncoderModel model, NDArray input) {
        try (NDArray y = model.forward(input)) {
            assertThat(y.getShape().getShape()).containsExactly(1, 226, 4096);
            float[] out = y.toFloatArray();
            for (float v : out) {
                assertThat(Float.isFinite(v)).isTrue();
            }
            return out;
        }
    }
}
