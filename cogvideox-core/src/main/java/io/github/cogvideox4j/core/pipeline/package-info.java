/**
 * Video generation. {@link io.github.cogvideox4j.core.pipeline.CogVideoXPipeline} loads a Diffusers pipeline folder
 * and runs text-to-video or image-to-video end to end ({@link io.github.cogvideox4j.core.pipeline.GenerationRequest}
 * in, a {@code [B, F, 3, H, W]} video in [0, 1] out); prompts are turned into embeddings by a pluggable
 * {@link io.github.cogvideox4j.core.pipeline.PromptEncoder}, or embeddings are passed directly.
 * {@link io.github.cogvideox4j.core.pipeline.CogVideoXSampler} is its denoising loop (classifier-free guidance with
 * a {@code [negative, positive]} batch, dynamic CFG, OFS, the 1.5 frame padding) from prompt embeddings to latents
 * ({@link io.github.cogvideox4j.core.pipeline.SamplingRequest} in,
 * {@link io.github.cogvideox4j.core.pipeline.SamplingResult} out). Every random draw comes from an injectable
 * {@link io.github.cogvideox4j.core.pipeline.NoiseSource}; a
 * {@link io.github.cogvideox4j.core.pipeline.StepListener} sees each
 * {@link io.github.cogvideox4j.core.pipeline.DenoisingStep}.
 *
 * <p>Thread safety: requests and results are immutable records of arrays; pipeline and sampler are confined to one
 * thread.
 */
package io.github.cogvideox4j.core.pipeline;
