/**
 * Batch loading: a background thread turns a batch plan (groups of sample indices, e.g. from a bucket sampler)
 * into {@link io.github.cogvideox4j.data.loader.Batch}es that own their native memory, through a bounded
 * prefetch queue.
 *
 * <ul>
 *   <li>{@link io.github.cogvideox4j.data.loader.BatchLoader} — the prefetching iterator;</li>
 *   <li>{@link io.github.cogvideox4j.data.loader.SampleSource} — index to
 *       {@link io.github.cogvideox4j.data.loader.TrainingSample}; implemented over our cache by
 *       {@link io.github.cogvideox4j.data.loader.CachedSampleSource} and over the CogVideo trainer's cache by
 *       {@link io.github.cogvideox4j.data.loader.CogVideoTrainerSampleSource};</li>
 *   <li>{@link io.github.cogvideox4j.data.loader.LoaderOptions},
 *       {@link io.github.cogvideox4j.data.loader.BadSamplePolicy},
 *       {@link io.github.cogvideox4j.data.loader.SkippedSample},
 *       {@link io.github.cogvideox4j.data.loader.SampleLoadException} — depth, seed and bad-sample handling.</li>
 * </ul>
 */
package io.github.cogvideox4j.data.loader;
