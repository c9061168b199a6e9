/**
 * CogVideoX4J data: dataset manifests, media probing and decoding, multi-resolution buckets, latent and
 * embedding caches, and a prefetching batch loader. Depends on {@code cogvideox-core} only.
 *
 * <p>Buckets: {@link io.github.cogvideox4j.data.Bucket}, {@link io.github.cogvideox4j.data.BucketRule} (the rules of
 * finetrainers, cogvideox-factory, CogVideo and the community 1.5 trainer, reproduced case for case, and our default),
 * {@link io.github.cogvideox4j.data.FrameRule} (per-model frame and size rules, the 1.5 odd-latent policy),
 * {@link io.github.cogvideox4j.data.BucketSampler} (seeded, global shuffle, resumable, sharded batch plans) and its
 * {@link io.github.cogvideox4j.data.BucketReport}. See {@code docs/data-buckets.md}.
 */
package io.github.cogvideox4j.data;
