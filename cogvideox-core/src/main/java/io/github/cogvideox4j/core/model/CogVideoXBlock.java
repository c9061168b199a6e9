package io.github.cogvideox4j.core.model;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.training.GradientCollector;
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
        // 4-6. norm2, joint feed-forward, gated residual
        NDList out = Scopes.run(owner, s -> feedForwardHalf(mid.get(0), mid.get(1), emb), mid.get(0), mid.get(1),
                emb);
        mid.close();
        return out;
    }

    /**
     * The backward of this block, recomputed in stages and in token chunks, for activation checkpointing
     * ({@link CogVideoXTransformer#forwardBackwardWithRecompute(TransformerInput, java.util.function.Function, int,
     * int)}). Every step of the block but the attention kernel is per token, so those steps are recorded and gone
     * back through one chunk of the tokens at a time (each chunk holds {@code 1/chunks} of the video tokens and of
     * the text tokens), while the kernel is recorded once on the whole sequence:
     * <ol>
     *   <li>q, k and v are computed from the input without recording;
     *   <li>the attention kernel is recorded from them, its output kept;
     *   <li>the block's midpoint (after the gated attention residual) is computed without recording;
     *   <li>the feed-forward half is recorded and gone back through chunk by chunk from the midpoint;
     *   <li>then the gated attention output, chunk by chunk from the kernel's output;
     *   <li>then the kernel, once, giving the gradients of q, k and v;
     *   <li>then q, k and v again, chunk by chunk from the input; the input's gradient is the residual's plus theirs.
     * </ol>
     * So no step's saved tensors outlive it, and the per-token ones are {@code 1/chunks} of their size; the price is
     * q, k, v and the output projection computed twice. Parameter gradients (and the conditioning's, when
     * {@code emb} requires one) accumulate as one backward of {@link #forward} would leave them, up to the order of
     * the float sums over the tokens.
     *
     * <p>Call it with no gradient collector open: it opens its own, one at a time.
     *
     * @param x the block's video input {@code [B, N, D]}, unchanged
     * @param c the block's text input {@code [B, L, D]}, unchanged
     * @param emb conditioning {@code [B, T]}; when it requires a gradient, its gradient accumulates into it
     * @param cos RoPE cosines {@code [N, head_dim]} or {@code null}
     * @param sin RoPE sines or {@code null}
     * @param gradVideo dL/d(video output) {@code [B, N, D]}: closed by this method once used
     * @param gradText dL/d(text output) {@code [B, L, D]}: closed by this method once used
     * @param chunks token chunks, at least 1 (at most {@code min(N, L)} are used)
     * @return {@code [dL/dx, dL/dc]}, in x's manager
     */
    NDList backwardInTokenChunks(NDArray x, NDArray c, NDArray emb, NDArray cos, NDArray sin, NDArray gradVideo,
            NDArray gradText, int chunks) {
        long n = x.getShape().get(1);
        long l = c.getShape().get(1);
        int parts = (int) Math.min(chunks, Math.min(n, l));
        Engine engine = Engine.getInstance();
        return Scopes.run(x.getManager(), s -> {
            // 1. The attention kernel's inputs, not recorded
            NDList qkv = Scopes.run(s, t -> attentionInputs(x, c, emb, cos, sin), x, c, emb);  // [B, H, S, hd] x 3
            // 2. The attention kernel, recorded from q, k, v as leaves: its graph keeps what the kernel saved
            qkv.forEach(a -> a.setRequiresGradient(true));
            NDArray o;
            try (GradientCollector gc = engine.newGradientCollector()) {
                o = attn1.attend(qkv.get(0), qkv.get(1), qkv.get(2));                        // [B, H, S, hd]
            }
            // 3. The midpoint, not recorded
            NDList mid = Scopes.run(s, t -> {
                NDList a = gatedAttention(o, l, emb);
                return new NDList(x.add(a.get(0)), c.add(a.get(1)));                       // [B, N, D], [B, L, D]
            }, o, x, c, emb);
            // 4. Feed-forward half, chunk by chunk: dL/d(midpoint)
            NDArray gradMidV = mid.get(0).zerosLike();                                     // [B, N, D]
            NDArray gradMidC = mid.get(1).zerosLike();                                     // [B, L, D]
            for (int i = 0; i < parts; i++) {
                TokenChunk k = TokenChunk.of(i, parts, n, l);
                try (NDManager cs = s.newSubManager()) {
                    NDArray xm = k.video(mid.get(0), cs);
                    NDArray cm = k.text(mid.get(1), cs);
                    NDArray gv = k.video(gradVideo, cs);
                    NDArray gt = k.text(gradText, cs);
                    backward(engine, cs, new NDList(xm, cm), emb,
                            t -> feedForwardHalf(xm, cm, emb), new NDList(gv, gt));
                    gradMidV.set(k.videoIndex(), xm.getGradient());
                    gradMidC.set(k.textIndex(), cm.getGradient());
                }
            }
            mid.close();
            gradVideo.close();
            gradText.close();
            // 5. Gated attention output, chunk by chunk: dL/do
            NDArray gradO = o.zerosLike();                                                 // [B, H, S, hd]
            for (int i = 0; i < parts; i++) {
                TokenChunk k = TokenChunk.of(i, parts, n, l);
                try (NDManager cs = s.newSubManager()) {
                    NDArray oi = k.joint(o, l, cs);                                         // [B, H, s_i, hd]
                    NDArray gv = k.video(gradMidV, cs);
                    NDArray gt = k.text(gradMidC, cs);
                    backward(engine, cs, new NDList(oi), emb, t -> gatedAttention(oi, k.textLength(), emb),
                            new NDList(gv, gt));
                    k.setJoint(gradO, l, oi.getGradient());
                }
            }
            // 6. The attention kernel's backward, once: dL/dq, dL/dk, dL/dv
            try (GradientCollector gc = engine.newGradientCollector()) {
                gc.backward(Scopes.single(s, t -> o.mul(gradO).sum(), o));
            }
            o.close();
            gradO.close();
            NDList gradQkv = new NDList(qkv.get(0).getGradient(), qkv.get(1).getGradient(),
                    qkv.get(2).getGradient());                                             // [B, H, S, hd] x 3
            gradQkv.attach(s);
            qkv.close();
            // 7. q, k, v again, chunk by chunk from the input: dL/dx = the residual's dL/d(midpoint) + theirs
            for (int i = 0; i < parts; i++) {
                TokenChunk k = TokenChunk.of(i, parts, n, l);
                try (NDManager cs = s.newSubManager()) {
                    NDArray xi = k.video(x, cs);
                    NDArray ci = k.text(c, cs);
                    NDArray cosI = cos == null ? null : k.rows(cos, cs);
                    NDArray sinI = sin == null ? null : k.rows(sin, cs);
                    NDList gi = new NDList();
                    for (NDArray g : gradQkv) {
                        gi.add(k.joint(g, l, cs));
                    }
                    backward(engine, cs, new NDList(xi, ci), emb, t -> attentionInputs(xi, ci, emb, cosI, sinI), gi);
                    k.addTo(gradMidV, k.videoIndex(), xi.getGradient(), cs);
                    k.addTo(gradMidC, k.textIndex(), ci.getGradient(), cs);
                }
            }
            return new NDList(gradMidV, gradMidC);
        }, x, c);
    }

    /**
     * One recorded piece of {@link #backwardInTokenChunks}: marks {@code leaves} as requiring gradients, records
     * {@code body} in a scope of {@code cs} and goes back through it with {@code upstream} (one gradient per output).
     * The outputs and their products with the upstream gradients are freed before the backward; autograd needs only
     * the scalar.
     */
    private static void backward(Engine engine, NDManager cs, NDList leaves, NDArray emb,
            java.util.function.Function<NDManager, NDList> body, NDList upstream) {
        leaves.forEach(a -> a.setRequiresGradient(true));
        try (GradientCollector gc = engine.newGradientCollector()) {
            NDArray loss = Scopes.single(cs, t -> {
                NDList out = body.apply(t);
                NDArray sum = out.get(0).mul(upstream.get(0)).sum();
                for (int j = 1; j < out.size(); j++) {
                    sum = sum.add(out.get(j).mul(upstream.get(j)).sum());
                }
                return sum;
            }, operands(leaves, emb));
            gc.backward(loss);
        }
    }

    private static NDArray[] operands(NDList leaves, NDArray emb) {
        NDArray[] all = leaves.toArray(new NDArray[leaves.size() + 1]);
        all[leaves.size()] = emb;
        return all;
    }

    /** Steps 1-2 of {@link #forward} up to the attention kernel: q, k, v {@code [B, H, L + N, hd]}. */
    private NDList attentionInputs(NDArray x, NDArray c, NDArray emb, NDArray cos, NDArray sin) {
        NDList n1 = norm1.forward(x, c, emb);
        return attn1.projectQkv(n1.get(0), n1.get(1), cos, sin);
    }

    /** Steps 2-3 of {@link #forward} after the kernel, without the residual: the gated video and text outputs. */
    private NDList gatedAttention(NDArray o, long textLen, NDArray emb) {
        NDList a = attn1.output(o, textLen);                                                 // [B, N, D], [B, L, D]
        NDList g = norm1.gates(emb);                                                         // [B, 1, D] x 2
        return new NDList(g.get(0).mul(a.get(0)), g.get(1).mul(a.get(1)));
    }

    /** Steps 4-6 of {@link #forward}: norm2, the joint feed-forward on {@code [text; video]}, gated residual. */
    private NDList feedForwardHalf(NDArray xMid, NDArray cMid, NDArray emb) {
        // 4. norm2
        NDList n2 = norm2.forward(xMid, cMid, emb);
        // 5. Joint feed-forward on [text; video]
        NDArray f = ff.forward(n2.get(1).concat(n2.get(0), 1));                          // [B, L + N, D]
        NDList fs = f.split(new long[] {cMid.getShape().get(1)}, 1);
        // 6. Gated residual
        return new NDList(xMid.add(n2.get(2).mul(fs.get(1))), cMid.add(n2.get(3).mul(fs.get(0))));
    }

    /**
     * Chunk {@code i} of {@code parts}: video tokens {@code [v0, v1)} of N and text tokens {@code [t0, t1)} of L, each
     * about {@code 1/parts} of its stream.
     */
    private record TokenChunk(long v0, long v1, long t0, long t1) {
        static TokenChunk of(int i, int parts, long n, long l) {
            return new TokenChunk(i * n / parts, (i + 1) * n / parts, i * l / parts, (i + 1) * l / parts);
        }

        long textLength() {
            return t1 - t0;
        }

        NDIndex videoIndex() {
            return new NDIndex(":, {}:{}", v0, v1);
        }

        NDIndex textIndex() {
            return new NDIndex(":, {}:{}", t0, t1);
        }

        /** This chunk's video tokens of a {@code [B, N, D]} stream, copied into {@code cs}. */
        NDArray video(NDArray stream, NDManager cs) {
            return copy(stream, videoIndex(), cs);
        }

        /** This chunk's text tokens of a {@code [B, L, D]} stream, copied into {@code cs}. */
        NDArray text(NDArray stream, NDManager cs) {
            return copy(stream, textIndex(), cs);
        }

        /** This chunk's rows of a RoPE table {@code [N, hd]}, copied into {@code cs}. */
        NDArray rows(NDArray table, NDManager cs) {
            return copy(table, new NDIndex("{}:{}", v0, v1), cs);
        }

        /** This chunk's tokens {@code [text; video]} of a joint {@code [B, H, L + N, hd]} tensor, into {@code cs}. */
        NDArray joint(NDArray a, long l, NDManager cs) {
            NDArray text = a.get(new NDIndex(":, :, {}:{}", t0, t1));
            NDArray video = a.get(new NDIndex(":, :, {}:{}", l + v0, l + v1));
            NDArray joint = text.concat(video, 2);                                  // the one copy
            new NDList(text, video).close();
            joint.attach(cs);
            return joint;
        }

        /** Writes a chunk's joint {@code [B, H, s_i, hd]} values into their tokens of {@code a}. */
        void setJoint(NDArray a, long l, NDArray values) {
            NDList parts = values.split(new long[] {textLength()}, 2);
            a.set(new NDIndex(":, :, {}:{}", t0, t1), parts.get(0));
            a.set(new NDIndex(":, :, {}:{}", l + v0, l + v1), parts.get(1));
            parts.close();
        }

        /** {@code a[index] += values}, its temporaries in {@code cs}. */
        void addTo(NDArray a, NDIndex index, NDArray values, NDManager cs) {
            NDArray current = a.get(index);
            current.attach(cs);
            a.set(index, current.add(values));
        }

        private static NDArray copy(NDArray a, NDIndex index, NDManager cs) {
            NDArray view = a.get(index);
            NDArray copy = view.duplicate();
            view.close();
            copy.attach(cs);
            return copy;
        }
    }
}
