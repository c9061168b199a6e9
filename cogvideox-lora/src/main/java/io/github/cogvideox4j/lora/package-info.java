/**
 * CogVideoX4J LoRA: {@link io.github.cogvideox4j.lora.LoraAdapter} (inject into a transformer with PEFT's
 * semantics, load, merge/unmerge, scale, save), {@link io.github.cogvideox4j.lora.LoraConfig}, the Diffusers/PEFT
 * writer {@link io.github.cogvideox4j.lora.LoraExporter} and the reader of Diffusers/PEFT, finetrainers and SAT files
 * {@link io.github.cogvideox4j.lora.LoraImporter} (key names in {@link io.github.cogvideox4j.lora.LoraKeys}).
 * Training pieces are in {@code .train}; the command-line tools in {@code .cli}.
 */
package io.github.cogvideox4j.lora;
