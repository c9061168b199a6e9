/**
 * The diffusion side of CogVideoX (noise schedule, training objective, samplers), exact to the Diffusers reference.
 *
 * <ul>
 *   <li>{@link io.github.cogvideox4j.core.schedule.CogVideoXScheduler}: the noise schedule (float64 tables with the
 *       SNR shift and zero-terminal-SNR rescale, trailing timesteps, {@code addNoise}, {@code getVelocity}, loss
 *       weights), read from a {@code scheduler_config.json} ({@link io.github.cogvideox4j.core.schedule.SchedulerConfig});
 *       its two samplers {@link io.github.cogvideox4j.core.schedule.CogVideoXDdimScheduler} (deterministic DDIM) and
 *       {@link io.github.cogvideox4j.core.schedule.CogVideoXDpmScheduler} (stochastic DPM-Solver++(2M) with injectable
 *       noise); a step returns a {@link io.github.cogvideox4j.core.schedule.SchedulerStep}.</li>
 *   <li>{@link io.github.cogvideox4j.core.schedule.CogVideoXObjective}: the v-prediction training loss with weight
 *       {@code 1 / (1 - alpha_bar)}, on a {@link io.github.cogvideox4j.core.schedule.TrainingInput} whose random draws
 *       are explicit; {@link io.github.cogvideox4j.core.schedule.ObjectiveResult} keeps the intermediates.</li>
 *   <li>Helpers around it: {@link io.github.cogvideox4j.core.schedule.TimestepSampler} (uniform, seeded),
 *       {@link io.github.cogvideox4j.core.schedule.ImageConditioning} and
 *       {@link io.github.cogvideox4j.core.schedule.ImageLatentScale} (I2V noise augmentation, padding, dropout, the
 *       1.5 scale caveat), {@link io.github.cogvideox4j.core.schedule.CaptionDropout}.</li>
 * </ul>
 *
 * <p>Errors are {@link io.github.cogvideox4j.core.schedule.SchedulerException}s whose messages name the expected and
 * actual values. Schedulers and recipes are immutable and thread-safe; arrays are owned by the caller.
 */
package io.github.cogvideox4j.core.schedule;
