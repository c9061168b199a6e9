package io.github.cogvideox4j.core.model;

import ai.djl.ndarray.NDArray;
import com.google.common.base.Preconditions;

/**
 * The inputs of one {@link CogVideoXTransformer#forward(TransformerInput)} call, as the Diffusers
 * {@code CogVideoXTransformer3DModel.forward} takes them.
 *
 * <ul>
 *   <li>{@code hiddenStates} {@code [B, F, C_in, H, W]} latent video, frame-major (the VAE's
 *       {@code [B, C, F, H, W]} permuted); for image-to-video {@code C_in = 2 x C_out}: noisy latents first, then
 *       image latents.</li>
 *   <li>{@code encoderHiddenStates} {@code [B, L, text_embed_dim]} T5 embeddings ({@code L = 226} for the released
 *       models; models with a sincos or learned positional table require {@code L = max_text_seq_length}).</li>
 *   <li>{@code timestep} {@code [B]} (or {@code [1]}, broadcast) diffusion timesteps, INT64 or FLOAT32.</li>
 *   <li>{@code ofs} {@code [1]} or {@code [B]}: the OFS value of CogVideoX1.5-5B-I2V (the reference always passes
 *       2.0); required by models with an OFS embedding, refused by the others.</li>
 *   <li>{@code rotaryCos}, {@code rotarySin} {@code [N_video_tokens, head_dim]}: an explicit RoPE table; when
 *       absent the model builds the table the Diffusers pipelines build for the input's latent size.</li>
 *   <li>{@code sincosAtUntrainedSize}: for models with a learned positional table (CogVideoX-5b-I2V), use the 3D
 *       sincos table at a height/width the learned table does not cover instead of failing as the reference
 *       does. A documented departure from the reference, for bucket training.</li>
 * </ul>
 *
 * <p>The arrays stay owned by the caller; {@code forward} does not close them. Results and temporaries of the
 * forward pass live in the manager of {@code hiddenStates}.
 *
 * <p>Thread safety: an immutable record of references to (mutable, not thread-safe) arrays.
 *
 * @param hiddenStates {@code [B, F, C_in, H, W]}
 * @param encoderHiddenStates {@code [B, L, text_embed_dim]}
 * @param timestep {@code [B]} or {@code [1]}
 * @param ofs {@code [1]} or {@code [B]}, or {@code null}
 * @param rotaryCos {@code [N, head_dim]} or {@code null}
 * @param rotarySin {@code [N, head_dim]} or {@code null}
 * @param sincosAtUntrainedSize opt-in to sincos positions where a learned table does not fit
 */
public record TransformerInput(
        NDArray hiddenStates,
        NDArray encoderHiddenStates,
        NDArray timestep,
        NDArray ofs,
        NDArray rotaryCos,
        NDArray rotarySin,
        boolean sincosAtUntrainedSize) {

    /** Checks that the three required arrays are present and the RoPE table comes as a pair. */
    public TransformerInput {
        Preconditions.checkNotNull(hiddenStates, "hiddenStates");
        Preconditions.checkNotNull(encoderHiddenStates, "encoderHiddenStates");
        Preconditions.checkNotNull(timestep, "timestep");
        Preconditions.checkArgument((rotaryCos == null) == (rotarySin == null),
                "rotary cos and sin tables must be given together");
    }

    /**
     * @param hiddenStates {@code [B, F, C_in, H, W]}
     * @param encoderHiddenStates {@code [B, L, text_embed_dim]}
     * @param timestep {@code [B]} or {@code [1]}
     * @return an input without OFS and with the model-built RoPE table
     */
    public static TransformerInput of(NDArray hiddenStates, NDArray encoderHiddenStates, NDArray timestep) {
        return new TransformerInput(hiddenStates, encoderHiddenStates, timestep, null, null, null, false);
    }

    /**
     * @param ofsValue {@code [1]} or {@code [B]} OFS values (CogVideoX1.5-5B-I2V only; the reference passes 2.0)
     * @return a copy with OFS
     */
    public TransformerInput withOfs(NDArray ofsValue) {
        return new TransformerInput(hiddenStates, encoderHiddenStates, timestep, ofsValue, rotaryCos, rotarySin,
                sincosAtUntrainedSize);
    }

    /**
     * Uses an explicit RoPE table instead of the one the model builds (the Diffusers training scripts build theirs
     * against a hard-coded 480x720 base).
     *
     * @param cos {@code [N_video_tokens, head_dim]}
     * @param sin {@code [N_video_tokens, head_dim]}
     * @return a copy with the table
     */
    public TransformerInput withRotaryEmbedding(NDArray cos, NDArray sin) {
        return new TransformerInput(hiddenStates, encoderHiddenStates, timestep, ofs, cos, sin,
                sincosAtUntrainedSize);
    }

    /**
     * Opts into the 3D sincos positional table where a learned table (CogVideoX-5b-I2V) does not cover the input's
     * height and width. The reference refuses such inputs; this departure allows bucket training.
     *
     * @return a copy with the opt-in set
     */
    public TransformerInput withSincosAtUntrainedSize() {
        return new TransformerInput(hiddenStates, encoderHiddenStates, timestep, ofs, rotaryCos, rotarySin, true);
    }
}
