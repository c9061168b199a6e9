/**
 * JMH benchmarks of the hot paths. Every result states whether the MKL vendor switch was on; ratios are
 * taken within one run against a plain GEMM of the same FLOPs or against reading the same bytes. Besides the JMH
 * classes, a few mains print tables: attention memory, the training step ({@code TrainingStepBench}, with its cases
 * {@code TrainingBenchCase}, modes {@code TrainingStepMode} and FLOP model {@code TrainingFlops}) and the memory soaks
 * ({@code ForwardBackwardSoak}, {@code TrainingSoak}).
 */
package io.github.cogvideox4j.bench;
