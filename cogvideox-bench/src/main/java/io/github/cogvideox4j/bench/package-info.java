/**
 * JMH benchmarks of the hot paths. Every result states whether the MKL vendor switch was on; ratios are
 * taken within one run against a plain GEMM of the same FLOPs or against reading the same bytes.
 */
package io.github.cogvideox4j.bench;
