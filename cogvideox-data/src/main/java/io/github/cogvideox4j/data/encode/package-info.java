/**
 * Adapters from the core CogVideoX models to the cache's encoder interfaces: {@link
 * io.github.cogvideox4j.data.encode.VaeLatentEncoder} (video VAE moments), {@link
 * io.github.cogvideox4j.data.encode.T5TextEncoder} (T5 prompt embeddings), and {@link
 * io.github.cogvideox4j.data.encode.WeightsIdentity}, the model-folder fingerprint their identities carry so that
 * cache entries of changed weights are never reused. The data module depends on core, never the reverse.
 */
package io.github.cogvideox4j.data.encode;
