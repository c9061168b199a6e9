package io.github.cogvideox4j.bench;

import com.google.common.base.Preconditions;
import io.github.cogvideox4j.core.config.CogVideoXConfig;

/**
 * Analytic FLOP counts (1 multiply-add = 2 FLOPs) of a CogVideoX training step, counting matrix products only
 * (norms, RoPE, GELU, softmax and residuals are left out; they are a few percent). B = batch, L = text tokens,
 * N = video tokens, S = L + N, D = inner dim, H heads of d = 64 (H·d = D), T = time_embed_dim, r = LoRA rank.
 *
 * <p>Forward of one block:
 * <pre>
 * linear    = 2·B·S·D·(D + D + D + D + 4D + 4D) = 24·B·S·D²     (to_q, to_k, to_v, to_out.0, ff.net.0.proj, ff.net.2)
 * attention = 4·B·H·S²·d = 4·B·S²·D                           (q·kᵀ and p·v)
 * adaLN     = 2 · 2·B·T·6D = 24·B·T·D                         (norm1.linear, norm2.linear)
 * lora      = 4 · 2·B·S·(D·r + r·D) = 16·B·S·D·r              (A then B on the four attention projections)
 * </pre>
 * Stem (patch embedding, time embedding) and head (norm_out.linear, proj_out), with c = in_channels, c' =
 * out_channels, p = patch size, p_t = temporal patch (1 for the 1.0 models), Dt = text_embed_dim:
 * <pre>
 * stem = 2·B·L·Dt·D + 2·B·N·(c·p²·p_t)·D + 2·B·(D·T + T·T)
 * head = 2·B·T·2D + 2·B·N·D·(c'·p²·p_t)
 * </pre>
 * A backward GEMM pass costs 1× forward for the input gradient plus 1× for the weight gradient, so:
 * <ul>
 *   <li>full fine-tune: {@code 3·(blocks + head) + 2·stem} (the stem's inputs need no gradient);</li>
 *   <li>LoRA (frozen weights: input gradients only): {@code 2·(linear + adaLN) + 3·(attention + lora)} per block,
 *       {@code 2·head + 1·stem};</li>
 *   <li>block checkpointing (recompute) adds one more forward of every block: {@code + blocks}.</li>
 * </ul>
 *
 * <p>Thread safety: stateless.
 */
public final class TrainingFlops {
    private TrainingFlops() {}

    /**
     * @param batch B
     * @param tokens S
     * @param dim D
     * @return forward FLOPs of one block's six Linears, {@code 24·B·S·D²}
     */
    public static double blockLinearForward(long batch, long tokens, long dim) {
        return 24.0 * batch * tokens * (double) dim * dim;
    }

    /**
     * @param batch B
     * @param tokens S
     * @param dim D = H·d
     * @return forward FLOPs of one block's attention products, {@code 4·B·S²·D}
     */
    public static double attentionForward(long batch, long tokens, long dim) {
        return 4.0 * batch * (double) tokens * tokens * dim;
    }

    /**
     * @param batch B
     * @param timeEmbedDim T
     * @param dim D
     * @return forward FLOPs of one block's two AdaLN modulation Linears, {@code 24·B·T·D}
     */
    public static double adaLnForward(long batch, long timeEmbedDim, long dim) {
        return 24.0 * batch * timeEmbedDim * dim;
    }

    /**
     * @param batch B
     * @param tokens S
     * @param dim D
     * @param rank r (0 for none)
     * @return forward FLOPs of one block's four LoRA adapters, {@code 16·B·S·D·r}
     */
    public static double loraForward(long batch, long tokens, long dim, int rank) {
        return 16.0 * batch * tokens * (double) dim * rank;
    }

    /**
     * @param c the model config
     * @param batch B
     * @param videoTokens N
     * @return forward FLOPs of the text projection, patch projection and time embedding
     */
    public static double stemForward(CogVideoXConfig c, long batch, long videoTokens) {
        double d = c.innerDim();
        double t = c.timeEmbedDim();
        int pt = c.patchSizeT() == null ? 1 : c.patchSizeT();
        double patchIn = (double) c.inChannels() * c.patchSize() * c.patchSize() * pt;
        return 2.0 * batch * c.maxTextSeqLength() * c.textEmbedDim() * d + 2.0 * batch * videoTokens * patchIn * d
                + 2.0 * batch * (d * t + t * t);
    }

    /**
     * @param c the model config
     * @param batch B
     * @param videoTokens N
     * @return forward FLOPs of the output head (AdaLN linear and proj_out)
     */
    public static double headForward(CogVideoXConfig c, long batch, long videoTokens) {
        double d = c.innerDim();
        int pt = c.patchSizeT() == null ? 1 : c.patchSizeT();
        double patchOut = (double) c.outChannels() * c.patchSize() * c.patchSize() * pt;
        return 2.0 * batch * c.timeEmbedDim() * 2 * d + 2.0 * batch * videoTokens * d * patchOut;
    }

    /**
     * @param c the model config (its {@code num_layers} blocks are counted)
     * @param batch B
     * @param videoTokens N
     * @param loraRank r, or 0 for none
     * @return forward FLOPs of the whole model, adapters included
     */
    public static double modelForward(CogVideoXConfig c, long batch, long videoTokens, int loraRank) {
        return c.numLayers() * blockForward(c, batch, videoTokens, loraRank) + stemForward(c, batch, videoTokens)
                + headForward(c, batch, videoTokens);
    }

    /**
     * @param c the model config
     * @param batch B
     * @param videoTokens N
     * @param loraRank r, or 0 for none
     * @return forward FLOPs of one block, adapters included
     */
    public static double blockForward(CogVideoXConfig c, long batch, long videoTokens, int loraRank) {
        long s = videoTokens + c.maxTextSeqLength();
        long d = c.innerDim();
        return blockLinearForward(batch, s, d) + attentionForward(batch, s, d) + adaLnForward(batch, c.timeEmbedDim(), d)
                + loraForward(batch, s, d, loraRank);
    }

    /**
     * FLOPs of one training step's forward and backward (no optimizer), as the class documentation states.
     *
     * @param c the model config
     * @param batch B
     * @param videoTokens N
     * @param loraRank r for a LoRA step (base weights frozen), 0 for a full fine-tune step
     * @param recompute whether blocks are checkpointed (one extra forward of every block)
     * @return the step's FLOPs
     */
    public static double step(CogVideoXConfig c, long batch, long videoTokens, int loraRank, boolean recompute) {
        Preconditions.checkArgument(loraRank >= 0, "LoRA rank must be >= 0, got %s", loraRank);
        long s = videoTokens + c.maxTextSeqLength();
        long d = c.innerDim();
        double lin = blockLinearForward(batch, s, d);
        double att = attentionForward(batch, s, d);
        double ada = adaLnForward(batch, c.timeEmbedDim(), d);
        double lora = loraForward(batch, s, d, loraRank);
        double stem = stemForward(c, batch, videoTokens);
        double head = headForward(c, batch, videoTokens);
        double perBlock;
        double outer;
        if (loraRank == 0) {
            perBlock = 3 * (lin + att + ada);
            outer = 3 * head + 2 * stem;
        } else {
            perBlock = 2 * (lin + ada) + 3 * (att + lora);
            outer = 2 * head + stem;
        }
        if (recompute) {
            perBlock += lin + att + ada + lora;
        }
        return c.numLayers() * perBlock + outer;
    }
}
