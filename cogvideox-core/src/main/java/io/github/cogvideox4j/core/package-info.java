/**
 * CogVideoX4J core: the CogVideoX transformer and its pieces on DJL + PyTorch.
 *
 * <ul>
 *   <li>{@link io.github.cogvideox4j.core.config} — configuration records read from {@code config.json};</li>
 *   <li>{@link io.github.cogvideox4j.core.io} — safetensors reading/writing and Diffusers folders;</li>
 *   <li>{@link io.github.cogvideox4j.core.embed} — timestep, OFS, sincos and rotary embeddings;</li>
 *   <li>{@link io.github.cogvideox4j.core.kernel} — the TorchScript kernel pack (fused attention, GELU-tanh)
 *       and the guards that keep bad dtypes away from native code;</li>
 *   <li>{@link io.github.cogvideox4j.core.model} — the transformer, its blocks and its input record.</li>
 * </ul>
 *
 * <p>{@link io.github.cogvideox4j.core.CogVideoXException} is the root of the unchecked domain exceptions.
 */
package io.github.cogvideox4j.core;
