package io.github.cogvideox4j.core.model;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import com.google.common.base.Preconditions;
import io.github.cogvideox4j.core.Scopes;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.UnaryOperator;

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
     * {@link #forward} without recording, in token chunks: the keys and values of all tokens first, chunk by chunk,
     * then each chunk's queries against them and the rest of the block on the chunk's tokens. The same values as
     * {@link #forward} up to the order of float sums inside the GEMMs (each token's row is computed by the same ops);
     * the whole sequence is held only as the input, the output, the keys and the values, the rest one chunk at a time.
     * For the unrecorded forwards of activation checkpointing with token chunks.
     *
     * @param x video tokens {@code [B, N, D]}
     * @param c text tokens {@code [B, L, D]}
     * @param emb conditioning {@code [B, T]}
     * @param cos RoPE cosines {@code [N, head_dim]} or {@code null}
     * @param sin RoPE sines or {@code null}
     * @param chunks token chunks, at least 1 (at most {@code min(N, L)} are used)
     * @return {@code [video [B, N, D], text [B, L, D]]} in x's manager
     * @throws IllegalStateException if a gradient collector is recording on this thread
     */
    NDList forwardInTokenChunks(NDArray x, NDArray c, NDArray emb, NDArray cos, NDArray sin, int chunks) {
        Preconditions.checkState(!JniUtils.isGradMode(), "%s: a chunked forward does not record", name);
        long n = x.getShape().get(1);
        long l = c.getShape().get(1);
        int parts = (int) Math.min(chunks, Math.min(n, l));
        return Scopes.run(x.getManager(), s -> {
            // 1. Keys and values of all tokens, chunk by chunk
            NDList kv = keysAndValues(x, c, NDArray::duplicate, emb, cos, sin, parts, s);  // [B, H, S, hd] x 2
            // 2. Each chunk's queries against them, then the rest of the block on the chunk's tokens
            NDArray outV = s.zeros(x.getShape(), x.getDataType());                         // [B, N, D]
            NDArray outC = s.zeros(c.getShape(), c.getDataType());                         // [B, L, D]
            forEachChunk(parts, x, c, NDArray::duplicate, cos, sin, s, in -> {
                NDList out = Scopes.run(in.scope(), t -> attentionAndFeedForward(in.x(), in.c(), emb, in.cos(),
                        in.sin(), kv.get(0), kv.get(1)), in.x(), in.c(), emb);
                outV.set(in.chunk().videoIndex(), out.get(0));
                outC.set(in.chunk().textIndex(), out.get(1));
            });
            kv.close();
            return new NDList(outV, outC);
        }, x, c);
    }

    /**
     * The backward of this block, recomputed in token chunks, for activation checkpointing
     * ({@link CogVideoXTransformer#forwardBackwardWithRecompute(TransformerInput, java.util.function.Function, int,
     * int)}). Every step of the block is per token but the attention kernel, whose queries are per token as well: only
     * its keys and values mix the tokens. So the block goes back in three passes over the chunks (each chunk holds
     * {@code 1/chunks} of the video tokens and of the text tokens):
     * <ol>
     *   <li>the keys and values of all tokens are computed chunk by chunk, without recording;
     *   <li>each chunk's whole block is recorded from its input tokens and the keys and values as leaves (q, the kernel
     *       against all keys and values, the gated residual, the feed-forward half) and gone back through: its
     *       input's gradient, and the keys' and values' gradients accumulating over the chunks;
     *   <li>the keys and values again, chunk by chunk from the input, gone back through with their gradients; the
     *       input's gradient gains their part.
     * </ol>
     * So the whole sequence is held only as the keys, the values and their gradients, and everything else as one
     * chunk; the block's input is read (and widened) one chunk at a time, and its gradient is written over the
     * upstream gradient. The price is the k and v projections computed once more. Parameter gradients (and the
     * conditioning's, when {@code emb} requires one) accumulate as one backward of {@link #forward} would leave them,
     * up to the order of the float sums over the tokens.
     *
     * <p>Call it with no gradient collector open: it opens its own, one at a time.
     *
     * @param x the block's video input {@code [B, N, D]}, unchanged (its chunks go through {@code widen})
     * @param c the block's text input {@code [B, L, D]}, unchanged (its chunks go through {@code widen})
     * @param widen makes a new array of the compute dtype from a view of x or c (a widening cast of a bf16
     *     checkpoint, or a copy); the caller keeps ownership of its argument
     * @param emb conditioning {@code [B, T]}; when it requires a gradient, its gradient accumulates into it
     * @param cos RoPE cosines {@code [N, head_dim]} or {@code null}
     * @param sin RoPE sines or {@code null}
     * @param gradVideo dL/d(video output) {@code [B, N, D]}: overwritten with dL/dx, chunk by chunk once used
     * @param gradText dL/d(text output) {@code [B, L, D]}: overwritten with dL/dc
     * @param chunks token chunks, at least 1 (at most {@code min(N, L)} are used)
     * @return {@code [gradVideo, gradText]}, now holding {@code [dL/dx, dL/dc]}, attached to x's manager
     */
    NDList backwardInTokenChunks(NDArray x, NDArray c, UnaryOperator<NDArray> widen, NDArray emb, NDArray cos,
            NDArray sin, NDArray gradVideo, NDArray gradText, int chunks) {
        long n = x.getShape().get(1);
        long l = c.getShape().get(1);
        int parts = (int) Math.min(chunks, Math.min(n, l));
        Engine engine = Engine.getInstance();
        return Scopes.run(x.getManager(), s -> {
            // 1. Keys and values of all tokens, chunk by chunk, not recorded
            NDList kv = keysAndValues(x, c, widen, emb, cos, sin, parts, s);              // [B, H, S, hd] x 2
            NDArray keys = kv.get(0);
            NDArray values = kv.get(1);
            // 2. Each chunk's block, recorded from its tokens and all keys and values: dL/dx of the chunk (but for
            //    the keys' and values' part), and dL/d(keys), dL/d(values) summed over the chunks. The input's
            //    gradient takes the upstream gradient's place, chunk by chunk, once the chunk's upstream is copied
            NDArray gradX = gradVideo;                                                     // [B, N, D]
            NDArray gradC = gradText;                                                      // [B, L, D]
            keys.setRequiresGradient(true);
            values.setRequiresGradient(true);
            forEachChunk(parts, x, c, widen, cos, sin, s, in -> {
                NDArray gv = in.chunk().video(gradVideo, NDArray::duplicate, in.scope());
                NDArray gt = in.chunk().text(gradText, NDArray::duplicate, in.scope());
                backward(engine, in, emb, t -> attentionAndFeedForward(in.x(), in.c(), emb, in.cos(), in.sin(),
                        keys, values), new NDList(gv, gt));
                gradX.set(in.chunk().videoIndex(), in.x().getGradient());
                gradC.set(in.chunk().textIndex(), in.c().getGradient());
            });
            NDList gradKv = new NDList(keys.getGradient(), values.getGradient());          // [B, H, S, hd] x 2
            gradKv.attach(s);
            new NDList(keys, values).close();
            // 3. Keys and values again, chunk by chunk from the input: dL/dx gains their part
            forEachChunk(parts, x, c, widen, cos, sin, s, in -> {
                TokenChunk k = in.chunk();
                NDList gi = new NDList(k.joint(gradKv.get(0), l, in.scope()), k.joint(gradKv.get(1), l, in.scope()));
                backward(engine, in, emb, t -> keyValue(in.x(), in.c(), emb, in.cos(), in.sin()), gi);
                k.addTo(gradX, k.videoIndex(), in.x().getGradient(), in.scope());
                k.addTo(gradC, k.textIndex(), in.c().getGradient(), in.scope());
            });
            gradKv.close();
            return new NDList(gradX, gradC);
        }, x, c);
    }

    /**
     * One recorded piece of {@link #backwardInTokenChunks}: marks the chunk's tokens as requiring gradients, records
     * {@code body} in a scope of the chunk's scope and goes back through it with {@code upstream} (one gradient per
     * output). The outputs and their products with the upstream gradients are freed before the backward; autograd
     * needs only the scalar.
     */
    private static void backward(Engine engine, ChunkInputs in, NDArray emb, Function<NDManager, NDList> body,
            NDList upstream) {
        in.x().setRequiresGradient(true);
        in.c().setRequiresGradient(true);
        try (GradientCollector gc = engine.newGradientCollector()) {
            NDArray loss = Scopes.single(in.scope(), t -> {
                NDList out = body.apply(t);
                NDArray sum = out.get(0).mul(upstream.get(0)).sum();
                for (int j = 1; j < out.size(); j++) {
                    sum = sum.add(out.get(j).mul(upstream.get(j)).sum());
                }
                return sum;
            }, in.x(), in.c(), emb);
            gc.backward(loss);
        }
    }

    /** The keys and values of {@link #forward}'s attention: norm1, then k and v {@code [B, H, L + N, hd]}. */
    private NDList keyValue(NDArray x, NDArray c, NDArray emb, NDArray cos, NDArray sin) {
        NDList n1 = norm1.forward(x, c, emb);
        return attn1.projectKeyValue(n1.get(0), n1.get(1), cos, sin);
    }

    /**
     * The keys and values of all tokens, computed {@code parts} chunks at a time from chunks of x and c made by
     * {@code widen}, without recording: {@code [k, v]}, each {@code [B, H, L + N, hd]} in {@code s}.
     */
    private NDList keysAndValues(NDArray x, NDArray c, UnaryOperator<NDArray> widen, NDArray emb, NDArray cos,
            NDArray sin, int parts, NDManager s) {
        long l = c.getShape().get(1);
        NDArray[] kv = new NDArray[2];                                                     // [B, H, S, hd] x 2
        forEachChunk(parts, x, c, widen, cos, sin, s, in -> {
            NDList chunk = keyValue(in.x(), in.c(), emb, in.cos(), in.sin());              // [B, H, s_i, hd] x 2
            if (kv[0] == null) {
                Shape shape = chunk.get(0).getShape();
                Shape all = new Shape(shape.get(0), shape.get(1), l + x.getShape().get(1), shape.get(3));
                kv[0] = s.zeros(all, chunk.get(0).getDataType());
                kv[1] = s.zeros(all, chunk.get(0).getDataType());
            }
            in.chunk().setJoint(kv[0], l, chunk.get(0));
            in.chunk().setJoint(kv[1], l, chunk.get(1));
        });
        return new NDList(kv[0], kv[1]);
    }

    /**
     * Runs {@code body} for each of {@code parts} token chunks, in a scope of {@code s} of its own that holds the
     * chunk's video and text tokens of x and c (made by {@code make} from views) and its RoPE rows.
     */
    private static void forEachChunk(int parts, NDArray x, NDArray c, UnaryOperator<NDArray> make, NDArray cos,
            NDArray sin, NDManager s, Consumer<ChunkInputs> body) {
        long n = x.getShape().get(1);
        long l = c.getShape().get(1);
        for (int i = 0; i < parts; i++) {
            TokenChunk k = TokenChunk.of(i, parts, n, l);
            try (NDManager cs = s.newSubManager()) {
                body.accept(new ChunkInputs(k, cs, k.video(x, make, cs), k.text(c, make, cs), k.rows(cos, cs),
                        k.rows(sin, cs)));
            }
        }
    }

    /** One chunk's inputs, in the chunk's {@code scope}; cos and sin are null without RoPE. */
    private record ChunkInputs(TokenChunk chunk, NDManager scope, NDArray x, NDArray c, NDArray cos, NDArray sin) {}

    /**
     * {@link #forward} for a chunk of the tokens whose keys and values are given for all tokens: norm1, the chunk's
     * queries, the attention against all keys and values, the gated residual and the feed-forward half.
     *
     * @param x the chunk's video tokens {@code [B, n_i, D]}
     * @param c the chunk's text tokens {@code [B, l_i, D]}
     * @param keys the keys of all tokens {@code [B, H, L + N, hd]}
     * @param values their values
     * @return the chunk's {@code [video [B, n_i, D], text [B, l_i, D]]}
     */
    private NDList attentionAndFeedForward(NDArray x, NDArray c, NDArray emb, NDArray cos, NDArray sin, NDArray keys,
            NDArray values) {
        // 1. norm1, the chunk's queries
        NDList n1 = norm1.forward(x, c, emb);
        NDArray q = attn1.projectQuery(n1.get(0), n1.get(1), cos, sin);                  // [B, H, l_i + n_i, hd]
        // 2. Attention against all keys and values, output projection
        NDArray o = attn1.attend(q, keys, values);                                        // [B, H, l_i + n_i, hd]
        NDList a = attn1.output(o, c.getShape().get(1));                                  // [B, n_i, D], [B, l_i, D]
        // 3. Gated residual
        NDArray midV = x.add(n1.get(2).mul(a.get(0)));
        NDArray midC = c.add(n1.get(3).mul(a.get(1)));
        // 4-6. norm2, joint feed-forward, gated residual
        return feedForwardHalf(midV, midC, emb);
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

        /** This chunk's video tokens of a {@code [B, N, D]} stream, made by {@code make} from a view, into cs. */
        NDArray video(NDArray stream, UnaryOperator<NDArray> make, NDManager cs) {
            return copy(stream, videoIndex(), make, cs);
        }

        /** This chunk's text tokens of a {@code [B, L, D]} stream, made by {@code make} from a view, into cs. */
        NDArray text(NDArray stream, UnaryOperator<NDArray> make, NDManager cs) {
            return copy(stream, textIndex(), make, cs);
        }

        /** This chunk's rows of a RoPE table {@code [N, hd]}, copied into {@code cs}; null for null. */
        NDArray rows(NDArray table, NDManager cs) {
            return table == null ? null : copy(table, new NDIndex("{}:{}", v0, v1), NDArray::duplicate, cs);
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

        private static NDArray copy(NDArray a, NDIndex index, UnaryOperator<NDArray> make, NDManager cs) {
            NDArray view = a.get(index);
            NDArray copy = make.apply(view);
            view.close();
            copy.attach(cs);
            return copy;
        }
    }
}
