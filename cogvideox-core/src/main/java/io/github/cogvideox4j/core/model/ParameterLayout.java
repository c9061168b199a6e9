package io.github.cogvideox4j.core.model;

import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** TEMPORARY stub (replaced by the layout branch). */
public final class ParameterLayout {
    private final Map<String, Shape> shapes = new LinkedHashMap<>();
    private final Set<String> buffers = new java.util.HashSet<>();

    public static ParameterLayout of(CogVideoXConfig c) {
        ParameterLayout l = new ParameterLayout();
        long d = c.innerDim(), p = c.patchSize(), td = c.timeEmbedDim();
        var s = l.shapes;
        if (c.patchSizeT() == null) {
            s.put("patch_embed.proj.weight", new Shape(d, c.inChannels(), p, p));
            if (c.patchBias()) s.put("patch_embed.proj.bias", new Shape(d));
        } else {
            s.put("patch_embed.proj.weight", new Shape(d, (long) c.inChannels() * p * p * c.patchSizeT()));
            s.put("patch_embed.proj.bias", new Shape(d));
        }
        s.put("patch_embed.text_proj.weight", new Shape(d, c.textEmbedDim()));
        s.put("patch_embed.text_proj.bias", new Shape(d));
        if (c.useLearnedPositionalEmbeddings()) {
            s.put("patch_embed.pos_embedding", new Shape(1, c.maxTextSeqLength() + (long) (c.sampleHeight() / c.patchSize())
                    * (c.sampleWidth() / c.patchSize()) * c.sampleLatentFrames(), d));
            l.buffers.add("patch_embed.pos_embedding");
        }
        s.put("time_embedding.linear_1.weight", new Shape(td, d));
        s.put("time_embedding.linear_1.bias", new Shape(td));
        s.put("time_embedding.linear_2.weight", new Shape(td, td));
        s.put("time_embedding.linear_2.bias", new Shape(td));
        if (c.ofsEmbedDim() != null) {
            long o = c.ofsEmbedDim();
            s.put("ofs_embedding.linear_1.weight", new Shape(o, o));
            s.put("ofs_embedding.linear_1.bias", new Shape(o));
            s.put("ofs_embedding.linear_2.weight", new Shape(o, o));
            s.put("ofs_embedding.linear_2.bias", new Shape(o));
        }
        long hd = c.attentionHeadDim();
        for (int i = 0; i < c.numLayers(); i++) {
            String b = "transformer_blocks." + i + ".";
            s.put(b + "norm1.linear.weight", new Shape(6 * d, td));
            s.put(b + "norm1.linear.bias", new Shape(6 * d));
            s.put(b + "norm1.norm.weight", new Shape(d));
            s.put(b + "norm1.norm.bias", new Shape(d));
            s.put(b + "attn1.norm_q.weight", new Shape(hd));
            s.put(b + "attn1.norm_q.bias", new Shape(hd));
            s.put(b + "attn1.norm_k.weight", new Shape(hd));
            s.put(b + "attn1.norm_k.bias", new Shape(hd));
            for (String m : new String[] {"to_q", "to_k", "to_v", "to_out.0"}) {
                s.put(b + "attn1." + m + ".weight", new Shape(d, d));
                s.put(b + "attn1." + m + ".bias", new Shape(d));
            }
            s.put(b + "norm2.linear.weight", new Shape(6 * d, td));
            s.put(b + "norm2.linear.bias", new Shape(6 * d));
            s.put(b + "norm2.norm.weight", new Shape(d));
            s.put(b + "norm2.norm.bias", new Shape(d));
            s.put(b + "ff.net.0.proj.weight", new Shape(4 * d, d));
            s.put(b + "ff.net.0.proj.bias", new Shape(4 * d));
            s.put(b + "ff.net.2.weight", new Shape(d, 4 * d));
            s.put(b + "ff.net.2.bias", new Shape(d));
        }
        s.put("norm_final.weight", new Shape(d));
        s.put("norm_final.bias", new Shape(d));
        s.put("norm_out.linear.weight", new Shape(2 * d, td));
        s.put("norm_out.linear.bias", new Shape(2 * d));
        s.put("norm_out.norm.weight", new Shape(d));
        s.put("norm_out.norm.bias", new Shape(d));
        long out = p * p * (c.patchSizeT() == null ? 1 : c.patchSizeT()) * c.outChannels();
        s.put("proj_out.weight", new Shape(out, d));
        s.put("proj_out.bias", new Shape(out));
        return l;
    }

    public Map<String, Shape> shapes() {
        return java.util.Collections.unmodifiableMap(shapes);
    }

    public Set<String> buffers() {
        return buffers;
    }
}
