/**
 * Configuration records read from the real Diffusers {@code config.json} files:
 * {@link io.github.cogvideox4j.core.config.CogVideoXConfig} (the transformer),
 * {@link io.github.cogvideox4j.core.config.CogVideoXVariant} (which release a config belongs to),
 * {@link io.github.cogvideox4j.core.config.ConfigException} (what is wrong with a file or value).
 * All types here are immutable and thread-safe.
 */
package io.github.cogvideox4j.core.config;
