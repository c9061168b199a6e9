package io.github.cogvideox4j.data;

/**
 * What to do, for CogVideoX1.5 ({@code patch_size_t = 2}), with a clip whose latent frame count
 * {@code (F - 1) / 4 + 1} is odd (docs/data-buckets.md §3).
 */
public enum OddLatentPolicy {
    /**
     * Trim here: drop the last 4 pixel frames (one latent frame), e.g. 49 -> 45 (13 -> 12 latents). The community
     * 1.5 trainer's rule. A one-frame clip (an image) cannot be trimmed and is left for padding.
     */
    TRIM,
    /**
     * Keep the odd count; the training objective prepends a copy of latent frame 0 (13 -> 14 latents). The official
     * rule (CogVideo trainer, SAT, diffusers pipelines), which the inference convention assumes. The default.
     */
    PAD_IN_OBJECTIVE
}
