package io.github.cogvideox4j.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;

/**
 * Diffusers {@code CogVideoXPatchEmbed} ({@code patch_embed}): text projection, video patch projection, and the
 * joint token sequence {@code [text; video]} with video tokens ordered (t, h, w).
 *
 * <ul>
 *   <li>1.0 ({@code patch_size_t = null}): {@code proj} is a Conv2d with kernel = stride = p applied per frame;
 *       patch features ordered (c, ph, pw).</li>
 *   <li>1.5 ({@code patch_size_t = pt}): {@code proj} is a {@link Linear} over patch vectors ordered (c, pt, ph, pw),
 *       listed in {@link CogVideoXTransformer#namedLinears()} as {@code patch_embed.proj} (so LoRA can adapt it, as
 *       PEFT does for a target matching that name).</li>
 * </ul>
 * The additive positional table (sincos or learned) is added by {@link CogVideoXTransformer}, which decides which
 * table applies.
 *
 * <p>Shapes: text {@code [B, L, text_dim]}, video {@code [B, F, C, H, W]} → {@code [B, L + N, D]} in the video
 * input's manager. Thread safety: immutable.
 */
public final class CogVideoXPatchEmbed {
    private final int patchSize;
    private final Integer patchSizeT;
    private final NDArray convWeight;
    private final NDArray convBias;
    private final Linear linearProj;
    private final Linear textProj;

    /** 1.0: the Conv2d weight {@code [D, C, p, p]} and bias of {@code proj}. */
    CogVideoXPatchEmbed(int patchSize, NDArray convWeight, NDArray convBias, Linear textProj) {
        this.patchSize = patchSize;
        this.patchSizeT = null;
        this.convWeight = convWeight;
        this.convBias = convBias;
        this.linearProj = null;
        this.textProj = textProj;
    }

    /** 1.5: {@code proj} is a Linear {@code [D, C·pt·p·p]}. */
    CogVideoXPatchEmbed(int patchSize, int patchSizeT, Linear linearProj, Linear textProj) {
        this.patchSize = patchSize;
        this.patchSizeT = patchSizeT;
        this.convWeight = null;
        this.convBias = null;
        this.linearProj = linearProj;
        this.textProj = textProj;
    }

    /**
     * @param text {@code [B, L, text_dim]}
     * @param video {@code [B, F, C, H, W]} (F a multiple of {@code patch_size_t} when it is set)
     * @return {@code [B, L + N, D]}, N = (F/pt)(H/p)(W/p)
     */
    public NDArray forward(NDArray text, NDArray video) {
        Shape s = video.getShape();
        long b = s.get(0), f = s.get(1), c = s.get(2), h = s.get(3), w = s.get(4);
        long p = patchSize;
        // 1. Video patches
        NDArray tokens;
        if (patchSizeT == null) {
            // CogVideoX 1.0: Conv2d per frame
            NDArray frames = video.reshape(b * f, c, h, w);                                  // [B*F, C, H, W]
            NDArray conv = Conv2d.conv2d(frames, convWeight, convBias, new Shape(p, p)).singletonOrThrow();
            long d = conv.getShape().get(1);
            tokens = conv.reshape(b, f, d, (h / p) * (w / p))                               // [B, F, D, H'W']
                    .transpose(0, 1, 3, 2)                                                  // [B, F, H'W', D]
                    .reshape(b, f * (h / p) * (w / p), d);                                  // [B, N, D]
        } else {
            // CogVideoX 1.5: Linear over (c, pt, ph, pw) patch vectors
            long pt = patchSizeT;
            NDArray patches = video.transpose(0, 1, 3, 4, 2)                                // [B, F, H, W, C]
                    .reshape(new Shape(b, f / pt, pt, h / p, p, w / p, p, c))
                    .transpose(0, 1, 3, 5, 7, 2, 4, 6)                                      // [B, F', H', W', C, pt, p, p]
                    .reshape(b, (f / pt) * (h / p) * (w / p), c * pt * p * p);              // [B, N, C*pt*p*p]
            tokens = linearProj.forward(patches);                                           // [B, N, D]
        }
        // 2. Text tokens, then the joint sequence [text; video]
        NDArray textTokens = textProj.forward(text);                                        // [B, L, D]
        return textTokens.concat(tokens, 1);                                                // [B, L + N, D]
    }
}
