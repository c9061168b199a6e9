package io.github.cogvideox4j.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import io.github.cogvideox4j.core.Scopes;

/**
 * Diffusers {@code CogVideoXBlock}: norm1 → joint attention → gated residual → norm2 → joint feed-forward →
 * gated residual, on a video stream and a text stream that attend jointly.
 *
 * <p>Shapes: video {@code [B, N, D]}, text {@code [B, L, D]}, emb {@code [B, T]}, RoPE {@code [N, head_dim]} or
 * {@code null} → new video and text streams of the same shapes, in the video input's manager.
 * Thread safety: immutable.
 */
public final class CogVideoXBlock {
    private final String name;
    private final CogVideoXLayerNormZero norm1;
    private final CogVideoXAttention attn1;
    private final CogVideoXLayerNormZero norm2;
    private final FeedForward ff;

    CogVideoXBlock(String name, CogVideoXLayerNormZero norm1, CogVideoXAttention attn1, CogVideoXLayerNormZero norm2,
            FeedForward ff) {
        this.name = name;
        this.norm1 = norm1;
        this.attn1 = attn1;
        this.norm2 = norm2;
        this.ff = ff;
    }

    /** @return the Diffusers key prefix, {@code transformer_blocks.<i>} */
    public String name() {
        return name;
    }

    /**
     * @param x video tokens {@code [B, N, D]}
     * @param c text tokens {@code [B, L, D]}
     * @param emb conditioning {@code [B, T]}
     * @param cos RoPE cosines {@code [N, head_dim]} or {@code null}
     * @param sin RoPE sines or {@code null}
     * @param probe receives {@code <name>.attn1.hidden_states} and {@code <name>.attn1.encoder_hidden_states}
     * @return {@code [video [B, N, D], text [B, L, D]]}
     */
    public NDList forward(NDArray x, NDArray c, NDArray emb, NDArray cos, NDArray sin, ForwardProbe probe) {
        // Each half runs in its own scope: its intermediates are freed when it returns (autograd keeps natively
        // what it saved for the backward), so a block never holds more than one half's intermediates.
        NDManager owner = x.getManager();
        long textLen = c.getShape().get(1);
        NDList mid = Scopes.run(owner, s -> {
            // 1. norm1: modulated LayerNorm of both streams
            NDList n1 = norm1.forward(x, c, emb);
            // 2. Joint attention
            NDList a = attn1.forward(n1.get(0), n1.get(1), cos, sin);          // [B, N, D], [B, L, D]
            probe.accept(name + ".attn1.hidden_states", a.get(0));
            probe.accept(name + ".attn1.encoder_hidden_states", a.get(1));
            // 3. Gated residual
            return new NDList(x.add(n1.get(2).mul(a.get(0))), c.add(n1.get(3).mul(a.get(1))));
        }, x, c, emb);
        NDArray xMid = mid.get(0);                                                 // [B, N, D]
        NDArray cMid = mid.get(1);                                                 // [B, L, D]
        NDList out = Scopes.run(owner, s -> {
            // 4. norm2
            NDList n2 = norm2.forward(xMid, cMid, emb);
            // 5. Joint feed-forward on [text; video]
            NDArray f = ff.forward(n2.get(1).concat(n2.get(0), 1));           // [B, L + N, D]
            NDList fs = f.split(new long[] {textLen}, 1);
            // 6. Gated residual
            return new NDList(xMid.add(n2.get(2).mul(fs.get(1))), cMid.add(n2.get(3).mul(fs.get(0))));
        }, xMid, cMid, emb);
        mid.close();
        return out;
    }
}
