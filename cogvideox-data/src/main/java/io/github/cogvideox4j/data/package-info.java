/**
 * CogVideoX4J data: dataset manifests, media probing and decoding, multi-resolution buckets, latent and
 * embedding caches, and a prefetching batch loader. Filled by the data issue; depends on
 * {@code cogvideox-core} only.
 */
package io.github.cogvideox4j.data;
