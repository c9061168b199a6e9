package io.github.cogvideox4j.core.config;

import com.fasterxml.jackson.annotation.JsonAutoDetect;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The configuration of a {@code CogVideoXTransformer3DModel}, as Diffusers writes it to
 * {@code transformer/config.json}. Component names follow the JSON keys; a key absent from the file takes
 * the Diffusers class default (files written by diffusers 0.30-0.32 omit {@code patch_size_t},
 * {@code ofs_embed_dim}, {@code patch_bias}, {@code use_learned_positional_embeddings}, and the first
 * CogVideoX-2b file even {@code use_rotary_positional_embeddings}). {@code _class_name},
 * {@code _diffusers_version} and unknown keys are ignored.
 *
 * <p>Validation happens in the compact constructor: every size positive, the head dimension splittable
 * into the RoPE's t/h/w parts, OFS width equal to the time-embedding width, learned positions only together
 * with RoPE (as diffusers' constructor demands), only the activations the
 * released models use.
 *
 * <p>Thread safety: immutable, safe to share.
 *
 * @param numAttentionHeads {@code num_attention_heads}
 * @param attentionHeadDim {@code attention_head_dim}
 * @param inChannels {@code in_channels} (twice {@code out_channels} for image-to-video)
 * @param outChannels {@code out_channels}
 * @param flipSinToCos {@code flip_sin_to_cos} (timestep sinusoid as [cos | sin])
 * @param freqShift {@code freq_shift}
 * @param timeEmbedDim {@code time_embed_dim}
 * @param ofsEmbedDim {@code ofs_embed_dim}, {@code null} unless the model has an OFS embedding (1.5-I2V)
 * @param textEmbedDim {@code text_embed_dim}
 * @param numLayers {@code num_layers}
 * @param dropout {@code dropout} (only 0 is supported)
 * @param attentionBias {@code attention_bias}
 * @param sampleWidth {@code sample_width} in latent pixels
 * @param sampleHeight {@code sample_height} in latent pixels
 * @param sampleFrames {@code sample_frames} in pixel frames
 * @param patchSize {@code patch_size}
 * @param patchSizeT {@code patch_size_t}, {@code null} for the 1.0 models
 * @param temporalCompressionRatio {@code temporal_compression_ratio}
 * @param maxTextSeqLength {@code max_text_seq_length}
 * @param activationFn {@code activation_fn} (only {@code gelu-approximate})
 * @param timestepActivationFn {@code timestep_activation_fn} (only {@code silu})
 * @param normElementwiseAffine {@code norm_elementwise_affine}
 * @param normEps {@code norm_eps}
 * @param spatialInterpolationScale {@code spatial_interpolation_scale}
 * @param temporalInterpolationScale {@code temporal_interpolation_scale}
 * @param useRotaryPositionalEmbeddings {@code use_rotary_positional_embeddings}
 * @param useLearnedPositionalEmbeddings {@code use_learned_positional_embeddings}
 * @param patchBias {@code patch_bias} (affects only the 1.0 Conv2d patch projection)
 */
@JsonInclude(JsonInclude.Include.ALWAYS)
// Only the annotated components are config keys; derived methods such as isImageToVideo() must not be written.
@JsonAutoDetect(getterVisibility = JsonAutoDetect.Visibility.NONE,
        isGetterVisibility = JsonAutoDetect.Visibility.NONE)
@JsonPropertyOrder(alphabetic = true)
public record CogVideoXConfig(
        @JsonProperty("num_attention_heads") int numAttentionHeads,
        @JsonProperty("attention_head_dim") int attentionHeadDim,
        @JsonProperty("in_channels") int inChannels,
        @JsonProperty("out_channels") int outChannels,
        @JsonProperty("flip_sin_to_cos") boolean flipSinToCos,
        @JsonProperty("freq_shift") int freqShift,
        @JsonProperty("time_embed_dim") int timeEmbedDim,
        @JsonProperty("ofs_embed_dim") Integer ofsEmbedDim,
        @JsonProperty("text_embed_dim") int textEmbedDim,
        @JsonProperty("num_layers") int numLayers,
        @JsonProperty("dropout") double dropout,
        @JsonProperty("attention_bias") boolean attentionBias,
        @JsonProperty("sample_width") int sampleWidth,
        @JsonProperty("sample_height") int sampleHeight,
        @JsonProperty("sample_frames") int sampleFrames,
        @JsonProperty("patch_size") int patchSize,
        @JsonProperty("patch_size_t") Integer patchSizeT,
        @JsonProperty("temporal_compression_ratio") int temporalCompressionRatio,
        @JsonProperty("max_text_seq_length") int maxTextSeqLength,
        @JsonProperty("activation_fn") String activationFn,
        @JsonProperty("timestep_activation_fn") String timestepActivationFn,
        @JsonProperty("norm_elementwise_affine") boolean normElementwiseAffine,
        @JsonProperty("norm_eps") double normEps,
        @JsonProperty("spatial_interpolation_scale") double spatialInterpolationScale,
        @JsonProperty("temporal_interpolation_scale") double temporalInterpolationScale,
        @JsonProperty("use_rotary_positional_embeddings") boolean useRotaryPositionalEmbeddings,
        @JsonProperty("use_learned_positional_embeddings") boolean useLearnedPositionalEmbeddings,
        @JsonProperty("patch_bias") boolean patchBias) {

    private static final ObjectMapper MAPPER =
            new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** Validates every value; see the type documentation. */
    public CogVideoXConfig {
        positive("num_attention_heads", numAttentionHeads);
        positive("attention_head_dim", attentionHeadDim);
        positive("in_channels", inChannels);
        positive("out_channels", outChannels);
        positive("time_embed_dim", timeEmbedDim);
        positive("text_embed_dim", textEmbedDim);
        positive("num_layers", numLayers);
        positive("sample_width", sampleWidth);
        positive("sample_height", sampleHeight);
        positive("sample_frames", sampleFrames);
        positive("patch_size", patchSize);
        positive("temporal_compression_ratio", temporalCompressionRatio);
        positive("max_text_seq_length", maxTextSeqLength);
        if (patchSizeT != null) {
            positive("patch_size_t", patchSizeT);
        }
        if ((numAttentionHeads * attentionHeadDim) % 2 != 0) {
            throw new ConfigException("inner dim num_attention_heads * attention_head_dim must be even for the "
                    + "timestep sinusoid, got " + numAttentionHeads * attentionHeadDim);
        }
        if (timeEmbedDim % 2 != 0) {
            throw new ConfigException("time_embed_dim must be even, got " + timeEmbedDim);
        }
        if (useRotaryPositionalEmbeddings && attentionHeadDim % 16 != 0) {
            // t = hd/4, h = w = 3hd/8: each must hold whole (real, imag) pairs
            throw new ConfigException("attention_head_dim must be a multiple of 16 for the 3D RoPE split "
                    + "[t: hd/4 | h: 3hd/8 | w: 3hd/8], got " + attentionHeadDim);
        }
        int inner = numAttentionHeads * attentionHeadDim;
        if ((!useRotaryPositionalEmbeddings || useLearnedPositionalEmbeddings) && inner % 16 != 0) {
            throw new ConfigException("inner dim must be a multiple of 16 for the 3D sincos table, got " + inner);
        }
        if (useLearnedPositionalEmbeddings && !useRotaryPositionalEmbeddings) {
            // diffusers' constructor raises the same ValueError: no checkpoint has this combination
            throw new ConfigException("use_learned_positional_embeddings = true requires "
                    + "use_rotary_positional_embeddings = true (no CogVideoX checkpoint has learned positions without "
                    + "RoPE; diffusers rejects it too)");
        }
        if (ofsEmbedDim != null && ofsEmbedDim != timeEmbedDim) {
            throw new ConfigException("ofs_embed_dim must equal time_embed_dim (the OFS embedding is added to the "
                    + "time embedding): expected " + timeEmbedDim + ", got " + ofsEmbedDim);
        }
        if (ofsEmbedDim != null && ofsEmbedDim % 2 != 0) {
            throw new ConfigException("ofs_embed_dim must be even, got " + ofsEmbedDim);
        }
        if (!"gelu-approximate".equals(activationFn)) {
            throw new ConfigException("activation_fn: only \"gelu-approximate\" (the released models) is supported, got \""
                    + activationFn + "\"");
        }
        if (!"silu".equals(timestepActivationFn)) {
            throw new ConfigException("timestep_activation_fn: only \"silu\" (the released models) is supported, got \""
                    + timestepActivationFn + "\"");
        }
        if (dropout != 0.0) {
            throw new ConfigException("dropout: only 0.0 (the released models) is supported, got " + dropout);
        }
        if (!(normEps > 0)) {
            throw new ConfigException("norm_eps must be positive, got " + normEps);
        }
    }

    private static void positive(String key, int value) {
        if (value <= 0) {
            throw new ConfigException(key + " must be positive, got " + value);
        }
    }

    /** @return {@code num_attention_heads * attention_head_dim}, the model width D */
    public int innerDim() {
        return numAttentionHeads * attentionHeadDim;
    }

    /** @return the released model family this config belongs to, from its structure (never channel counts) */
    public CogVideoXVariant variant() {
        return CogVideoXVariant.of(this);
    }

    /** @return whether the input carries image latents next to the noisy latents ({@code in = 2 x out}) */
    public boolean isImageToVideo() {
        return inChannels == 2 * outChannels;
    }

    /** @return whether an additive 3D sincos or learned positional table is added after patch embedding */
    public boolean usesPositionalTable() {
        return !useRotaryPositionalEmbeddings || useLearnedPositionalEmbeddings;
    }

    /** @return latent frames of the trained sample size: {@code (sample_frames - 1) / ratio + 1} */
    public int sampleLatentFrames() {
        return (sampleFrames - 1) / temporalCompressionRatio + 1;
    }

    /** @return the number of video tokens at the trained sample size (before any temporal padding) */
    public int sampleVideoTokens() {
        int pt = patchSizeT == null ? 1 : patchSizeT;
        return ((sampleLatentFrames() + pt - 1) / pt) * (sampleHeight / patchSize) * (sampleWidth / patchSize);
    }

    /**
     * The transformer config of a released model, as the Diffusers conversion script writes it
     * (diffusers {@code scripts/convert_cogvideox_to_diffusers.py}): for
     * shape arithmetic and random-weight tests at the real size.
     *
     * @param variant the release
     * @return its config
     */
    public static CogVideoXConfig released(CogVideoXVariant variant) {
        boolean v15 = variant.isVersion15();
        boolean i2v = variant.isImageToVideo();
        boolean is2b = variant == CogVideoXVariant.COGVIDEOX_2B;
        return new CogVideoXConfig(is2b ? 30 : 48, 64, i2v ? 32 : 16, 16, true, 0, 512,
                variant == CogVideoXVariant.COGVIDEOX_1_5_5B_I2V ? 512 : null, 4096, is2b ? 30 : 42, 0.0, true,
                v15 ? 300 : 90, v15 ? 300 : 60, v15 ? 81 : 49, 2, v15 ? 2 : null, 4, 226, "gelu-approximate", "silu",
                true, 1e-5, 1.875, 1.0, !is2b, variant == CogVideoXVariant.COGVIDEOX_5B_I2V, !v15);
    }

    /**
     * A tiny config with the structure of a release (2 layers, 2 heads of 16, widths 32, 8 text tokens, 4 latent
     * channels): for demos and tests. 1.0 sample size 8x12 latent, 9 pixel frames (3 latent); 1.5 sample size
     * 20x20 latent (a 10x10 RoPE slice grid), 13 pixel frames (4 latent).
     *
     * @param variant the release whose structure to copy
     * @return the tiny config
     */
    public static CogVideoXConfig tiny(CogVideoXVariant variant) {
        boolean v15 = variant.isVersion15();
        boolean i2v = variant.isImageToVideo();
        boolean is2b = variant == CogVideoXVariant.COGVIDEOX_2B;
        return new CogVideoXConfig(2, 16, i2v ? 8 : 4, 4, true, 0, 32,
                variant == CogVideoXVariant.COGVIDEOX_1_5_5B_I2V ? 32 : null, 32, 2, 0.0, true, v15 ? 20 : 12,
                v15 ? 20 : 8, v15 ? 13 : 9, 2, v15 ? 2 : null, 4, 8, "gelu-approximate", "silu", true, 1e-5, 1.875,
                1.0, !is2b, variant == CogVideoXVariant.COGVIDEOX_5B_I2V, !v15);
    }

    /**
     * Reads a {@code config.json}. Missing keys take the Diffusers class defaults; unknown keys are ignored.
     *
     * @param file the config file
     * @return the validated config
     * @throws IOException if the file cannot be read
     * @throws ConfigException if it is not valid JSON or a value is invalid (the message names the file)
     */
    public static CogVideoXConfig read(Path file) throws IOException {
        JsonNode root;
        try {
            root = MAPPER.readTree(Files.readAllBytes(file));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new ConfigException(file + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
        try {
            return fromJson(root);
        } catch (ConfigException e) {
            throw new ConfigException(file + ": " + e.getMessage(), e);
        }
    }

    /**
     * A config given on a command line: a {@code config.json} file (or a folder holding one) if the path exists,
     * else the name of a release ({@link CogVideoXVariant#parse}), whose {@link #released} config is returned.
     *
     * @param fileOrVariant a path or a release name such as {@code CogVideoX-5b}
     * @return the config
     * @throws IOException if the file cannot be read
     * @throws ConfigException if the file is invalid, or the text is neither an existing path nor a release name
     */
    public static CogVideoXConfig fromFileOrVariant(String fileOrVariant) throws IOException {
        java.util.Objects.requireNonNull(fileOrVariant, "fileOrVariant");
        Path path = Path.of(fileOrVariant);
        if (Files.isDirectory(path)) {
            path = path.resolve("config.json");
        }
        if (Files.isRegularFile(path)) {
            return read(path);
        }
        try {
            return released(CogVideoXVariant.parse(fileOrVariant));
        } catch (ConfigException e) {
            throw new ConfigException("'" + fileOrVariant + "' is neither an existing config.json nor a "
                    + "release: " + e.getMessage(), e);
        }
    }

    /**
     * This config with another depth: the same stem, head and block shapes, {@code numLayers} blocks. For models built
     * from a few real-size blocks (memory and speed measurements) and for tests.
     *
     * @param numLayers {@code num_layers}, at least 1
     * @return the validated config
     * @throws ConfigException if {@code numLayers < 1}
     */
    public CogVideoXConfig withNumLayers(int numLayers) {
        try {
            var node = (com.fasterxml.jackson.databind.node.ObjectNode) MAPPER.readTree(toJson());
            node.put("num_layers", numLayers);
            return fromJson(node);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException("this config's JSON did not parse back", e);
        }
    }

    /**
     * Parses a config from JSON text (see {@link #read(Path)}).
     *
     * @param json the JSON object
     * @return the validated config
     */
    public static CogVideoXConfig parse(String json) {
        try {
            return fromJson(MAPPER.readTree(json));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new ConfigException("not valid JSON: " + e.getOriginalMessage(), e);
        }
    }

    private static CogVideoXConfig fromJson(JsonNode n) {
        if (n == null || !n.isObject()) {
            throw new ConfigException("expected a JSON object");
        }
        Json j = new Json(n);
        return new CogVideoXConfig(
                j.i("num_attention_heads", 30),
                j.i("attention_head_dim", 64),
                j.i("in_channels", 16),
                j.i("out_channels", 16),
                j.b("flip_sin_to_cos", true),
                j.i("freq_shift", 0),
                j.i("time_embed_dim", 512),
                j.iOrNull("ofs_embed_dim"),
                j.i("text_embed_dim", 4096),
                j.i("num_layers", 30),
                j.d("dropout", 0.0),
                j.b("attention_bias", true),
                j.i("sample_width", 90),
                j.i("sample_height", 60),
                j.i("sample_frames", 49),
                j.i("patch_size", 2),
                j.iOrNull("patch_size_t"),
                j.i("temporal_compression_ratio", 4),
                j.i("max_text_seq_length", 226),
                j.s("activation_fn", "gelu-approximate"),
                j.s("timestep_activation_fn", "silu"),
                j.b("norm_elementwise_affine", true),
                j.d("norm_eps", 1e-5),
                j.d("spatial_interpolation_scale", 1.875),
                j.d("temporal_interpolation_scale", 1.0),
                j.b("use_rotary_positional_embeddings", false),
                j.b("use_learned_positional_embeddings", false),
                j.b("patch_bias", true));
    }

    /**
     * @return this config as {@code config.json} text: {@code _class_name} first, then every key in
     *     alphabetical order as diffusers writes them ({@code null} for an absent {@code ofs_embed_dim} or
     *     {@code patch_size_t}); no {@code _diffusers_version}
     */
    public String toJson() {
        try {
            var node = MAPPER.createObjectNode();
            node.put("_class_name", "CogVideoXTransformer3DModel");
            node.setAll((com.fasterxml.jackson.databind.node.ObjectNode) MAPPER.valueToTree(this));
            return MAPPER.writeValueAsString(node);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Typed, defaulting access to JSON keys with messages that name the key. */
    private record Json(JsonNode n) {
        JsonNode get(String key) {
            JsonNode v = n.get(key);
            return v == null || v.isNull() ? null : v;
        }

        int i(String key, int def) {
            JsonNode v = get(key);
            if (v == null) {
                return def;
            }
            if (!v.isIntegralNumber() || !v.canConvertToInt()) {
                throw new ConfigException(key + ": expected an integer, got " + v);
            }
            return v.intValue();
        }

        Integer iOrNull(String key) {
            return get(key) == null ? null : i(key, 0);
        }

        double d(String key, double def) {
            JsonNode v = get(key);
            if (v == null) {
                return def;
            }
            if (!v.isNumber()) {
                throw new ConfigException(key + ": expected a number, got " + v);
            }
            return v.doubleValue();
        }

        boolean b(String key, boolean def) {
            JsonNode v = get(key);
            if (v == null) {
                return def;
            }
            if (!v.isBoolean()) {
                throw new ConfigException(key + ": expected true or false, got " + v);
            }
            return v.booleanValue();
        }

        String s(String key, String def) {
            JsonNode v = get(key);
            if (v == null) {
                return def;
            }
            if (!v.isTextual()) {
                throw new ConfigException(key + ": expected a string, got " + v);
            }
            return v.textValue();
        }
    }
}
