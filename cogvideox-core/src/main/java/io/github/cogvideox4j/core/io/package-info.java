/**
 * Safetensors I/O: reading single and sharded checkpoints into DJL arrays, and writing them.
 *
 * <ul>
 *   <li>{@link io.github.cogvideox4j.core.io.TensorSource} — named tensors to read (header parsed at open,
 *       bytes read lazily per tensor); implemented by
 *       {@link io.github.cogvideox4j.core.io.SafetensorsReader} (one file, any size) and
 *       {@link io.github.cogvideox4j.core.io.ShardedSafetensors} ({@code *.safetensors.index.json} + shards);
 *       {@link io.github.cogvideox4j.core.io.SafetensorsFiles} picks one of them in a Diffusers folder.</li>
 *   <li>{@link io.github.cogvideox4j.core.io.TensorInfo} — one header entry (dtype, shape, byte range);
 *       {@link io.github.cogvideox4j.core.io.SafetensorsDType} — the element types.</li>
 *   <li>{@link io.github.cogvideox4j.core.io.SafetensorsWriter} — writes DJL arrays or raw
 *       {@link io.github.cogvideox4j.core.io.TensorData} (e.g. BF16 bits) atomically, in the reference
 *       library's layout.</li>
 *   <li>{@link io.github.cogvideox4j.core.io.HalfPrecision} — exact F16/BF16 ↔ F32 bit conversions.</li>
 *   <li>{@link io.github.cogvideox4j.core.io.SafetensorsFormatException} — malformed content, naming file,
 *       tensor, expected and actual.</li>
 *   <li>{@link io.github.cogvideox4j.core.io.TorchSaveReader} — {@code torch.save} files ({@code .pt}, SAT/DeepSpeed
 *       checkpoints) through an allowlist unpickler that never runs anything the file names;
 *       {@link io.github.cogvideox4j.core.io.TorchTensor} (a strided view of a storage),
 *       {@link io.github.cogvideox4j.core.io.TorchSize}; refusals are
 *       {@link io.github.cogvideox4j.core.io.TorchSaveFormatException}s with a reason, both kinds of format error
 *       are {@link io.github.cogvideox4j.core.io.TensorFormatException}s.</li>
 *   <li>{@link io.github.cogvideox4j.core.io.DiffusersFolderWriter} — a transformer as a sharded Diffusers
 *       folder, from arrays or streamed from a {@link io.github.cogvideox4j.core.io.TensorSource}.</li>
 * </ul>
 *
 * <p>Safety: every header and every pickle is validated in Java (offsets, sizes, dtypes, overflow, duplicates) before any
 * tensor byte is handed to native code, and no BFLOAT16 array is ever created through DJL: BF16 and F16 are
 * widened to FLOAT32 in Java. Readers are safe for concurrent reads after open; the writer is stateless.
 */
package io.github.cogvideox4j.core.io;
