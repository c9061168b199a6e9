/**
 * The CogVideoX video VAE ({@code AutoencoderKLCogVideoX} in diffusers, releases 1.0 and 1.5): causal 3D encoder and
 * decoder with frame chunking and conv caches, slicing and tiling. Entry point:
 * {@link io.github.cogvideox4j.core.vae.AutoencoderKLCogVideoX}.
 */
package io.github.cogvideox4j.core.vae;
