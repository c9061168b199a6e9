package io.github.cogvideox4j.lora;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.github.cogvideox4j.core.io.SafetensorsWriter;
import io.github.cogvideox4j.core.io.TensorData;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes LoRA files in the Diffusers/PEFT layout ({@code pytorch_lora_weights.safetensors}, diffusers
 * {@code loaders/lora_pipeline.py}): keys
 * {@code transformer.<module>.lora_{A,B}.weight}, F32, header metadata {@code format: pt} plus
 * {@code lora_adapter_metadata} (the {@code transformer.}-prefixed PEFT config fields, sorted, as Diffusers'
 * {@code write_lora_layers} writes them), so that Diffusers applies {@code alpha / r} itself; and
 * {@code cogvideox4j_provenance} (library, Java and OS versions), which Diffusers ignores.
 *
 * <p><b>{@code target_modules}</b> is the sorted list of the full names of the modules the file holds (e.g.
 * {@code transformer_blocks.0.attn1.to_q}), not the suffixes or regex the adapter was configured with. PEFT
 * ({@code tuners_utils.check_target_module_exists}) matches a list entry {@code t} against a module {@code key} when
 * {@code key == t} or {@code key.endswith("." + t)}, and a full name from the root of the transformer is matched by
 * that module alone; so PEFT adapts exactly the modules whose tensors are in the file, whichever way it loads it
 * (from the config alone, or from the state dict as Diffusers' {@code load_lora_adapter} does, where a config
 * naming other modules is reported as "additional target modules"). Configured suffixes would not be exact: on
 * CogVideoX 1.0, {@code proj} also names the patch-embedding Conv2d, which PEFT would wrap and this library does not
 * adapt. {@code lora_dropout} is the trained adapter's dropout; {@code rank_pattern} and {@code alpha_pattern} are
 * empty (one rank and alpha for every layer).
 *
 * <p>Refused before anything is written, with the module named: NaN or infinite values, and (unless allowed) a
 * {@code lora_B} that is all zeros (the adapter would have no effect).
 *
 * <p>Thread safety: stateless; the arrays must not change while they are written.
 */
public final class LoraExporter {
    /** The file name Diffusers looks for ({@code LORA_WEIGHT_NAME_SAFE}). */
    public static final String WEIGHT_NAME = "pytorch_lora_weights.safetensors";

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
            .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS);

    private LoraExporter() {}

    /**
     * Writes a LoRA file.
     *
     * @param file the destination (its folder must exist); written atomically
     * @param layers module name to its matrices (any manager; only read)
     * @param rank r
     * @param alpha lora_alpha the tensors were trained with
     * @param dropout the {@code lora_dropout} the adapter was trained with, in [0, 1)
     * @param options where alpha goes, whether zero {@code lora_B} is allowed
     * @throws LoraException for non-finite values, an all-zero {@code lora_B}, or shapes that do not fit the rank
     * @throws IOException if writing fails
     */
    public static void write(Path file, Map<String, LoraPair> layers, int rank, double alpha, double dropout,
            LoraExportOptions options) throws IOException {
        checkNotNull(file, "file");
        checkNotNull(layers, "layers");
        checkNotNull(options, "options");
        checkArgument(!layers.isEmpty(), "no LoRA layers to write to %s", file);
        checkArgument(rank > 0 && alpha > 0 && Double.isFinite(alpha), "rank %s and alpha %s must be positive", (Object) rank,
                alpha);
        checkArgument(dropout >= 0 && dropout < 1, "lora_dropout must be in [0, 1), got %s", dropout);
        boolean fold = options.alphaHandling() == LoraExportOptions.AlphaHandling.FOLD_INTO_B;
        float foldScale = (float) (alpha / rank);
        List<TensorData> tensors = new ArrayList<>();
        for (Map.Entry<String, LoraPair> e : layers.entrySet()) {
            String module = e.getKey();
            NDArray a = e.getValue().loraA();
            NDArray b = e.getValue().loraB();
            long[] as = a.getShape().getShape();
            long[] bs = b.getShape().getShape();
            if (as.length != 2 || bs.length != 2 || as[0] != rank || bs[1] != rank) {
                throw new LoraException(file + ", module " + module + ": expected lora_A [" + rank + ", in] and "
                        + "lora_B [out, " + rank + "], got " + a.getShape() + " and " + b.getShape());
            }
            float[] av = floats(a);
            float[] bv = floats(b);
            requireFinite(file, LoraKeys.diffusersKey(module, true), av);
            requireFinite(file, LoraKeys.diffusersKey(module, false), bv);
            if (!options.allowZeroB() && allZero(bv)) {
                throw new LoraException(file + ", tensor " + LoraKeys.diffusersKey(module, false) + ": lora_B is all "
                        + "zeros, so the adapter would have no effect (untrained, or the training diverged and was "
                        + "reset); refusing to export it (LoraExportOptions.withAllowZeroB(true) to write it anyway)");
            }
            if (fold) {
                for (int i = 0; i < bv.length; i++) {
                    bv[i] *= foldScale;
                }
            }
            tensors.add(TensorData.f32(LoraKeys.diffusersKey(module, true), as, av));
            tensors.add(TensorData.f32(LoraKeys.diffusersKey(module, false), bs, bv));
        }
        SafetensorsWriter.write(file, tensors, metadata(rank, fold ? rank : alpha, dropout, layers.keySet()));
    }

    /**
     * The header metadata of an exported file.
     *
     * @param rank r
     * @param alpha the lora_alpha to state
     * @param dropout the lora_dropout to state
     * @param modules the full names of the adapted modules (written sorted as {@code target_modules})
     * @return {@code format}, {@code lora_adapter_metadata} and {@code cogvideox4j_provenance}
     */
    public static Map<String, String> metadata(int rank, double alpha, double dropout, Collection<String> modules) {
        Map<String, Object> peft = new TreeMap<>();
        peft.put("transformer.r", rank);
        peft.put("transformer.lora_alpha", alpha == Math.rint(alpha) && Math.abs(alpha) < 1e15 ? (Object) (long) alpha
                : (Object) alpha);
        peft.put("transformer.target_modules", modules.stream().sorted().distinct().toList());
        peft.put("transformer.lora_dropout", dropout);
        peft.put("transformer.rank_pattern", Map.of());
        peft.put("transformer.alpha_pattern", Map.of());
        peft.put("transformer.bias", "none");
        peft.put("transformer.use_rslora", false);
        peft.put("transformer.use_dora", false);
        peft.put("transformer.init_lora_weights", true);
        peft.put("transformer.fan_in_fan_out", false);
        Map<String, Object> provenance = new LinkedHashMap<>();
        Package pkg = LoraExporter.class.getPackage();
        provenance.put("library", "CogVideoX4J " + (pkg.getImplementationVersion() != null
                ? pkg.getImplementationVersion() : "0.1.0-SNAPSHOT"));
        provenance.put("java", System.getProperty("java.version"));
        provenance.put("os", System.getProperty("os.name") + " " + System.getProperty("os.arch"));
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        try {
            meta.put(LoraImporter.DIFFUSERS_METADATA_KEY, JSON.writeValueAsString(peft));
            meta.put("cogvideox4j_provenance", JSON.writeValueAsString(provenance));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("serialising LoRA metadata failed", e);
        }
        return meta;
    }

    private static float[] floats(NDArray a) {
        return a.getDataType() == DataType.FLOAT32 ? a.toFloatArray() : toFloat32(a);
    }

    private static float[] toFloat32(NDArray a) {
        try (NDArray f = a.toType(DataType.FLOAT32, true)) {
            return f.toFloatArray();
        }
    }

    static void requireFinite(Path file, String tensor, float[] v) {
        for (int i = 0; i < v.length; i++) {
            if (!Float.isFinite(v[i])) {
                throw new LoraException(file + ", tensor " + tensor + ": element " + i + " is " + v[i]
                        + "; refusing a LoRA with NaN or infinite values (the training diverged)");
            }
        }
    }

    static boolean allZero(float[] v) {
        for (float x : v) {
            if (x != 0f) {
                return false;
            }
        }
        return true;
    }
}
