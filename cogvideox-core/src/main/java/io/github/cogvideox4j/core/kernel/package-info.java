/**
 * The TorchScript kernel pack: PyTorch's fused kernels that DJL 0.36 does not expose, reached through a tiny
 * TorchScript module the library writes itself, plus the guards that keep bad dtypes away from native code.
 *
 * <ul>
 *   <li>{@link io.github.cogvideox4j.core.kernel.KernelPack} — fused scaled dot-product attention (O(S)
 *       memory), tanh-GELU, and bf16/fp32 casts; differentiable under a DJL GradientCollector;</li>
 *   <li>{@link io.github.cogvideox4j.core.kernel.ReferenceKernels} — the same maths from plain DJL ops, for
 *       tests and benchmarks;</li>
 *   <li>{@link io.github.cogvideox4j.core.kernel.DTypeGuard} and
 *       {@link io.github.cogvideox4j.core.kernel.UnsupportedDTypeException} — reject BFLOAT16 and UNKNOWN
 *       (TorchScript-made bf16) before they reach JNI calls that abort the JVM.</li>
 * </ul>
 *
 * <p>Background and measurements: docs/djl-engine.md §5 and §6, docs/mixed-precision.md.
 */
package io.github.cogvideox4j.core.kernel;
