/**
 * Latent and embedding caches: the CogVideo trainer's cache as it is on disk, VAE moments sampled per step, and
 * our own content-addressed cache, filled through the {@link io.github.cogvideox4j.data.cache.LatentEncoder} and
 * {@link io.github.cogvideox4j.data.cache.TextEncoder} interfaces.
 *
 * <ul>
 *   <li>{@link io.github.cogvideox4j.data.cache.LatentCache} — one safetensors file per (sample, bucket), keyed
 *       by {@link io.github.cogvideox4j.data.cache.CacheKey} (content hash, prompt hash, encoder identities,
 *       bucket, dtype, preprocessing), written atomically, verified on read;</li>
 *   <li>{@link io.github.cogvideox4j.data.cache.CachedSample} — what an entry holds (unscaled moments, prompt
 *       embedding, I2V image moments and noise sigma);</li>
 *   <li>{@link io.github.cogvideox4j.data.cache.CachePreparer} — manifest entry + frame plan to a cache entry;</li>
 *   <li>{@link io.github.cogvideox4j.data.cache.VaeMoments} — sampling {@code mean + exp(logvar / 2) eps};</li>
 *   <li>{@link io.github.cogvideox4j.data.cache.CogVideoTrainerCache} — reads
 *       {@code cache/video_latent/...} and {@code cache/prompt_embeddings/...}.</li>
 * </ul>
 */
package io.github.cogvideox4j.data.cache;
