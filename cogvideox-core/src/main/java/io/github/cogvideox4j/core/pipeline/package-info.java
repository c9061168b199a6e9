/**
 * Validation sampling over the JVM transformer: {@link io.github.cogvideox4j.core.pipeline.CogVideoXSampler} runs the
 * text-to-video and image-to-video denoising loops of the Diffusers CogVideoX pipelines (classifier-free guidance
 * with a {@code [negative, positive]} batch, dynamic CFG, OFS, the 1.5 frame padding) from prompt embeddings to
 * latents ({@link io.github.cogvideox4j.core.pipeline.SamplingRequest} in,
 * {@link io.github.cogvideox4j.core.pipeline.SamplingResult} out, written as safetensors for a VAE elsewhere).
 * Every random draw comes from an injectable {@link io.github.cogvideox4j.core.pipeline.NoiseSource}; a
 * {@link io.github.cogvideox4j.core.pipeline.StepListener} sees each
 * {@link io.github.cogvideox4j.core.pipeline.DenoisingStep}.
 *
 * <p>Thread safety: requests and results are immutable records of arrays; the sampler is confined to one thread.
 */
package io.github.cogvideox4j.core.pipeline;
