package io.github.cogvideox4j.core.schedule;

import ai.djl.ndarray.NDArray;
import com.google.common.base.Preconditions;

/**
 * The explicit inputs of one {@link CogVideoXObjective} evaluation: every random draw of the reference training
 * step (timesteps, noise) is an argument, so tests and research loops can fix them.
 *
 * <ul>
 *   <li>{@code latents} {@code [B, F, C, h, w]}: clean VAE latents times the VAE scaling factor, frame-major. For
 *       CogVideoX1.5 ({@code patch_size_t = 2}) F may be odd: the objective prepends a copy of latent frame 0 (the
 *       official rule, CogVideo {@code finetune/models/cogvideox_t2v/lora_trainer.py}).</li>
 *   <li>{@code promptEmbeds} {@code [B, L, text_embed_dim]}.</li>
 *   <li>{@code timesteps} {@code [B]} INT64 in {@code [0, T)}.</li>
 *   <li>{@code noise} {@code [B, F_padded, C, h, w]}: standard normal, at the padded frame count.</li>
 *   <li>{@code imageLatents} (image-to-video only): {@code [B, 1, C, h, w]} (the first frame; zero-padded to
 *       {@code F_padded} frames) or {@code [B, F_padded, C, h, w]} (used as given). Concatenated on the channel
 *       axis after {@code addNoise}; never noised.</li>
 *   <li>{@code ofs} {@code [1]} or {@code [B]}: CogVideoX1.5-5B-I2V only (the reference passes 2.0).</li>
 *   <li>{@code rotaryCos}/{@code rotarySin} {@code [N, head_dim]}: an explicit RoPE table; otherwise the model
 *       builds the pipeline's table for the (padded) latent size. The Diffusers training scripts build theirs
 *       against a hard-coded 480x720 base, so pass it to reproduce them.</li>
 * </ul>
 *
 * <p>The arrays stay owned by the caller; the objective never closes them. Thread safety: an immutable record of
 * references to (mutable, not thread-safe) arrays.
 *
 * @param latents {@code [B, F, C, h, w]} clean latents
 * @param promptEmbeds {@code [B, L, D_text]}
 * @param timesteps {@code [B]} INT64
 * @param noise {@code [B, F_padded, C, h, w]}
 * @param imageLatents {@code [B, 1 or F_padded, C, h, w]} or {@code null}
 * @param ofs {@code [1]} or {@code [B]} or {@code null}
 * @param rotaryCos {@code [N, head_dim]} or {@code null}
 * @param rotarySin {@code [N, head_dim]} or {@code null}
 * @param sincosAtUntrainedSize passed to {@link io.github.cogvideox4j.core.model.TransformerInput}: 5b-I2V at a size
 *     its learned positional table does not cover uses the 3D sincos table (a documented departure, for buckets)
 */
public record TrainingInput(
        NDArray latents,
        NDArray promptEmbeds,
        NDArray timesteps,
        NDArray noise,
        NDArray imageLatents,
        NDArray ofs,
        NDArray rotaryCos,
        NDArray rotarySin,
        boolean sincosAtUntrainedSize) {

    /** Checks that the four required arrays are present and the RoPE table comes as a pair. */
    public TrainingInput {
        Preconditions.checkNotNull(latents, "latents");
        Preconditions.checkNotNull(promptEmbeds, "promptEmbeds");
        Preconditions.checkNotNull(timesteps, "timesteps");
        Preconditions.checkNotNull(noise, "noise");
        Preconditions.checkArgument((rotaryCos == null) == (rotarySin == null),
                "rotary cos and sin tables must be given together");
    }

    /**
     * @param latents {@code [B, F, C, h, w]} clean latents
     * @param promptEmbeds {@code [B, L, D_text]}
     * @param timesteps {@code [B]} INT64
     * @param noise {@code [B, F_padded, C, h, w]}
     * @return a text-to-video input without OFS and with the model-built RoPE table
     */
    public static TrainingInput of(NDArray latents, NDArray promptEmbeds, NDArray timesteps, NDArray noise) {
        return new TrainingInput(latents, promptEmbeds, timesteps, noise, null, null, null, null, false);
    }

    /**
     * @param image {@code [B, 1, C, h, w]} or {@code [B, F_padded, C, h, w]} image latents (I2V)
     * @return a copy with image latents
     */
    public TrainingInput withImageLatents(NDArray image) {
        return new TrainingInput(latents, promptEmbeds, timesteps, noise, image, ofs, rotaryCos, rotarySin,
                sincosAtUntrainedSize);
    }

    /**
     * @param ofsValue {@code [1]} or {@code [B]} (CogVideoX1.5-5B-I2V; the reference passes 2.0)
     * @return a copy with OFS
     */
    public TrainingInput withOfs(NDArray ofsValue) {
        return new TrainingInput(latents, promptEmbeds, timesteps, noise, imageLatents, ofsValue, rotaryCos,
                rotarySin, sincosAtUntrainedSize);
    }

    /**
     * @param cos {@code [N_video_tokens, head_dim]}
     * @param sin {@code [N_video_tokens, head_dim]}
     * @return a copy with an explicit RoPE table
     */
    public TrainingInput withRotaryEmbedding(NDArray cos, NDArray sin) {
        return new TrainingInput(latents, promptEmbeds, timesteps, noise, imageLatents, ofs, cos, sin,
                sincosAtUntrainedSize);
    }

    /**
     * Opts into the 3D sincos positional table where 5b-I2V's learned table does not cover the latent size (see
     * {@link io.github.cogvideox4j.core.model.TransformerInput#withSincosAtUntrainedSize()}).
     *
     * @return a copy with the opt-in set
     */
    public TrainingInput withSincosAtUntrainedSize() {
        return new TrainingInput(latents, promptEmbeds, timesteps, noise, imageLatents, ofs, rotaryCos, rotarySin,
                true);
    }
}
