/**
 * The CogVideoX transformer ({@code CogVideoXTransformer3DModel} in diffusers) and its structure.
 * {@link io.github.cogvideox4j.core.model.ParameterLayout} names and shapes every tensor of its
 * {@code state_dict} for a config without allocating any.
 */
package io.github.cogvideox4j.core.model;
