/**
 * Fine-tuning: pure training pieces — {@link io.github.cogvideox4j.lora.train.AdamW} with restorable
 * {@link io.github.cogvideox4j.lora.train.OptimizerState}, global-norm
 * {@link io.github.cogvideox4j.lora.train.GradientClipper}, Diffusers' learning-rate schedules
 * ({@link io.github.cogvideox4j.lora.train.LearningRateSchedule}) and leak-free gradient access
 * ({@link io.github.cogvideox4j.lora.train.Gradients}), all matching PyTorch/Diffusers formulas — and the run's
 * infrastructure: the YAML/JSON {@link io.github.cogvideox4j.lora.train.TrainingConfig} validated as a whole,
 * atomic keep-last-N {@link io.github.cogvideox4j.lora.train.CheckpointStore} with
 * {@link io.github.cogvideox4j.lora.train.Provenance}, validation videos sampled during the run
 * ({@link io.github.cogvideox4j.lora.train.ValidationVideos}: MP4 and PNG contact sheet per prompt at fixed seeds),
 * and the
 * {@link io.github.cogvideox4j.lora.train.TrainingListener} contract (implementations in
 * {@code io.github.cogvideox4j.lora.train.listener}).
 *
 * <p>Across processes: {@link io.github.cogvideox4j.lora.train.FineTuner} and
 * {@link io.github.cogvideox4j.lora.train.TrainingRun} take a {@code ProcessGroup}; the gradients are averaged in flat
 * buckets ({@link io.github.cogvideox4j.lora.train.FlatLayout}), a full fine-tune shards its AdamW state
 * ({@link io.github.cogvideox4j.lora.train.ShardedAdamW}, ZeRO-1), and checkpoints hold every rank's shard with a
 * manifest that lets a run resume at another world size.
 */
package io.github.cogvideox4j.lora.train;
