package io.github.cogvideox4j.core.text;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.github.cogvideox4j.core.io.SafetensorsFiles;
import io.github.cogvideox4j.core.io.TensorSource;
import io.github.cogvideox4j.core.model.ComputePrecision;
import io.github.cogvideox4j.core.testing.Golden;
import io.github.cogvideox4j.core.testing.Tolerance;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * bf16 storage and bf16 compute of the T5 encoder against the fp32 reference (encoder_pad226_nomask). The golden
 * weights are random fp32 values, so bf16 storage rounds every weight (relative 2^-9): the bounds below are that
 * rounding's measured effect with margin, relative to the output's max.
 */
class T5EncoderModelBf16Test {
    private static final Path CASE = Golden.path("t5", "encoder_pad226_nomask");

    private static double error(DataType storage, ComputePrecision precision, double rel) throws Exception {
        try (NDManager m = NDManager.newBaseManager();
                T5EncoderModel model = T5EncoderModel.load(CASE, m, storage);
                TensorSource in = SafetensorsFiles.open(CASE.resolve("inputs.safetensors"));
                TensorSource out = SafetensorsFiles.open(CASE.resolve("outputs.safetensors"))) {
            model.setComputePrecision(precision);
            NDArray y = model.forward(in.read("input_ids", m));
            double err = Tolerance.assertCloseToMax(storage + "/" + precision, y.toFloatArray(),
                    out.readFloats("last_hidden_state"), rel, 0);
            System.out.printf("T5 %s storage, %s compute: max|err| %.3g (max|ref| 4.24)%n", storage, precision, err);
            return err;
        }
    }

    @Test
    void bf16StorageWithFp32ComputeStaysWithinBf16Rounding() throws Exception {
        error(DataType.BFLOAT16, ComputePrecision.FP32, 1e-2);
    }

    @Test
    void bf16StorageWithBf16ComputeStaysWithinBf16Rounding() throws Exception {
        error(DataType.BFLOAT16, ComputePrecision.BF16, 2e-2);
    }

    @Test
    void fp32StorageWithBf16ComputeStaysWithinBf16Rounding() throws Exception {
        error(DataType.FLOAT32, ComputePrecision.BF16, 2e-2);
    }

    @Test
    void bf16StorageHalvesTheWeightBytes() throws Exception {
        try (NDManager m = NDManager.newBaseManager();
                T5EncoderModel fp32 = T5EncoderModel.load(CASE, m, DataType.FLOAT32);
                T5EncoderModel bf16 = T5EncoderModel.load(CASE, m, DataType.BFLOAT16)) {
            assertThat(bf16.hasBf16Storage()).isTrue();
            long params = fp32.config().parameterCount();
            assertThat(fp32.weightBytes()).isEqualTo(4 * params);
            // norms (3 x 2 layers + 1, 64 each) and the bucket table (32 x 4) stay float32
            long fp32Params = 5 * 64 + 32 * 4;
            assertThat(bf16.weightBytes()).isEqualTo(2 * (params - fp32Params) + 4 * fp32Params);
        }
    }

    @Test
    void javaBf16RoundingOfTheEmbeddingEqualsTheKernelPacks() {
        float[] values = new float[4096];
        java.util.SplittableRandom r = new java.util.SplittableRandom(3);
        for (int i = 0; i < values.length; i++) {
            values[i] = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(-6, 6)));
        }
        try (NDManager m = NDManager.newBaseManager();
                io.github.cogvideox4j.core.kernel.KernelPack pack = io.github.cogvideox4j.core.kernel.KernelPack.load()) {
            NDArray x = io.github.cogvideox4j.core.EngineArrays.create(m, values, new ai.djl.ndarray.types.Shape(4096));
            float[] torch = pack.toFloat32(pack.toBf16(x)).toFloatArray();
            float[] java = new float[values.length];
            for (int i = 0; i < values.length; i++) {
                java[i] = Float.intBitsToFloat(T5EncoderModel.toBf16Bits(values[i]) << 16);
            }
            assertThat(java).containsExactly(torch);
        }
    }

    @Test
    void bf16RoundingIsNearestEven() {
        assertThat(T5EncoderModel.toBf16Bits(1.0f)).isEqualTo((short) 0x3F80);
        // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1.0)
        assertThat(T5EncoderModel.toBf16Bits(1.00390625f)).isEqualTo((short) 0x3F80);
        // 1 + 3 * 2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: ties to even (1 + 2^-6)
        assertThat(T5EncoderModel.toBf16Bits(1.01171875f)).isEqualTo((short) 0x3F82);
        assertThat(Float.isNaN(Float.intBitsToFloat(T5EncoderModel.toBf16Bits(Float.NaN) << 16))).isTrue();
    }
}
