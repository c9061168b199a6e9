/**
 * Pure training pieces (the fine-tuning loop builds on them): {@link io.github.cogvideox4j.lora.train.AdamW} with
 * restorable {@link io.github.cogvideox4j.lora.train.OptimizerState}, global-norm
 * {@link io.github.cogvideox4j.lora.train.GradientClipper}, Diffusers' learning-rate schedules
 * ({@link io.github.cogvideox4j.lora.train.LearningRateSchedule}) and leak-free gradient access
 * ({@link io.github.cogvideox4j.lora.train.Gradients}). All match PyTorch/Diffusers formulas (see each type).
 */
package io.github.cogvideox4j.lora.train;
