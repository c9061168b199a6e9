package io.github.cogvideox4j.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.Scopes;

/**
 * Diffusers {@code Attention} with {@code CogVideoXAttnProcessor2_0} ({@code attn1} of every block): joint
 * self-attention over {@code [text; video]} tokens, per-head q/k LayerNorm (eps 1e-6), RoPE on the video tokens
 * of q and k only (interleaved (real, imag) pairs), scaled dot-product attention with scale
 * {@code 1/sqrt(head_dim)}, output projection {@code to_out.0}.
 *
 * <p>Shapes: video {@code [B, N, D]}, text {@code [B, L, D]}, RoPE cos/sin {@code [N, head_dim]} (or
 * {@code null}) → attended video {@code [B, N, D]} and text {@code [B, L, D]} in the video input's manager.
 * Thread safety: immutable.
 */
public final class CogVideoXAttention {
    private final int heads;
    private final Linear toQ;
    private final Linear toK;
    private final Linear toV;
    private final Linear toOut;
    private final LayerNorm normQ;
    private final LayerNorm normK;
    private final Kernels kernels;

    CogVideoXAttention(int heads, Linear toQ, Linear toK, Linear toV, Linear toOut, LayerNorm normQ,
            LayerNorm normK, Kernels kernels) {
        this.heads = heads;
        this.toQ = toQ;
        this.toK = toK;
        this.toV = toV;
        this.toOut = toOut;
        this.normQ = normQ;
        this.normK = normK;
        this.kernels = kernels;
    }

    /**
     * @param xHat normalized video tokens {@code [B, N, D]}
     * @param cHat normalized text tokens {@code [B, L, D]}
     * @param cos RoPE cosines {@code [N, head_dim]} or {@code null}
     * @param sin RoPE sines {@code [N, head_dim]} or {@code null}
     * @return {@code [video [B, N, D], text [B, L, D]]}
     */
    public NDList forward(NDArray xHat, NDArray cHat, NDArray cos, NDArray sin) {
        // 1-4. Joint sequence, projections, q/k LayerNorm, RoPE
        NDList qkv = projectQkv(xHat, cHat, cos, sin);                           // [B, H, S, hd] x 3
        // 5. Scaled dot-product attention
        NDArray o = attend(qkv.get(0), qkv.get(1), qkv.get(2));                   // [B, H, S, hd]
        // 6-7. Output projection, split back
        return output(o, cHat.getShape().get(1));
    }

    /**
     * Steps 1-4 of {@link #forward}: the joint sequence {@code [text; video]}, its q/k/v projections split into heads,
     * per-head q/k LayerNorm and RoPE on the video tokens of q and k. Every step is per token, so the result for a
     * subset of the tokens (with the matching RoPE rows) is the same subset of the result.
     *
     * @param xHat normalized video tokens {@code [B, N, D]}
     * @param cHat normalized text tokens {@code [B, L, D]}
     * @param cos RoPE cosines {@code [N, head_dim]} or {@code null}
     * @param sin RoPE sines {@code [N, head_dim]} or {@code null}
     * @return {@code [q, k, v]}, each {@code [B, H, L + N, head_dim]} in the text input's manager
     */
    NDList projectQkv(NDArray xHat, NDArray cHat, NDArray cos, NDArray sin) {
        long textLen = cHat.getShape().get(1);
        return Scopes.run(cHat.getManager(), sc -> {
            // 1. Joint sequence, text first
            NDArray h = cHat.concat(xHat, 1);                                     // [B, S, D]
            // 2-4. Projections split into heads, per-head q/k LayerNorm over head_dim, RoPE on the video tokens
            NDArray q = query(sc, h, textLen, cos, sin);                           // [B, H, S, hd]
            NDList kv = keyValue(sc, h, textLen, cos, sin);                        // [B, H, S, hd] x 2
            return new NDList(q, kv.get(0), kv.get(1));
        }, cHat);
    }

    /**
     * The q part of {@link #projectQkv}: {@code to_q}, split into heads, {@code norm_q}, RoPE on the video tokens.
     * Per token.
     *
     * @param xHat normalized video tokens {@code [B, N, D]}
     * @param cHat normalized text tokens {@code [B, L, D]}
     * @param cos RoPE cosines {@code [N, head_dim]} or {@code null}
     * @param sin RoPE sines {@code [N, head_dim]} or {@code null}
     * @return q {@code [B, H, L + N, head_dim]} in the text input's manager
     */
    NDArray projectQuery(NDArray xHat, NDArray cHat, NDArray cos, NDArray sin) {
        long textLen = cHat.getShape().get(1);
        return Scopes.single(cHat.getManager(), sc -> query(sc, cHat.concat(xHat, 1), textLen, cos, sin), cHat);
    }

    /**
     * The k and v part of {@link #projectQkv}: {@code to_k} with {@code norm_k} and RoPE on the video tokens, and
     * {@code to_v}, both split into heads. Per token.
     *
     * @param xHat normalized video tokens {@code [B, N, D]}
     * @param cHat normalized text tokens {@code [B, L, D]}
     * @param cos RoPE cosines {@code [N, head_dim]} or {@code null}
     * @param sin RoPE sines {@code [N, head_dim]} or {@code null}
     * @return {@code [k, v]}, each {@code [B, H, L + N, head_dim]} in the text input's manager
     */
    NDList projectKeyValue(NDArray xHat, NDArray cHat, NDArray cos, NDArray sin) {
        long textLen = cHat.getShape().get(1);
        return Scopes.run(cHat.getManager(), sc -> keyValue(sc, cHat.concat(xHat, 1), textLen, cos, sin), cHat);
    }

    /** q of the joint sequence h {@code [B, S, D]}, its intermediates freed at once: {@code [B, H, S, hd]} in sc. */
    private NDArray query(NDManager sc, NDArray h, long textLen, NDArray cos, NDArray sin) {
        return Scopes.single(sc, t -> queryOrKey(toQ, normQ, h, split(h), textLen, cos, sin), h);
    }

    /** k (its intermediates freed at once) and v of the joint sequence h: {@code [B, H, S, hd]} x 2 in sc. */
    private NDList keyValue(NDManager sc, NDArray h, long textLen, NDArray cos, NDArray sin) {
        NDArray k = Scopes.single(sc, t -> queryOrKey(toK, normK, h, split(h), textLen, cos, sin), h);
        NDArray v = toV.forward(h).reshape(split(h)).transpose(0, 2, 1, 3);    // [B, H, S, hd]
        return new NDList(k, v);
    }

    /** {@code [B, S, H, hd]}: a joint {@code [B, S, D]} sequence split into heads. */
    private Shape split(NDArray h) {
        Shape shape = h.getShape();
        return new Shape(shape.get(0), shape.get(1), heads, shape.get(2) / heads);
    }

    /**
     * Step 5 of {@link #forward}: scaled dot-product attention with scale {@code 1/sqrt(head_dim)}.
     *
     * @param q queries {@code [B, H, S_q, hd]} (all tokens, or a chunk of them: each query's row is its own)
     * @param k keys {@code [B, H, S, hd]}
     * @param v values {@code [B, H, S, hd]}
     * @return {@code [B, H, S_q, hd]} in q's manager
     */
    NDArray attend(NDArray q, NDArray k, NDArray v) {
        return kernels.attention(q, k, v);
    }

    /**
     * Steps 6-7 of {@link #forward}: heads merged, output projection, split back into the two streams. Per token.
     *
     * @param o the attention's output {@code [B, H, L + N, hd]}
     * @param textLen L, the text tokens first in the sequence
     * @return {@code [video [B, N, D], text [B, L, D]]} in o's manager
     */
    NDList output(NDArray o, long textLen) {
        Shape shape = o.getShape();
        long b = shape.get(0);
        long s = shape.get(2);
        // 6. Merge heads, output projection
        NDArray merged = o.transpose(0, 2, 1, 3).reshape(b, s, shape.get(1) * shape.get(3));  // [B, S, D]
        NDArray out = toOut.forward(merged);
        // 7. Split back: text first
        NDList parts = out.split(new long[] {textLen}, 1);
        return new NDList(parts.get(1), parts.get(0));
    }

    /** Steps 2-4 for q or k: projection, split into heads, LayerNorm, RoPE → {@code [B, H, S, hd]}. */
    private static NDArray queryOrKey(Linear proj, LayerNorm norm, NDArray h, Shape split, long textLen, NDArray cos,
            NDArray sin) {
        NDArray x = norm.forward(proj.forward(h).reshape(split).transpose(0, 2, 1, 3));  // [B, H, S, hd]
        return cos == null ? x : rotateVideoTokens(x, textLen, cos, sin);
    }

    /** Applies RoPE to tokens {@code textLen..S} of x {@code [B, H, S, hd]}. */
    static NDArray rotateVideoTokens(NDArray x, long textLen, NDArray cos, NDArray sin) {
        NDList parts = x.split(new long[] {textLen}, 2);
        NDArray text = parts.get(0);                                             // [B, H, L, hd]
        NDArray video = parts.get(1);                                            // [B, H, N, hd]
        return text.concat(applyRotaryEmbedding(video, cos, sin), 2);
    }

    /**
     * Diffusers {@code apply_rotary_emb} with {@code use_real_unbind_dim = -1}: pairs (x[2i], x[2i+1]) are
     * (real, imag); {@code out = x·cos + (-x_imag, x_real)·sin}.
     *
     * @param x {@code [B, H, N, hd]} (rotated in FLOAT32, returned in its own dtype)
     * @param cos {@code [N, hd]}
     * @param sin {@code [N, hd]}
     * @return the rotated {@code [B, H, N, hd]} in x's manager
     */
    public static NDArray applyRotaryEmbedding(NDArray x, NDArray cos, NDArray sin) {
        if (x.getDataType() != DataType.FLOAT32) {
            // as the reference: rotate in fp32, cast back to the activation dtype
            DataType dtype = x.getDataType();
            return applyRotaryEmbedding(x.toType(DataType.FLOAT32, false), cos, sin).toType(dtype, false);
        }
        Shape shape = x.getShape();
        long hd = shape.get(3);
        NDList pairs = x.reshape(shape.get(0), shape.get(1), shape.get(2), hd / 2, 2).split(2, 4);
        NDArray real = pairs.get(0);                                             // [B, H, N, hd/2, 1]
        NDArray imag = pairs.get(1);
        NDArray rotated = imag.neg().concat(real, 4).reshape(shape);             // [B, H, N, hd]
        return x.mul(cos).add(rotated.mul(sin));
    }
}
