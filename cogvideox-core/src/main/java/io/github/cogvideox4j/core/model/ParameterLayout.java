package io.github.cogvideox4j.core.model;

import ai.djl.ndarray.types.Shape;
import com.google.common.base.Preconditions;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/**
 * Names and shapes of every tensor a diffusers {@code CogVideoXTransformer3DModel} {@code state_dict} holds for
 * a config, in diffusers' {@code state_dict} order, computed from the config alone: no tensor is allocated and no
 * engine is needed, so the layout of a 5-billion-parameter model costs a few kilobytes.
 *
 * <p>The order is PyTorch's: a module's own parameters, then its persistent buffers, then its children in
 * registration order. For a config with {@code D = num_attention_heads * attention_head_dim},
 * {@code T = time_embed_dim}, {@code hd = attention_head_dim}:
 * <ol>
 *   <li>{@code patch_embed.pos_embedding} {@code [1, max_text_seq_length + N, D]}, a persistent buffer, only with
 *       {@code use_learned_positional_embeddings}; {@code N = (sample_height/p)(sample_width/p)
 *       ((sample_frames-1)/temporal_compression_ratio + 1)}, which is what diffusers' {@code CogVideoXPatchEmbed}
 *       allocates (it does not divide the frames by {@code patch_size_t}). The 2B sincos table is a
 *       non-persistent buffer and is not listed.</li>
 *   <li>{@code patch_embed.proj}: 1.0 Conv2d weight {@code [D, C_in, p, p]}, bias {@code [D]} only with
 *       {@code patch_bias}; 1.5 Linear weight {@code [D, C_in p p p_t]}, bias always.
 *       {@code patch_embed.text_proj} {@code [D, text_embed_dim]} + bias.</li>
 *   <li>{@code time_embedding.linear_1} {@code [T, D]}, {@code linear_2} {@code [T, T]}, both with bias; then
 *       {@code ofs_embedding.linear_1/linear_2} {@code [O, O]} with bias when {@code ofs_embed_dim = O} is set.</li>
 *   <li>Per block {@code transformer_blocks.i.}: {@code norm1.linear} {@code [6D, T]} + bias, {@code norm1.norm}
 *       {@code [D]} weight and bias only with {@code norm_elementwise_affine}; {@code attn1.norm_q},
 *       {@code attn1.norm_k} {@code [hd]} weight and bias always; {@code attn1.to_q/to_k/to_v} {@code [D, D]} with
 *       bias only with {@code attention_bias}; {@code attn1.to_out.0} {@code [D, D]} + bias always;
 *       {@code norm2} as {@code norm1}; {@code ff.net.0.proj} {@code [4D, D]} + bias; {@code ff.net.2}
 *       {@code [D, 4D]} + bias.</li>
 *   <li>{@code norm_final} {@code [D]} (affine only), {@code norm_out.linear} {@code [2D, T]} + bias,
 *       {@code norm_out.norm} {@code [D]} (affine only), {@code proj_out} {@code [p p (p_t or 1) C_out, D]} + bias.</li>
 * </ol>
 *
 * <p>Thread safety: immutable, safe to share.
 */
public final class ParameterLayout {
    private final Map<String, Shape> shapes;
    private final Set<String> buffers;
    private final long totalElements;
    private final long parameterElements;

    private ParameterLayout(Map<String, Shape> shapes, Set<String> buffers) {
        this.shapes = Collections.unmodifiableMap(shapes);
        this.buffers = Collections.unmodifiableSet(buffers);
        long total = 0;
        long params = 0;
        for (Map.Entry<String, Shape> e : shapes.entrySet()) {
            long n = e.getValue().size();
            total += n;
            if (!buffers.contains(e.getKey())) {
                params += n;
            }
        }
        this.totalElements = total;
        this.parameterElements = params;
    }

    /**
     * Computes the layout of a config.
     *
     * @param config the transformer config
     * @return its tensor names and shapes in diffusers' {@code state_dict} order
     * @throws NullPointerException if {@code config} is null
     */
    public static ParameterLayout of(CogVideoXConfig config) {
        Preconditions.checkNotNull(config, "config");
        Builder b = new Builder();
        int d = config.innerDim();
        int t = config.timeEmbedDim();
        int p = config.patchSize();
        Integer pt = config.patchSizeT();
        boolean affine = config.normElementwiseAffine();

        if (config.useLearnedPositionalEmbeddings()) {
            long videoTokens = (long) (config.sampleHeight() / p) * (config.sampleWidth() / p)
                    * config.sampleLatentFrames();
            b.buffer("patch_embed.pos_embedding", 1, config.maxTextSeqLength() + videoTokens, d);
        }
        if (pt == null) {
            b.param("patch_embed.proj.weight", d, config.inChannels(), p, p);
            if (config.patchBias()) {
                b.param("patch_embed.proj.bias", d);
            }
        } else {
            b.linear("patch_embed.proj", (long) config.inChannels() * p * p * pt, d, true);
        }
        b.linear("patch_embed.text_proj", config.textEmbedDim(), d, true);

        b.linear("time_embedding.linear_1", d, t, true);
        b.linear("time_embedding.linear_2", t, t, true);
        Integer ofs = config.ofsEmbedDim();
        if (ofs != null && ofs != 0) { // diffusers: `if ofs_embed_dim:`
            b.linear("ofs_embedding.linear_1", ofs, ofs, true);
            b.linear("ofs_embedding.linear_2", ofs, ofs, true);
        }

        for (int i = 0; i < config.numLayers(); i++) {
            String block = "transformer_blocks." + i + ".";
            b.linear(block + "norm1.linear", t, 6L * d, true);
            b.layerNorm(block + "norm1.norm", d, affine);
            b.layerNorm(block + "attn1.norm_q", config.attentionHeadDim(), true);
            b.layerNorm(block + "attn1.norm_k", config.attentionHeadDim(), true);
            b.linear(block + "attn1.to_q", d, d, config.attentionBias());
            b.linear(block + "attn1.to_k", d, d, config.attentionBias());
            b.linear(block + "attn1.to_v", d, d, config.attentionBias());
            b.linear(block + "attn1.to_out.0", d, d, true);
            b.linear(block + "norm2.linear", t, 6L * d, true);
            b.layerNorm(block + "norm2.norm", d, affine);
            b.linear(block + "ff.net.0.proj", d, 4L * d, true);
            b.linear(block + "ff.net.2", 4L * d, d, true);
        }

        b.layerNorm("norm_final", d, affine);
        b.linear("norm_out.linear", t, 2L * d, true);
        b.layerNorm("norm_out.norm", d, affine);
        long patchVolume = (long) p * p * (pt == null ? 1 : pt);
        b.linear("proj_out", d, patchVolume * config.outChannels(), true);
        return new ParameterLayout(b.shapes, b.buffers);
    }

    /**
     * @return every tensor name mapped to its shape, in {@code state_dict} order (unmodifiable); shapes use
     *     PyTorch's conventions (Linear weights {@code [out, in]})
     */
    public Map<String, Shape> shapes() {
        return shapes;
    }

    /**
     * @return the names of the persistent buffers that are not {@code nn.Parameter}s (only
     *     {@code patch_embed.pos_embedding} of learned-position models), unmodifiable; they are part of
     *     {@link #shapes()} and of the weight files, but are never trained
     */
    public Set<String> buffers() {
        return buffers;
    }

    /** @return the element count of the whole {@code state_dict}: parameters plus persistent buffers */
    public long totalElements() {
        return totalElements;
    }

    /** @return the element count of the {@code nn.Parameter}s only */
    public long parameterElements() {
        return parameterElements;
    }

    @Override
    public String toString() {
        return "ParameterLayout[" + shapes.size() + " tensors, " + parameterElements + " parameter elements, "
                + totalElements + " in state_dict]";
    }

    /** Collects entries in registration order. */
    private static final class Builder {
        final Map<String, Shape> shapes = new LinkedHashMap<>();
        final Set<String> buffers = new LinkedHashSet<>();

        void param(String name, long... dims) {
            Shape previous = shapes.put(name, new Shape(dims));
            if (previous != null) {
                throw new IllegalStateException("duplicate tensor name " + name);
            }
        }

        void buffer(String name, long... dims) {
            param(name, dims);
            buffers.add(name);
        }

        /** {@code nn.Linear(in, out, bias)}: weight {@code [out, in]}, then bias {@code [out]}. */
        void linear(String prefix, long in, long out, boolean bias) {
            param(prefix + ".weight", out, in);
            if (bias) {
                param(prefix + ".bias", out);
            }
        }

        /** {@code nn.LayerNorm(dim, elementwise_affine=affine)}: weight then bias, or nothing. */
        void layerNorm(String prefix, long dim, boolean affine) {
            if (affine) {
                param(prefix + ".weight", dim);
                param(prefix + ".bias", dim);
            }
        }
    }
}
