package io.github.cogvideox4j.core.testing;

import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.io.HalfPrecision;
import io.github.cogvideox4j.core.io.SafetensorsDType;
import io.github.cogvideox4j.core.io.TensorSource;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * SAT checkpoints for tests: the inverse of the SAT-to-Diffusers key mapping (Diffusers weights to SAT names, q/k/v
 * concatenated, norm1/norm2 interleaved into the 12-chunk adaLN modulation), and a writer of the DeepSpeed layout
 * ({@code latest} + {@code <iteration>/mp_rank_00_model_states.pt}) in F32, BF16 or F16.
 */
public final class SatFiles {
    private SatFiles() {}

    /** One SAT tensor: shape and F32 values. */
    public record SatTensor(long[] shape, float[] values) {}

    /**
     * SAT tensors from Diffusers ones (exact: only concatenation and renaming), plus SAT's text position table
     * {@code transformer.position_embeddings.weight} (which the conversion drops) filled with {@code 7}.
     *
     * @param diffusers a Diffusers transformer state dict
     * @param config its config
     * @return SAT name to tensor, in a SAT-like order
     */
    public static Map<String, SatTensor> fromDiffusers(TensorSource diffusers, CogVideoXConfig config) {
        String p = "model.diffusion_model.";
        Map<String, SatTensor> sat = new LinkedHashMap<>();
        java.util.function.BiConsumer<String, String> copy = (satName, name) -> {
            if (diffusers.contains(name)) {
                sat.put(p + satName, new SatTensor(diffusers.info(name).shape(), diffusers.readFloats(name)));
            }
        };
        for (String wb : List.of("weight", "bias")) {
            copy.accept("transformer.final_layernorm." + wb, "norm_final." + wb);
            copy.accept("mixins.final_layer.adaLN_modulation.1." + wb, "norm_out.linear." + wb);
            copy.accept("mixins.final_layer.norm_final." + wb, "norm_out.norm." + wb);
            copy.accept("ofs_embed.0." + wb, "ofs_embedding.linear_1." + wb);
            copy.accept("ofs_embed.2." + wb, "ofs_embedding.linear_2." + wb);
            copy.accept("mixins.patch_embed.proj." + wb, "patch_embed.proj." + wb);
            copy.accept("mixins.patch_embed.text_proj." + wb, "patch_embed.text_proj." + wb);
            copy.accept("mixins.final_layer.linear." + wb, "proj_out." + wb);
            copy.accept("time_embed.0." + wb, "time_embedding.linear_1." + wb);
            copy.accept("time_embed.2." + wb, "time_embedding.linear_2." + wb);
        }
        copy.accept("mixins.pos_embed.pos_embedding", "patch_embed.pos_embedding");
        for (int i = 0; i < config.numLayers(); i++) {
            String b = "transformer_blocks." + i + ".";
            String l = "transformer.layers." + i + ".";
            for (String wb : List.of("weight", "bias")) {
                sat.put(p + l + "attention.query_key_value." + wb, concatRows(diffusers,
                        List.of(b + "attn1.to_q." + wb, b + "attn1.to_k." + wb, b + "attn1.to_v." + wb), 1));
                copy.accept(l + "attention.dense." + wb, b + "attn1.to_out.0." + wb);
                copy.accept(l + "mlp.dense_h_to_4h." + wb, b + "ff.net.0.proj." + wb);
                copy.accept(l + "mlp.dense_4h_to_h." + wb, b + "ff.net.2." + wb);
                copy.accept(l + "input_layernorm." + wb, b + "norm1.norm." + wb);
                copy.accept(l + "post_attention_layernorm." + wb, b + "norm2.norm." + wb);
                // 12 chunks of D rows: norm1 chunks 0-2, norm2 0-2, norm1 3-5, norm2 3-5
                sat.put(p + "mixins.adaln_layer.adaLN_modulations." + i + ".1." + wb,
                        concatRows(diffusers, List.of(b + "norm1.linear." + wb, b + "norm2.linear." + wb), 2));
                copy.accept("mixins.adaln_layer.query_layernorm_list." + i + "." + wb, b + "attn1.norm_q." + wb);
                copy.accept("mixins.adaln_layer.key_layernorm_list." + i + "." + wb, b + "attn1.norm_k." + wb);
            }
        }
        int d = config.innerDim();
        float[] table = new float[config.maxTextSeqLength() * d];
        java.util.Arrays.fill(table, 7f);
        sat.put(p + "transformer.position_embeddings.weight", new SatTensor(
                new long[] {config.maxTextSeqLength(), d}, table));
        return sat;
    }

    /**
     * Concatenates row blocks: each source is cut into {@code halves} equal row blocks, and the blocks are taken
     * block index first (halves = 1: plain concatenation).
     */
    private static SatTensor concatRows(TensorSource src, List<String> names, int halves) {
        long[] shape = src.info(names.get(0)).shape();
        int rowLen = 1;
        for (int k = 1; k < shape.length; k++) {
            rowLen *= (int) shape[k];
        }
        int blockRows = (int) shape[0] / halves;
        float[][] values = names.stream().map(src::readFloats).toArray(float[][]::new);
        float[] out = new float[values.length * values[0].length];
        int at = 0;
        for (int h = 0; h < halves; h++) {
            for (float[] v : values) {
                System.arraycopy(v, h * blockRows * rowLen, out, at, blockRows * rowLen);
                at += blockRows * rowLen;
            }
        }
        long[] outShape = shape.clone();
        outShape[0] = shape[0] * names.size();
        return new SatTensor(outShape, out);
    }

    /**
     * Writes {@code <dir>/latest} and {@code <dir>/<iteration>/mp_rank_00_model_states.pt} with the tensors under
     * {@code "module"} and DeepSpeed's other entries.
     *
     * @param dtype F32, BF16 or F16: the values are rounded to it (nearest, ties to even)
     * @return {@code dir}
     */
    public static Path write(Path dir, int iteration, Map<String, SatTensor> tensors, SafetensorsDType dtype)
            throws IOException {
        Map<String, Object> module = new LinkedHashMap<>();
        Map<String, byte[]> storages = new LinkedHashMap<>();
        int key = 0;
        for (Map.Entry<String, SatTensor> e : tensors.entrySet()) {
            String k = Integer.toString(key++);
            storages.put(k, encode(e.getValue().values(), dtype));
            module.put(e.getKey(), TorchSaveFiles.Tensor.contiguous(k, dtype, e.getValue().shape()));
        }
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("module", module);
        root.put("buffer_names", List.of());
        root.put("iteration", iteration);
        root.put("dp_world_size", 1);
        root.put("mp_world_size", 1);
        root.put("ds_version", "0.14.4");
        root.put("client_lr_scheduler", Map.of());
        root.put("lr_scheduler", null);
        Path iter = Files.createDirectories(dir.resolve(Integer.toString(iteration)));
        TorchSaveFiles.writeTree(iter.resolve("mp_rank_00_model_states.pt"), root, storages);
        Files.writeString(dir.resolve("latest"), Integer.toString(iteration));
        return dir;
    }

    /** @return the values rounded to {@code dtype}, as little-endian bytes */
    public static byte[] encode(float[] values, SafetensorsDType dtype) {
        ByteBuffer b = ByteBuffer.allocate(values.length * dtype.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            switch (dtype) {
                case F32 -> b.putFloat(v);
                case BF16 -> b.putShort(HalfPrecision.floatToBf16(v));
                case F16 -> b.putShort(HalfPrecision.floatToF16(v));
                default -> throw new IllegalArgumentException(dtype.toString());
            }
        }
        return b.array();
    }

    /** @return the values rounded to {@code dtype} and widened back to float */
    public static float[] rounded(float[] values, SafetensorsDType dtype) {
        float[] out = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = switch (dtype) {
                case F32 -> values[i];
                case BF16 -> HalfPrecision.bf16ToFloat(HalfPrecision.floatToBf16(values[i]));
                case F16 -> HalfPrecision.f16ToFloat(HalfPrecision.floatToF16(values[i]));
                default -> throw new IllegalArgumentException(dtype.toString());
            };
        }
        return out;
    }
}
