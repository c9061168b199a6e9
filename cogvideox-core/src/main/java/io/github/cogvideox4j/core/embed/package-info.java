/**
 * Position and time tables of CogVideoX, computed exactly as Diffusers does; pure functions of a config and a grid,
 * cacheable per bucket.
 *
 * <ul>
 *   <li>{@link io.github.cogvideox4j.core.embed.RopeGrid}: the token grid a RoPE table is built for (1.0 "linspace"
 *       crop-region grid, 1.5 "slice" grid), with the pipeline's choice ({@code forPipeline}) and the factories the
 *       training scripts need.</li>
 *   <li>{@link io.github.cogvideox4j.core.embed.RotaryPositionalEmbedding3d}: the 3-D RoPE cos/sin tables
 *       {@code [tokens, headDim]} (host float arrays, {@code RopeTables.toNDList} for the engine).</li>
 *   <li>{@link io.github.cogvideox4j.core.embed.Timesteps}: the sinusoidal timestep / OFS projection {@code [B, dim]}
 *       (engine operations, float32 like PyTorch).</li>
 *   <li>{@link io.github.cogvideox4j.core.embed.SinCosPositionalEmbedding3d}: the additive 3-D sincos table of
 *       CogVideoX-2b.</li>
 * </ul>
 *
 * <p>Everything here is stateless or immutable and safe to share between threads; only
 * {@code Timesteps.sinusoid} and {@code RopeTables.toNDList} allocate NDArrays, in the manager the caller names.
 */
package io.github.cogvideox4j.core.embed;
