package io.github.cogvideox4j.core.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.common.base.Preconditions;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a transformer as a Diffusers model folder, laid out like the released checkpoints: {@code config.json} and
 * {@code diffusion_pytorch_model.safetensors}, or shards {@code diffusion_pytorch_model-0000k-of-0000n.safetensors}
 * with {@code diffusion_pytorch_model.safetensors.index.json} ({@code metadata.total_size}, {@code weight_map}) when
 * the tensors exceed one shard (Diffusers' conversion uses 5 GB). Tensors are written in BF16 (the 5B releases),
 * F16 (the 2B release) or F32. Non-finite values are refused before anything is written; each file is written
 * atomically.
 *
 * <p>Thread safety: stateless; the arrays must not change while being written.
 */
public final class DiffusersFolderWriter {
    private static final String BASE = "diffusion_pytorch_model";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private DiffusersFolderWriter() {}

    /**
     * @param dir the folder to write (created if absent)
     * @param config the transformer config
     * @param tensors the state dict in Diffusers order (FLOAT32 or FLOAT16 arrays)
     * @param dtype BF16, F16 or F32
     * @param maxShardBytes the largest shard in bytes (a tensor larger than this gets a shard of its own)
     * @return the weight files written
     * @throws IOException if a file cannot be written
     * @throws IllegalArgumentException for a non-finite tensor or an unsupported dtype
     */
    public static List<Path> write(Path dir, CogVideoXConfig config, Map<String, NDArray> tensors,
            SafetensorsDType dtype, long maxShardBytes) throws IOException {
        Preconditions.checkArgument(dtype == SafetensorsDType.BF16 || dtype == SafetensorsDType.F16
                || dtype == SafetensorsDType.F32, "dtype must be BF16, F16 or F32, got %s", dtype);
        Preconditions.checkArgument(maxShardBytes > 0, "maxShardBytes must be positive");
        // 1. host copies, checked finite, grouped into shards in order
        List<List<TensorData>> shards = new ArrayList<>();
        List<TensorData> current = new ArrayList<>();
        long currentBytes = 0;
        long total = 0;
        for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
            NDArray a = e.getValue();
            Preconditions.checkArgument(a.getDataType() == DataType.FLOAT32 || a.getDataType() == DataType.FLOAT16,
                    "tensor %s: expected FLOAT32 or FLOAT16, got %s", e.getKey(), a.getDataType());
            float[] values = a.toType(DataType.FLOAT32, false).toFloatArray();
            for (int i = 0; i < values.length; i++) {
                if (!Float.isFinite(values[i])) {
                    throw new IllegalArgumentException("tensor " + e.getKey() + " has a non-finite value " + values[i]
                            + " at element " + i + "; nothing was written");
                }
            }
            long[] shape = a.getShape().getShape();
            TensorData t = switch (dtype) {
                case BF16 -> TensorData.bf16(e.getKey(), shape, values);
                case F16 -> f16(e.getKey(), shape, values);
                default -> TensorData.f32(e.getKey(), shape, values);
            };
            long bytes = (long) values.length * dtype.byteSize();
            if (!current.isEmpty() && currentBytes + bytes > maxShardBytes) {
                shards.add(current);
                current = new ArrayList<>();
                currentBytes = 0;
            }
            current.add(t);
            currentBytes += bytes;
            total += bytes;
        }
        shards.add(current);
        // 2. config and weight files
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), config.toJson());
        Map<String, String> metadata = Map.of("format", "pt");
        List<Path> files = new ArrayList<>();
        if (shards.size() == 1) {
            Path file = dir.resolve(BASE + ".safetensors");
            SafetensorsWriter.write(file, shards.get(0), metadata);
            files.add(file);
            return files;
        }
        Map<String, String> weightMap = new LinkedHashMap<>();
        for (int k = 0; k < shards.size(); k++) {
            String name = String.format("%s-%05d-of-%05d.safetensors", BASE, k + 1, shards.size());
            SafetensorsWriter.write(dir.resolve(name), shards.get(k), metadata);
            files.add(dir.resolve(name));
            for (TensorData t : shards.get(k)) {
                weightMap.put(t.name(), name);
            }
        }
        ObjectNode index = JSON.createObjectNode();
        index.putObject("metadata").put("total_size", total);
        index.set("weight_map", JSON.valueToTree(weightMap));
        Files.writeString(dir.resolve(BASE + ".safetensors.index.json"), JSON.writeValueAsString(index));
        return files;
    }

    private static TensorData f16(String name, long[] shape, float[] values) {
        short[] bits = new short[values.length];
        for (int i = 0; i < values.length; i++) {
            bits[i] = HalfPrecision.floatToF16(values[i]);
        }
        return TensorData.bits16(name, SafetensorsDType.F16, shape, bits);
    }
}
