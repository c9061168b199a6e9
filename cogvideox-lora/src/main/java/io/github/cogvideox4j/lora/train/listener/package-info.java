/**
 * Ready-made {@link io.github.cogvideox4j.lora.train.TrainingListener}s: SLF4J logging
 * ({@link io.github.cogvideox4j.lora.train.listener.LoggingListener}), {@code metrics.jsonl}
 * ({@link io.github.cogvideox4j.lora.train.listener.JsonlMetricsListener}), TensorBoard event files
 * ({@link io.github.cogvideox4j.lora.train.listener.TensorBoardListener}), a console progress bar
 * ({@link io.github.cogvideox4j.lora.train.listener.ProgressBarListener}, needs the optional
 * {@code me.tongfei:progressbar}) and a loss-curve PNG
 * ({@link io.github.cogvideox4j.lora.train.listener.LossCurveListener}, needs the optional
 * {@code org.knowm.xchart:xchart}). Every file listener stays consistent after a resume: on
 * {@code onStart(firstStep = k + 1)} it drops or supersedes what a previous process wrote after step {@code k}.
 * {@link io.github.cogvideox4j.lora.train.FineTuner} isolates their failures (see
 * {@link io.github.cogvideox4j.lora.train.TrainingListener}): a failing listener is logged and never stops training.
 *
 * <p>Threading: listeners are called on the training thread; none is safe for concurrent calls.
 */
package io.github.cogvideox4j.lora.train.listener;
