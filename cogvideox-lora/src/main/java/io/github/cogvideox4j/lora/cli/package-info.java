/**
 * The command-line entry point ({@link io.github.cogvideox4j.lora.cli.CogVideoXCli}): the README's main job
 * ({@code demo}), training ({@code train}), dataset preparation ({@code prepare}), the LoRA file tools
 * ({@code lora inspect}, {@code lora convert}, {@code lora merge}), the launcher of multi-rank runs ({@code launch}),
 * and the tools for what the Python trainers leave behind ({@code convert sat}, {@code inspect} of {@code .pt} and
 * {@code .safetensors} files). Console-only dependencies (picocli, logback) are optional dependencies of this module, so library users
 * do not inherit them.
 */
package io.github.cogvideox4j.lora.cli;
