/**
 * The command-line entry point ({@link io.github.cogvideox4j.lora.cli.CogVideoXCli}): training ({@code train}; without
 * a config the README's main job, the built-in tiny default), the raw-media walk-through ({@code demo-media}), the
 * installation self-check ({@code selfcheck}), dataset preparation ({@code prepare}), the LoRA file tools
 * ({@code lora inspect}, {@code lora convert}, {@code lora merge}), the launcher of multi-rank runs ({@code launch}),
 * and the tools for what the Python trainers leave behind ({@code convert sat}, {@code inspect} of {@code .pt} and
 * {@code .safetensors} files). Console-only dependencies (picocli, logback) are optional dependencies of this module, so library users
 * do not inherit them.
 */
package io.github.cogvideox4j.lora.cli;
