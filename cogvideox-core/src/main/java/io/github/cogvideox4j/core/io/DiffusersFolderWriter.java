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
import java.util.function.Supplier;

/**
 * Writes a transformer as a Diffusers model folder, laid out like the released checkpoints: {@code config.json} and
 * {@code diffusion_pytorch_model.safetensors}, or shards {@code diffusion_pytorch_model-0000k-of-0000n.safetensors}
 * with {@code diffusion_pytorch_model.safetensors.index.json} ({@code metadata.total_size}, {@code weight_map}) when
 * the tensors exceed one shard (Diffusers' conversion uses 5 GB). Tensors are written in BF16 (the 5B releases),
 * F16 (the 2B release) or F32. Non-finite values are refused before anything is written; each file is written
 * atomically. Tensors come from arrays (a model's state dict) or straight from a {@link TensorSource} (a converted
 * checkpoint), one shard in memory at a time.
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
        List<Item> items = new ArrayList<>();
        for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
            NDArray a = e.getValue();
            Preconditions.checkArgument(a.getDataType() == DataType.FLOAT32 || a.getDataType() == DataType.FLOAT16,
                    "tensor %s: expected FLOAT32 or FLOAT16, got %s", e.getKey(), a.getDataType());
            items.add(new Item(e.getKey(), a.getShape().getShape(), () -> a.toType(DataType.FLOAT32, false)
                    .toFloatArray()));
        }
        return write(dir, config, items, dtype, maxShardBytes);
    }

    /**
     * Writes tensors read from a source, one shard in memory at a time (a converted SAT checkpoint need not be
     * loaded as a model): every tensor is read once to check it is finite before anything is written, then again
     * shard by shard.
     *
     * @param dir the folder to write (created if absent)
     * @param config the transformer config
     * @param source the tensors (floating-point, any stored dtype)
     * @param names the names to write, in Diffusers order
     * @param dtype BF16, F16 or F32
     * @param maxShardBytes the largest shard in bytes
     * @return the weight files written
     * @throws IOException if a file cannot be written
     * @throws IllegalArgumentException for a non-finite tensor or an unsupported dtype
     */
    public static List<Path> write(Path dir, CogVideoXConfig config, TensorSource source, List<String> names,
            SafetensorsDType dtype, long maxShardBytes) throws IOException {
        List<Item> items = new ArrayList<>();
        for (String name : names) {
            items.add(new Item(name, source.info(name).shape(), () -> source.readFloats(name)));
        }
        return write(dir, config, items, dtype, maxShardBytes);
    }

    /** A tensor to write: its values are produced on demand, as floats. */
    private record Item(String name, long[] shape, Supplier<float[]> values) {}

    private static List<Path> write(Path dir, CogVideoXConfig config, List<Item> items, SafetensorsDType dtype,
            long maxShardBytes) throws IOException {
        Preconditions.checkArgument(dtype == SafetensorsDType.BF16 || dtype == SafetensorsDType.F16
                || dtype == SafetensorsDType.F32, "dtype must be BF16, F16 or F32, got %s", dtype);
        Preconditions.checkArgument(maxShardBytes > 0, "maxShardBytes must be positive");
        // 1. every value finite, before anything is written; shards planned in order
        List<List<Item>> shards = new ArrayList<>();
        List<Item> current = new ArrayList<>();
        long currentBytes = 0;
        long total = 0;
        for (Item item : items) {
            float[] values = item.values().get();
            for (int i = 0; i < values.length; i++) {
                if (!Float.isFinite(values[i])) {
                    throw new IllegalArgumentException("tensor " + item.name() + " has a non-finite value " + values[i]
                            + " at element " + i + "; nothing was written");
                }
            }
            long bytes = (long) values.length * dtype.byteSize();
            if (!current.isEmpty() && currentBytes + bytes > maxShardBytes) {
                shards.add(current);
                current = new ArrayList<>();
                currentBytes = 0;
            }
            current.add(item);
            currentBytes += bytes;
            total += bytes;
        }
        shards.add(current);
        // 2. config and weight files, one shard in memory at a time
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), config.toJson());
        Map<String, String> metadata = Map.of("format", "pt");
        List<Path> files = new ArrayList<>();
        if (shards.size() == 1) {
            Path file = dir.resolve(BASE + ".safetensors");
            SafetensorsWriter.write(file, encode(shards.get(0), dtype), metadata);
            files.add(file);
            return files;
        }
        Map<String, String> weightMap = new LinkedHashMap<>();
        for (int k = 0; k < shards.size(); k++) {
            String name = String.format("%s-%05d-of-%05d.safetensors", BASE, k + 1, shards.size());
            SafetensorsWriter.write(dir.resolve(name), encode(shards.get(k), dtype), metadata);
            files.add(dir.resolve(name));
            for (Item t : shards.get(k)) {
                weightMap.put(t.name(), name);
            }
        }
        ObjectNode index = JSON.createObjectNode();
        index.putObject("metadata").put("total_size", total);
        index.set("weight_map", JSON.valueToTree(weightMap));
        Files.writeString(dir.resolve(BASE + ".safetensors.index.json"), JSON.writeValueAsString(index));
        return files;
    }

    private static List<TensorData> encode(List<Item> shard, SafetensorsDType dtype) {
        List<TensorData> out = new ArrayList<>();
        for (Item item : shard) {
            float[] values = item.values().get();
            out.add(switch (dtype) {
                case BF16 -> TensorData.bf16(item.name(), item.shape(), values);
                case F16 -> f16(item.name(), item.shape(), values);
                default -> TensorData.f32(item.name(), item.shape(), values);
            });
        }
        return out;
    }

    private static TensorData f16(String name, long[] shape, float[] values) {
        short[] bits = new short[values.length];
        for (int i = 0; i < values.length; i++) {
            bits[i] = HalfPrecision.floatToF16(values[i]);
        }
        return TensorData.bits16(name, SafetensorsDType.F16, shape, bits);
    }
}
