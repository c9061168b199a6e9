package io.github.cogvideox4j.core.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.github.cogvideox4j.core.kernel.KernelPack;
import java.util.Map;
import java.util.Set;

/**
 * Named tensors in a file: safetensors, one file ({@link SafetensorsReader}) or a sharded folder
 * ({@link ShardedSafetensors}); or a {@code torch.save} file ({@link TorchSaveReader}, and the SAT checkpoint view
 * {@code io.github.cogvideox4j.core.model.SatCheckpoint}). Headers (or the pickle) are read and validated when the
 * source is opened; tensor bytes are read lazily, one tensor per call, and every byte is checked (size, dtype, BOOL
 * values) in Java before it reaches native code.
 *
 * <p>Dtype handling of {@link #read(String, NDManager, DataType)}:
 * <table>
 *   <caption>stored dtype to DJL data type</caption>
 *   <tr><th>stored</th><th>target FLOAT32</th><th>target FLOAT16</th></tr>
 *   <tr><td>F32</td><td>FLOAT32 (a view of the mapped file, or bytes copied)</td><td>FLOAT16 (DJL rounds)</td></tr>
 *   <tr><td>F16</td><td>FLOAT32 (widened in Java, exact)</td><td>FLOAT16 (bytes copied)</td></tr>
 *   <tr><td>BF16</td><td>FLOAT32 (widened exactly: by libtorch from the mapped file for a safetensors file
 *       on the CPU, else in Java)</td><td>FLOAT16 via FLOAT32: values above 65504 become infinite, values
 *       below about 6e-8 become zero, 16 → 11 significant bits</td></tr>
 *   <tr><td>F64, I64, I32, I8, U8, BOOL</td><td colspan="2">their own DJL type (FLOAT64, INT64, INT32, INT8,
 *       UINT8, BOOLEAN); the target is ignored</td></tr>
 *   <tr><td>I16</td><td colspan="2">INT32, widened in Java (DJL's PyTorch engine cannot create INT16
 *       arrays)</td></tr>
 * </table>
 * No BFLOAT16 array is ever created through DJL (that aborts the JVM).
 *
 * <p>Ownership: arrays returned by {@code read} belong to the {@code manager} passed in, stay valid after the
 * source is closed and may be modified in place without changing the file. A {@link SafetensorsReader} gives
 * floating-point tensors as views of a private, copy-on-write mapping of the file (see its class comment): such
 * a file must not be truncated or rewritten in place while the arrays live; replace it by renaming instead.
 *
 * <p>Thread safety: after opening, all methods may be called concurrently from several threads; closing
 * while reads are in flight makes those reads fail. Files must not be modified while a source is open.
 *
 * <p>Exceptions: a {@link TensorFormatException} for content problems (absent tensor, non-float dtype
 * for {@link #readFloats}, tensor too large for one array): {@link SafetensorsFormatException} from safetensors
 * sources, {@link TorchSaveFormatException} from {@code torch.save} ones; {@link java.io.UncheckedIOException} for I/O
 * failures while reading tensor bytes; {@link IllegalStateException} after {@link #close()}.
 */
public interface TensorSource extends AutoCloseable {

    /**
     * @return the tensor names, unmodifiable, in storage order: by offset within a file; for a sharded
     *     folder, shard by shard in file-name order
     */
    Set<String> names();

    /**
     * @param name a tensor name
     * @return whether the source holds that tensor
     */
    default boolean contains(String name) {
        return names().contains(name);
    }

    /**
     * @param name a tensor name
     * @return the header entry of that tensor
     * @throws TensorFormatException naming the file and the tensor if there is no such tensor
     */
    TensorInfo info(String name);

    /**
     * @return the string metadata ({@code __metadata__} of a file; the index's {@code "metadata"} of a
     *     sharded folder, non-string values given as their JSON text), unmodifiable, possibly empty
     */
    Map<String, String> metadata();

    /**
     * Reads one tensor into a new array owned by {@code manager} (see the class comment for the dtype
     * rules).
     *
     * @param name the tensor's name
     * @param manager the manager that will own the returned array (its device is honoured)
     * @param target {@link DataType#FLOAT32} or {@link DataType#FLOAT16}: the type of floating-point results
     * @return a new array with the tensor's shape, owned by {@code manager}; the caller closes it (or the
     *     manager)
     * @throws TensorFormatException if the tensor is absent, larger than 2 GiB, or a BOOL tensor holds a
     *     byte other than 0 or 1
     * @throws IllegalArgumentException if {@code target} is neither FLOAT32 nor FLOAT16
     * @throws java.io.UncheckedIOException if reading the bytes fails
     */
    NDArray read(String name, NDManager manager, DataType target);

    /**
     * Reads one tensor with floating-point results as FLOAT32; same as
     * {@code read(name, manager, DataType.FLOAT32)}.
     *
     * @param name the tensor's name
     * @param manager the manager that will own the returned array
     * @return a new array owned by {@code manager}
     */
    default NDArray read(String name, NDManager manager) {
        return read(name, manager, DataType.FLOAT32);
    }

    /**
     * Reads a floating-point tensor for <b>bf16 storage</b>: a bf16 array made inside the kernel pack (DJL reports
     * it as {@link DataType#UNKNOWN}; pass it only to {@link KernelPack} methods and the model's bf16 paths). By
     * default the tensor is read as FLOAT32 and cast by {@code pack} (exact for BF16 tensors, rounded to nearest
     * even otherwise); a {@link SafetensorsReader} gives BF16 tensors as views of the mapped file instead.
     *
     * @param name the tensor's name
     * @param manager the manager that will own the returned array
     * @param pack the kernel pack that casts
     * @return a new bf16 array with the tensor's shape, owned by {@code manager}
     * @throws TensorFormatException if the tensor is absent or too large
     * @throws IllegalArgumentException if the tensor is not floating-point
     * @throws java.io.UncheckedIOException if reading the bytes fails
     */
    default NDArray readBf16(String name, NDManager manager, KernelPack pack) {
        TensorInfo info = info(name);
        if (!info.dtype().isFloatingPoint()) {
            throw new IllegalArgumentException("tensor '" + name + "': bf16 storage needs a floating-point dtype"
                    + " (F64, F32, F16, BF16), actual " + info.dtype());
        }
        try (NDArray wide = read(name, manager, DataType.FLOAT32)) {
            return pack.toBf16(wide); // a copy in `manager`; the FLOAT32 tensor is freed at once
        }
    }

    /**
     * Reads a floating-point tensor into a Java array, row-major: F32 as is, F16 and BF16 widened exactly,
     * F64 rounded to the nearest float.
     *
     * @param name the tensor's name
     * @return a new array of {@code info(name).numel()} floats
     * @throws TensorFormatException if the tensor is absent, not floating-point, or has more than
     *     {@code Integer.MAX_VALUE} elements
     * @throws java.io.UncheckedIOException if reading the bytes fails
     */
    float[] readFloats(String name);

    /** Releases the open files. Idempotent. Arrays already read stay valid. */
    @Override
    void close();
}
