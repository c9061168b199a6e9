package io.github.cogvideox4j.data.cache;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/**
 * The video VAE's encoder as the cache sees it: pixels in, posterior moments out. The core VAE is adapted to it by
 * {@link io.github.cogvideox4j.data.encode.VaeLatentEncoder}; tests plug in a small deterministic encoder.
 *
 * <p>Thread safety: implementations state theirs; the cache calls an encoder from one thread at a time.
 */
public interface LatentEncoder {
    /**
     * A string that changes whenever the encoder's output can change: model name, weights hash, precision,
     * tiling. Part of every {@link CacheKey}, so a changed encoder never reads another encoder's entries.
     *
     * @return e.g. {@code "cogvideox-vae/sha256:ab12.../fp32"}
     */
    String identity();

    /**
     * The VAE's {@code scaling_factor} (0.7 for CogVideoX-5B and 1.5, 1.15258426 for 2B), applied to a sampled
     * latent at training time and recorded in cache files.
     *
     * @return the scaling factor
     */
    float scalingFactor();

    /**
     * Encodes pixels to the diagonal Gaussian's moments, unscaled.
     *
     * @param pixels {@code [F, 3, H, W]} float32 in [-1, 1] (not closed by this call)
     * @param manager owner of the result
     * @return {@code [2C, F_lat, h, w]}: mean on the first C channels, log-variance on the last C (diffusers
     *     {@code vae._encode} output, cogvideox-factory's stored layout), owned by {@code manager}
     */
    NDArray encodeMoments(NDArray pixels, NDManager manager);
}
