package io.github.cogvideox4j.lora;

import static com.google.common.base.Preconditions.checkNotNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.io.TensorInfo;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Reads LoRA safetensors files of the three layouts in {@link LoraFormat} into {@link LoraFile}s keyed by Diffusers
 * module names (diffusers {@code loaders/lora_pipeline.py}, CogVideo {@code tools/export_sat_lora_weight.py}).
 *
 * <ul>
 *   <li>Diffusers/PEFT: keys {@code transformer.<module>.lora_{A,B}.weight} (also {@code base_model.model.} or no
 *       prefix). Alpha from the {@code lora_adapter_metadata} header entry ({@code transformer.lora_alpha}), else
 *       from a PEFT {@code adapter_config.json} beside an {@code adapter_model.safetensors}, else none (the caller
 *       decides; Diffusers uses alpha = rank).
 *   <li>finetrainers: the same keys with a {@code lora_config} header entry {@code {r, lora_alpha, target_modules}}.
 *   <li>SAT: {@code matrix_A/B} names (see {@link LoraKeys#parseSat}); alpha 1 ({@code lora2.py}'s default).
 * </ul>
 *
 * <p>Refused, with the file and tensor named: any key that is not a LoRA matrix of one of these layouts (including
 * DoRA {@code dora_scale}, LoRA biases, alpha tensors), a module with only one of its two matrices, non-2-D or
 * mismatched shapes, ranks that differ between layers, metadata whose rank disagrees with the tensors, and
 * metadata asking for rsLoRA, DoRA or per-module rank/alpha patterns. Values are not checked here (so that
 * {@code lora inspect} can report NaN); {@link LoraAdapter} checks them when it loads a file.
 *
 * <p>Thread safety: stateless.
 */
public final class LoraImporter {
    /** Header key of Diffusers' adapter metadata. */
    public static final String DIFFUSERS_METADATA_KEY = "lora_adapter_metadata";
    /** Header key of finetrainers' LoRA config. */
    public static final String FINETRAINERS_METADATA_KEY = "lora_config";

    private static final ObjectMapper JSON = new ObjectMapper();

    private LoraImporter() {}

    /**
     * Reads a LoRA file.
     *
     * @param file a {@code .safetensors} LoRA file
     * @param manager owns the returned arrays (FLOAT32, widened from F16/BF16 exactly)
     * @return the file's content
     * @throws LoraException if the file is not a LoRA file of a known layout (see the class comment)
     * @throws IOException if it cannot be read
     */
    public static LoraFile read(Path file, NDManager manager) throws IOException {
        checkNotNull(file, "file");
        checkNotNull(manager, "manager");
        try (SafetensorsReader reader = SafetensorsReader.open(file)) {
            Map<String, String> metadata = reader.metadata();
            boolean sat = reader.names().stream().anyMatch(LoraKeys::looksLikeSat);
            LoraFormat format = sat ? LoraFormat.SAT
                    : metadata.containsKey(FINETRAINERS_METADATA_KEY) && !metadata.containsKey(DIFFUSERS_METADATA_KEY)
                            ? LoraFormat.FINETRAINERS : LoraFormat.DIFFUSERS_PEFT;

            // 1. Key -> (module, A or B); anything else is refused.
            Map<String, String[]> keysByModule = new LinkedHashMap<>();
            List<String> unknown = new ArrayList<>();
            for (String key : reader.names()) {
                Optional<LoraKeys.Slot> slot = sat ? LoraKeys.parseSat(key) : LoraKeys.parsePeft(key);
                if (slot.isEmpty()) {
                    unknown.add(key);
                    continue;
                }
                String[] ab = keysByModule.computeIfAbsent(slot.get().module(), m -> new String[2]);
                ab[slot.get().isA() ? 0 : 1] = key;
            }
            if (!unknown.isEmpty()) {
                boolean dora = unknown.stream().anyMatch(k -> k.contains("dora_scale") || k.contains("magnitude"));
                throw new LoraException(file + ": " + unknown.size() + " tensor(s) are not LoRA matrices of the "
                        + format + " layout" + (dora ? " (DoRA magnitude vectors: DoRA adapters are not supported)"
                        : "") + ": " + sample(unknown) + "; expected " + (sat
                        ? "[model.diffusion_model.]transformer.layers.<i>.attention.{query_key_value,dense}.matrix_{A,B}.<p>"
                        : "transformer.<module>.lora_{A,B}.weight"));
            }
            if (keysByModule.isEmpty()) {
                throw new LoraException(file + ": holds no LoRA tensors");
            }

            // 2. Shapes: A [r, in], B [out, r], one rank for all.
            int rank = -1;
            for (Map.Entry<String, String[]> e : keysByModule.entrySet()) {
                String[] ab = e.getValue();
                for (int i = 0; i < 2; i++) {
                    if (ab[i] == null) {
                        throw new LoraException(file + ": module " + e.getKey() + " has " + ab[1 - i] + " but no lora_"
                                + (i == 0 ? "A" : "B") + " tensor");
                    }
                }
                TensorInfo a = reader.info(ab[0]);
                TensorInfo b = reader.info(ab[1]);
                if (!a.dtype().isFloatingPoint() || !b.dtype().isFloatingPoint()) {
                    throw new LoraException(file + ", tensor " + (a.dtype().isFloatingPoint() ? ab[1] : ab[0])
                            + ": LoRA matrices must be floating point, got " + a.dtype() + "/" + b.dtype());
                }
                if (a.shape().length != 2 || b.shape().length != 2 || a.shape()[0] != b.shape()[1]) {
                    throw new LoraException(file + ", module " + e.getKey() + ": expected lora_A [r, in] and lora_B "
                            + "[out, r], got " + ab[0] + " " + a.djlShape() + " and " + ab[1] + " " + b.djlShape());
                }
                int r = (int) a.shape()[0];
                if (rank < 0) {
                    rank = r;
                } else if (r != rank) {
                    throw new LoraException(file + ", tensor " + ab[0] + ": rank " + r + " differs from the rank "
                            + rank + " of the other layers (per-module ranks are not supported)");
                }
            }

            // 3. Alpha and targets from the layout's metadata.
            Double alpha = null;
            double dropout = 0.0;
            List<String> targets = List.of();
            if (format == LoraFormat.SAT) {
                alpha = 1.0;
            } else {
                JsonNode config = null;
                String source = null;
                if (metadata.containsKey(DIFFUSERS_METADATA_KEY)) {
                    config = stripPrefix(parseJson(file, DIFFUSERS_METADATA_KEY, metadata.get(DIFFUSERS_METADATA_KEY)));
                    source = "metadata " + DIFFUSERS_METADATA_KEY;
                } else if (metadata.containsKey(FINETRAINERS_METADATA_KEY)) {
                    config = parseJson(file, FINETRAINERS_METADATA_KEY, metadata.get(FINETRAINERS_METADATA_KEY));
                    source = "metadata " + FINETRAINERS_METADATA_KEY;
                } else {
                    Path adapterConfig = file.toAbsolutePath().resolveSibling("adapter_config.json");
                    if (file.getFileName().toString().equals("adapter_model.safetensors")
                            && Files.isRegularFile(adapterConfig)) {
                        config = parseJson(adapterConfig, "adapter_config.json",
                                Files.readString(adapterConfig));
                        source = adapterConfig.toString();
                    }
                }
                if (config != null) {
                    alpha = checkConfig(file, source, config, rank);
                    dropout = dropoutOf(file, source, config);
                    targets = targetsOf(config.get("target_modules"));
                }
            }

            // 4. Tensors.
            Map<String, LoraPair> layers = new LinkedHashMap<>();
            for (Map.Entry<String, String[]> e : keysByModule.entrySet()) {
                NDArray a = reader.read(e.getValue()[0], manager, DataType.FLOAT32);
                NDArray b = reader.read(e.getValue()[1], manager, DataType.FLOAT32);
                layers.put(e.getKey(), new LoraPair(a, b));
            }
            return new LoraFile(file, format, rank, alpha, dropout, targets, layers);
        }
    }

    private static Double checkConfig(Path file, String source, JsonNode config, int rank) {
        JsonNode r = config.get("r");
        if (r != null && r.isNumber() && r.asInt() != rank) {
            throw new LoraException(file + ": " + source + " says r = " + r.asInt() + ", but the tensors have rank "
                    + rank);
        }
        for (String flag : new String[] {"use_dora", "use_rslora"}) {
            JsonNode f = config.get(flag);
            if (f != null && f.asBoolean(false)) {
                throw new LoraException(file + ": " + source + " sets " + flag + " = true, which is not supported "
                        + "(plain LoRA only)");
            }
        }
        for (String pattern : new String[] {"rank_pattern", "alpha_pattern"}) {
            JsonNode p = config.get(pattern);
            if (p != null && p.isObject() && p.size() > 0) {
                throw new LoraException(file + ": " + source + " has a non-empty " + pattern + " (per-module ranks or "
                        + "alphas are not supported)");
            }
        }
        JsonNode alpha = config.get("lora_alpha");
        if (alpha == null || alpha.isNull()) {
            return null;
        }
        if (!alpha.isNumber() || !(alpha.asDouble() > 0)) {
            throw new LoraException(file + ": " + source + " has lora_alpha = " + alpha + ", expected a positive number");
        }
        return alpha.asDouble();
    }

    private static double dropoutOf(Path file, String source, JsonNode config) {
        JsonNode d = config.get("lora_dropout");
        if (d == null || d.isNull()) {
            return 0.0;
        }
        if (!d.isNumber() || !(d.asDouble() >= 0 && d.asDouble() < 1)) {
            throw new LoraException(file + ": " + source + " has lora_dropout = " + d
                    + ", expected a number in [0, 1)");
        }
        return d.asDouble();
    }

    private static List<String> targetsOf(JsonNode node) {
        if (node == null || node.isNull()) {
            return List.of();
        }
        if (node.isTextual()) {
            return List.of(node.asText());
        }
        List<String> out = new ArrayList<>();
        if (node.isArray()) {
            node.forEach(n -> out.add(n.asText()));
        }
        return out;
    }

    private static JsonNode parseJson(Path file, String what, String text) {
        try {
            JsonNode node = JSON.readTree(text);
            if (node == null || !node.isObject()) {
                throw new LoraException(file + ": " + what + " is not a JSON object: " + abbreviate(text));
            }
            return node;
        } catch (IOException e) {
            throw new LoraException(file + ": " + what + " is not valid JSON (" + e.getMessage() + "): "
                    + abbreviate(text), e);
        }
    }

    /** Diffusers prefixes every field with the component name ({@code transformer.r}); drop it. */
    private static JsonNode stripPrefix(JsonNode node) {
        com.fasterxml.jackson.databind.node.ObjectNode out = JSON.createObjectNode();
        Iterator<Map.Entry<String, JsonNode>> it = node.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            String k = e.getKey().startsWith(LoraKeys.TRANSFORMER_PREFIX)
                    ? e.getKey().substring(LoraKeys.TRANSFORMER_PREFIX.length()) : e.getKey();
            out.set(k, e.getValue());
        }
        return out;
    }

    private static String abbreviate(String s) {
        return s.length() > 200 ? s.substring(0, 200) + "..." : s;
    }

    static String sample(List<String> names) {
        return names.size() <= 5 ? names.toString() : names.subList(0, 5) + " and " + (names.size() - 5) + " more";
    }
}
