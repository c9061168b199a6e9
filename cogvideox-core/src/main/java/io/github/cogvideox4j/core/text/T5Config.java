package io.github.cogvideox4j.core.text;

import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.common.base.Preconditions;
import io.github.cogvideox4j.core.config.ConfigException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The fields of a transformers {@code T5Config} that a T5 v1.1 encoder ({@code T5EncoderModel}) uses.
 *
 * <p>Only the v1.1 form is supported: gated-GELU feed-forward ({@code feed_forward_proj "gated-gelu"},
 * {@code gelu_new}), no biases, RMS layer norm, bidirectional relative position buckets. The released CogVideoX text
 * encoder (google/t5-v1_1-xxl) is {@link #xxl()}.
 *
 * @param vocabSize rows of {@code shared.weight}
 * @param dModel hidden width
 * @param dKv width of one attention head
 * @param dFf feed-forward width
 * @param numLayers encoder blocks
 * @param numHeads attention heads
 * @param relativeAttentionNumBuckets relative position buckets (both directions together)
 * @param relativeAttentionMaxDistance distance at which the log-spaced buckets end
 * @param layerNormEpsilon RMS norm epsilon
 */
public record T5Config(int vocabSize, int dModel, int dKv, int dFf, int numLayers, int numHeads,
        int relativeAttentionNumBuckets, int relativeAttentionMaxDistance, double layerNormEpsilon) {
    private static final ObjectMapper MAPPER = new ObjectMapper();

    /** Validates the sizes. */
    public T5Config {
        Preconditions.checkArgument(vocabSize > 0 && dModel > 0 && dKv > 0 && dFf > 0 && numLayers > 0
                && numHeads > 0, "T5Config sizes must be positive: %s %s %s %s %s %s", vocabSize, dModel, dKv, dFf,
                numLayers, numHeads);
        Preconditions.checkArgument(relativeAttentionNumBuckets >= 4 && relativeAttentionNumBuckets % 4 == 0,
                "relative_attention_num_buckets must be a positive multiple of 4, got %s",
                relativeAttentionNumBuckets);
        Preconditions.checkArgument(relativeAttentionMaxDistance > relativeAttentionNumBuckets / 4,
                "relative_attention_max_distance %s must exceed num_buckets/4", relativeAttentionMaxDistance);
        Preconditions.checkArgument(layerNormEpsilon > 0, "layer_norm_epsilon must be positive");
    }

    /** @return google/t5-v1_1-xxl, the text encoder of every released CogVideoX model (4,762,310,656 parameters) */
    public static T5Config xxl() {
        return new T5Config(32128, 4096, 64, 10240, 24, 64, 32, 128, 1e-6);
    }

    /**
     * @param file a transformers {@code config.json}
     * @return the config
     * @throws IOException if reading fails
     * @throws ConfigException if a field is missing or the model is not a gated-GELU T5 v1.1
     */
    public static T5Config read(Path file) throws IOException {
        try {
            return parse(Files.readString(file));
        } catch (ConfigException e) {
            throw new ConfigException(file + ": " + e.getMessage(), e);
        }
    }

    /**
     * @param json the text of a transformers {@code config.json}
     * @return the config
     * @throws ConfigException if the JSON is malformed, a field is missing or the model is not a gated-GELU T5 v1.1
     */
    public static T5Config parse(String json) {
        JsonNode n;
        try {
            n = MAPPER.readTree(json);
        } catch (IOException e) {
            throw new ConfigException("malformed T5 config JSON: " + e.getMessage(), e);
        }
        String proj = n.path("feed_forward_proj").asText("relu");
        if (!proj.equals("gated-gelu")) {
            throw new ConfigException("feed_forward_proj \"" + proj + "\" is not supported: only T5 v1.1 "
                    + "\"gated-gelu\" (gelu_new) is");
        }
        String act = n.path("dense_act_fn").asText("gelu_new");
        if (!act.equals("gelu_new")) {
            throw new ConfigException("dense_act_fn \"" + act + "\" is not supported: only \"gelu_new\" is");
        }
        return new T5Config(req(n, "vocab_size").asInt(), req(n, "d_model").asInt(), req(n, "d_kv").asInt(),
                req(n, "d_ff").asInt(), req(n, "num_layers").asInt(), req(n, "num_heads").asInt(),
                n.path("relative_attention_num_buckets").asInt(32), n.path("relative_attention_max_distance").asInt(128),
                n.path("layer_norm_epsilon").asDouble(1e-6));
    }

    private static JsonNode req(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || !v.isNumber()) {
            throw new ConfigException("T5 config: missing numeric field \"" + field + "\"");
        }
        return v;
    }

    /** @return {@code numHeads * dKv}, the width of q, k, v */
    public int innerDim() {
        return numHeads * dKv;
    }

    /**
     * The encoder's parameters as transformers names them, with shapes, in load order ({@code shared.weight}
     * first; the tied {@code encoder.embed_tokens.weight} is not listed). Allocates nothing native.
     *
     * @return name → shape, unmodifiable
     */
    public Map<String, Shape> parameterShapes() {
        Map<String, Shape> m = new LinkedHashMap<>();
        m.put("shared.weight", new Shape(vocabSize, dModel));
        for (int i = 0; i < numLayers; i++) {
            String a = "encoder.block." + i + ".layer.0.";
            m.put(a + "layer_norm.weight", new Shape(dModel));
            for (String p : new String[] {"q", "k", "v"}) {
                m.put(a + "SelfAttention." + p + ".weight", new Shape(innerDim(), dModel));
            }
            m.put(a + "SelfAttention.o.weight", new Shape(dModel, innerDim()));
            if (i == 0) {
                m.put(a + "SelfAttention.relative_attention_bias.weight",
                        new Shape(relativeAttentionNumBuckets, numHeads));
            }
            String f = "encoder.block." + i + ".layer.1.";
            m.put(f + "layer_norm.weight", new Shape(dModel));
            m.put(f + "DenseReluDense.wi_0.weight", new Shape(dFf, dModel));
            m.put(f + "DenseReluDense.wi_1.weight", new Shape(dFf, dModel));
            m.put(f + "DenseReluDense.wo.weight", new Shape(dModel, dFf));
        }
        m.put("encoder.final_layer_norm.weight", new Shape(dModel));
        return Collections.unmodifiableMap(m);
    }

    /** @return the number of parameters (tied embedding counted once), computed without allocating */
    public long parameterCount() {
        return parameterShapes().values().stream().mapToLong(Shape::size).sum();
    }
}
