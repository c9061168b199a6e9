package io.github.cogvideox4j.lora;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.cogvideox4j.core.io.HalfPrecision;
import io.github.cogvideox4j.core.io.SafetensorsDType;
import io.github.cogvideox4j.core.io.SafetensorsFiles;
import io.github.cogvideox4j.core.io.SafetensorsWriter;
import io.github.cogvideox4j.core.io.ShardedSafetensors;
import io.github.cogvideox4j.core.io.TensorData;
import io.github.cogvideox4j.core.io.TensorInfo;
import io.github.cogvideox4j.core.io.TensorSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes a new Diffusers transformer folder with a LoRA merged into its weights: {@code W + scale · alpha / r ·
 * B @ A} (computed in FP32, as PEFT's {@code merge} adds the FP32 delta to the weight), every other tensor copied
 * value for value, sharded like the input (same shard files and {@code weight_map}, or one file), and
 * {@code config.json} copied.
 *
 * <p><b>Output dtype.</b> By default every tensor is stored back in its own dtype (F32, F16 or BF16, rounded to
 * nearest even), so a BF16 base stays BF16 and the 2B release's F16 base stays F16. A small LoRA merged into a BF16
 * base is then partly rounded away (bf16 keeps 8 significant bits: a delta below half a unit in the last place of
 * the weight disappears); give an output dtype of F32 to keep it exactly, or F16/BF16 to convert the whole folder.
 *
 * <p>Memory: one shard's tensors are held on the Java heap while it is written.
 *
 * <p>Thread safety: stateless.
 */
public final class LoraMerger {
    private static final Logger LOG = LoggerFactory.getLogger(LoraMerger.class);
    private static final String BASE_NAME = "diffusion_pytorch_model";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private LoraMerger() {}

    /**
     * What was merged.
     *
     * @param mergedTensors the base weights that changed
     * @param scaling the factor applied to {@code B @ A}
     * @param shards the weight files written
     */
    public record Report(List<String> mergedTensors, double scaling, List<Path> shards) {}

    /**
     * Merges a LoRA file into a copy of a transformer folder.
     *
     * @param modelDir a Diffusers transformer folder, or a pipeline root holding {@code transformer/}
     * @param loraFile a LoRA file of any {@link LoraFormat}
     * @param alphaIfAbsent alpha for a file without one; {@code NaN} for the rank (scale 1.0, as Diffusers)
     * @param scale the adapter weight ({@code fuse_lora(lora_scale=...)})
     * @param outDir the new transformer folder (created; must differ from the input)
     * @param dtype the dtype of every written tensor (F32, F16 or BF16), or {@code null} for each tensor's own dtype
     * @return what was merged
     * @throws LoraException if a LoRA module has no matching weight of the right shape, a tensor dtype cannot be
     *     written, or a merged value overflows F16
     * @throws IOException if reading or writing fails
     */
    public static Report mergeFolder(Path modelDir, Path loraFile, double alphaIfAbsent, double scale, Path outDir,
            SafetensorsDType dtype) throws IOException {
        checkNotNull(modelDir, "modelDir");
        checkNotNull(outDir, "outDir");
        checkArgument(dtype == null || dtype == SafetensorsDType.F32 || dtype == SafetensorsDType.F16
                || dtype == SafetensorsDType.BF16, "the output dtype must be F32, F16 or BF16, got %s", dtype);
        Path folder = Files.isRegularFile(modelDir.resolve("config.json")) ? modelDir : modelDir.resolve("transformer");
        if (!Files.isRegularFile(folder.resolve("config.json"))) {
            throw new java.nio.file.NoSuchFileException(modelDir.resolve("config.json").toString(), null,
                    "not a Diffusers transformer folder or pipeline root");
        }
        checkArgument(!outDir.toAbsolutePath().normalize().equals(folder.toAbsolutePath().normalize()),
                "the output folder must differ from the input %s", folder);
        Files.createDirectories(outDir);
        try (NDManager manager = NDManager.newBaseManager();
                TensorSource source = SafetensorsFiles.openModelWeights(folder, BASE_NAME)) {
            LoraFile lora = LoraImporter.read(loraFile, manager);
            double alpha = lora.alphaOr(Double.isNaN(alphaIfAbsent) ? lora.rank() : alphaIfAbsent);
            double scaling = scale * alpha / lora.rank();
            Map<String, LoraPair> byWeight = new LinkedHashMap<>();
            for (Map.Entry<String, LoraPair> e : lora.layers().entrySet()) {
                String weight = e.getKey() + ".weight";
                if (!source.contains(weight)) {
                    throw new LoraException(loraFile + ": module " + e.getKey() + " has no weight " + weight + " in "
                            + folder);
                }
                long[] ws = source.info(weight).shape();
                Shape a = e.getValue().loraA().getShape();
                Shape b = e.getValue().loraB().getShape();
                if (ws.length != 2 || ws[0] != b.get(0) || ws[1] != a.get(1)) {
                    throw new LoraException(loraFile + ": module " + e.getKey() + " has lora_A " + a + " and lora_B "
                            + b + ", but " + weight + " is " + new Shape(ws));
                }
                LoraExporter.requireFinite(loraFile, e.getKey() + ".lora_A", e.getValue().loraA().toFloatArray());
                LoraExporter.requireFinite(loraFile, e.getKey() + ".lora_B", e.getValue().loraB().toFloatArray());
                byWeight.put(weight, e.getValue());
            }

            // shard file -> tensors, as the input
            Map<String, List<String>> shards = new TreeMap<>();
            boolean sharded = source instanceof ShardedSafetensors;
            for (String name : source.names()) {
                String file = sharded ? ((ShardedSafetensors) source).fileOf(name).getFileName().toString()
                        : BASE_NAME + SafetensorsFiles.SINGLE_SUFFIX;
                shards.computeIfAbsent(file, k -> new ArrayList<>()).add(name);
            }
            List<Path> written = new ArrayList<>();
            Map<String, String> weightMap = new TreeMap<>();
            long totalSize = 0;
            for (Map.Entry<String, List<String>> shard : shards.entrySet()) {
                List<TensorData> tensors = new ArrayList<>();
                for (String name : shard.getValue()) {
                    TensorInfo info = source.info(name);
                    float[] values = source.readFloats(name);
                    LoraPair pair = byWeight.get(name);
                    if (pair != null) {
                        values = merged(manager, values, info.shape(), pair, scaling);
                    }
                    SafetensorsDType out = dtype != null ? dtype : info.dtype();
                    tensors.add(encode(name, out, info.shape(), values));
                    weightMap.put(name, shard.getKey());
                    totalSize += (long) values.length * out.byteSize();
                }
                Path out = outDir.resolve(shard.getKey());
                SafetensorsWriter.write(out, tensors, sharded ? Map.of("format", "pt") : source.metadata());
                written.add(out);
            }
            if (sharded) {
                ObjectNode index = JSON.createObjectNode();
                index.putObject("metadata").put("total_size", totalSize);
                ObjectNode map = index.putObject("weight_map");
                weightMap.forEach(map::put);
                Files.writeString(outDir.resolve(BASE_NAME + SafetensorsFiles.INDEX_SUFFIX),
                        JSON.writeValueAsString(index));
            }
            Files.copy(folder.resolve("config.json"), outDir.resolve("config.json"),
                    StandardCopyOption.REPLACE_EXISTING);
            LOG.info("merged {} LoRA layers (scaling {}) into {}", byWeight.size(), scaling, outDir);
            return new Report(List.copyOf(byWeight.keySet()), scaling, List.copyOf(written));
        }
    }

    private static float[] merged(NDManager manager, float[] values, long[] shape, LoraPair pair, double scaling) {
        try (NDManager scope = manager.newSubManager()) {
            NDArray w = scope.create(values, new Shape(shape));
            NDArray product = pair.loraB().matMul(pair.loraA());
            product.attach(scope);
            w.addi(product.mul(scaling));
            return w.toFloatArray();
        }
    }

    private static TensorData encode(String name, SafetensorsDType dtype, long[] shape, float[] values) {
        switch (dtype) {
            case F32:
                return TensorData.f32(name, shape, values);
            case BF16:
                return TensorData.bf16(name, shape, values);
            case F16: {
                short[] bits = new short[values.length];
                for (int i = 0; i < values.length; i++) {
                    bits[i] = HalfPrecision.floatToF16(values[i]);
                    if ((bits[i] & 0x7C00) == 0x7C00 && Float.isFinite(values[i])) {
                        throw new LoraException("tensor " + name + ": element " + i + " = " + values[i]
                                + " overflows F16 (largest finite value 65504); write F32 or BF16 instead");
                    }
                }
                return TensorData.bits16(name, SafetensorsDType.F16, shape, bits);
            }
            default:
                throw new LoraException("tensor " + name + " has dtype " + dtype + "; merging writes F32, F16 and BF16 "
                        + "weights only");
        }
    }
}
