package io.github.cogvideox4j.lora;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.io.DiffusersFolderWriter;
import io.github.cogvideox4j.core.io.HalfPrecision;
import io.github.cogvideox4j.core.io.SafetensorsDType;
import io.github.cogvideox4j.core.io.SafetensorsFiles;
import io.github.cogvideox4j.core.io.TensorSource;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link LoraMerger}'s output dtype: each tensor's own by default, or the one asked for; the merged weight is
 * {@code W + scaling · B @ A} computed in FP32 (PEFT's merge) and rounded once to the output dtype.
 */
class LoraMergerTest {
    private static final String BASE = "diffusion_pytorch_model";
    private static final String TO_Q = "transformer_blocks.0.attn1.to_q";
    /** A LoRA whose effect is far below a BF16 unit in the last place of the weights (about 0.02). */
    private static final double SMALL = 3e-3;

    @TempDir
    Path tmp;

    /** Writes the tiny random model as a Diffusers folder in {@code dtype} and a small trained-looking LoRA file. */
    private Path[] baseAndLora(SafetensorsDType dtype) throws Exception {
        Path base = tmp.resolve("base-" + dtype);
        Path lora = tmp.resolve("lora-" + dtype + ".safetensors");
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(TinyLora.CONFIG, manager, 1);
                LoraAdapter adapter = LoraAdapter.inject(model, LoraConfig.of(4, 8))) {
            Map<String, NDArray> state = new LinkedHashMap<>(model.namedBuffers());
            state.putAll(model.namedParameters());
            DiffusersFolderWriter.write(base, TinyLora.CONFIG, state, dtype, Long.MAX_VALUE);
            TinyLora.randomize(adapter, 7, SMALL);
            adapter.save(lora);
        }
        return new Path[] {base, lora};
    }

    /** {@code W + scaling · B @ A} in FP32, with the same DJL ops as the merge. */
    private static float[] expectedMerge(NDManager manager, float[] w, long[] shape, LoraPair pair, double scaling) {
        NDArray weight = manager.create(w, new Shape(shape));
        NDArray product = pair.loraB().matMul(pair.loraA());
        return weight.add(product.mul(scaling)).toFloatArray();
    }

    private static Path merge(Path[] baseAndLora, Path out, SafetensorsDType dtype) throws Exception {
        LoraMerger.mergeFolder(baseAndLora[0], baseAndLora[1], Double.NaN, 1.0, out, dtype);
        return out;
    }

    @Test
    void anF32OutputKeepsASmallLoraMergedIntoABf16BaseExactly() throws Exception {
        Path[] in = baseAndLora(SafetensorsDType.BF16);
        Path f32 = merge(in, tmp.resolve("f32"), SafetensorsDType.F32);
        Path kept = merge(in, tmp.resolve("kept"), null);
        try (NDManager manager = NDManager.newBaseManager();
                TensorSource base = SafetensorsFiles.openModelWeights(in[0], BASE);
                TensorSource out = SafetensorsFiles.openModelWeights(f32, BASE);
                TensorSource rounded = SafetensorsFiles.openModelWeights(kept, BASE)) {
            LoraFile lora = LoraImporter.read(in[1], manager);
            double scaling = lora.alpha() / lora.rank();
            for (String name : base.names()) {
                assertThat(out.info(name).dtype()).as(name).isEqualTo(SafetensorsDType.F32);
                assertThat(rounded.info(name).dtype()).as(name).isEqualTo(SafetensorsDType.BF16);
                LoraPair pair = lora.layers().get(name.substring(0, name.lastIndexOf('.')));
                float[] expected = pair != null && name.endsWith(".weight")
                        ? expectedMerge(manager, base.readFloats(name), base.info(name).shape(), pair, scaling)
                        : base.readFloats(name);
                assertThat(out.readFloats(name)).as(name).containsExactly(expected);
            }
            float[] w = base.readFloats(TO_Q + ".weight");
            float[] exact = out.readFloats(TO_Q + ".weight");
            float[] bf16 = rounded.readFloats(TO_Q + ".weight");
            int lostInBf16 = 0;
            for (int i = 0; i < w.length; i++) {
                lostInBf16 += bf16[i] == w[i] && exact[i] != w[i] ? 1 : 0;
            }
            assertThat(lostInBf16).as("elements whose LoRA delta the BF16 output rounds away").isPositive();
        }
    }

    @Test
    void byDefaultAnF16BaseStaysF16() throws Exception {
        Path[] in = baseAndLora(SafetensorsDType.F16);
        Path out = merge(in, tmp.resolve("f16"), null);
        try (NDManager manager = NDManager.newBaseManager();
                TensorSource base = SafetensorsFiles.openModelWeights(in[0], BASE);
                TensorSource merged = SafetensorsFiles.openModelWeights(out, BASE)) {
            LoraFile lora = LoraImporter.read(in[1], manager);
            for (String name : base.names()) {
                assertThat(merged.info(name).dtype()).as(name).isEqualTo(SafetensorsDType.F16);
            }
            float[] expected = expectedMerge(manager, base.readFloats(TO_Q + ".weight"),
                    base.info(TO_Q + ".weight").shape(), lora.layers().get(TO_Q), lora.alpha() / lora.rank());
            float[] actual = merged.readFloats(TO_Q + ".weight");
            for (int i = 0; i < expected.length; i++) {
                assertThat(actual[i]).as("element %d", i)
                        .isEqualTo(HalfPrecision.f16ToFloat(HalfPrecision.floatToF16(expected[i])));
            }
        }
    }

    @Test
    void aBf16OutputIsWrittenWhenAsked() throws Exception {
        Path[] in = baseAndLora(SafetensorsDType.F32);
        Path out = merge(in, tmp.resolve("bf16"), SafetensorsDType.BF16);
        try (NDManager manager = NDManager.newBaseManager();
                TensorSource base = SafetensorsFiles.openModelWeights(in[0], BASE);
                TensorSource merged = SafetensorsFiles.openModelWeights(out, BASE)) {
            LoraFile lora = LoraImporter.read(in[1], manager);
            for (String name : base.names()) {
                assertThat(merged.info(name).dtype()).as(name).isEqualTo(SafetensorsDType.BF16);
            }
            float[] expected = expectedMerge(manager, base.readFloats(TO_Q + ".weight"),
                    base.info(TO_Q + ".weight").shape(), lora.layers().get(TO_Q), lora.alpha() / lora.rank());
            float[] actual = merged.readFloats(TO_Q + ".weight");
            for (int i = 0; i < expected.length; i++) {
                assertThat(actual[i]).as("element %d", i)
                        .isEqualTo(HalfPrecision.bf16ToFloat(HalfPrecision.floatToBf16(expected[i])));
            }
        }
    }

    @Test
    void anOutputDtypeOtherThanF32F16OrBf16IsRefused() throws Exception {
        Path[] in = baseAndLora(SafetensorsDType.F32);
        assertThatThrownBy(() -> merge(in, tmp.resolve("f64"), SafetensorsDType.F64))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("F32, F16 or BF16")
                .hasMessageContaining("F64");
    }
}
