/**
 * The command-line entry point ({@link io.github.cogvideox4j.lora.cli.CogVideoXCli}): the README's main job
 * ({@code demo}), training ({@code train}), dataset preparation ({@code prepare}), the LoRA file tools
 * ({@code lora inspect}, {@code lora convert}, {@code lora merge}) and the launcher of multi-rank runs
 * ({@code launch}). Console-only dependencies (picocli, logback) are optional dependencies of this module, so library users
 * do not inherit them.
 */
package io.github.cogvideox4j.lora.cli;
