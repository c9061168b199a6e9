/**
 * CogVideoX4J LoRA: injection, merge/unmerge and Diffusers/PEFT export and import of LoRA adapters, and
 * (in {@code .train}) the fine-tuning loop. Filled by the LoRA issue.
 */
package io.github.cogvideox4j.lora;
