package io.github.cogvideox4j.core.kernel;

import static com.google.common.base.Preconditions.checkNotNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/**
 * Guards that keep data types which abort DJL's JNI away from native code.
 *
 * <p>With DJL 0.36 + PyTorch 2.7.1, any JNI call that passes {@link DataType#BFLOAT16} to the engine
 * ({@code toType}, {@code create}, {@code zeros}, {@code randomNormal}, {@code softmax}, ...) ends the process
 * with SIGABRT: DJL's native dtype switch has no bf16 case. bf16 tensors made inside TorchScript (see
 * {@link KernelPack#toBf16}) can be held, but report {@link DataType#UNKNOWN}; several DJL ops (matMul, add,
 * toType(FLOAT32), ...) work on them while any op that sends their dtype back through JNI aborts. Both are
 * rejected here so that the failure is an exception naming the tensor rather than a dead JVM.
 *
 * <p>Only {@link NDArray#getDataType()} is called on the array, which is safe for every dtype.
 *
 * <p>Thread safety: stateless; safe from any thread.
 */
public final class DTypeGuard {
    private DTypeGuard() {}

    /**
     * Checks that an array's data type can safely go through DJL's native code.
     *
     * @param array the array to check; not modified, not closed
     * @param what what the array is, for the message (e.g. {@code "attention query"} or a weight key)
     * @return {@code array}, for chaining
     * @throws UnsupportedDTypeException if the array's data type is {@code BFLOAT16} or {@code UNKNOWN}
     * @throws NullPointerException if an argument is null
     */
    public static NDArray requireSupported(NDArray array, String what) {
        checkNotNull(array, "array (%s)", what);
        check(array.getDataType(), what, "tensor");
        return array;
    }

    /**
     * Checks that a requested data type (e.g. the target dtype of a load or a cast) can safely be passed to
     * DJL's native code.
     *
     * @param type the requested data type
     * @param what what is being requested, for the message (e.g. {@code "load dtype of transformer weights"})
     * @return {@code type}, for chaining
     * @throws UnsupportedDTypeException if {@code type} is {@code BFLOAT16} or {@code UNKNOWN}
     * @throws NullPointerException if an argument is null
     */
    public static DataType requireSupported(DataType type, String what) {
        checkNotNull(type, "data type (%s)", what);
        check(type, what, "requested data type");
        return type;
    }

    private static void check(DataType type, String what, String kind) {
        if (type == DataType.BFLOAT16) {
            throw new UnsupportedDTypeException(
                    what + ": " + kind + " is BFLOAT16, which aborts the JVM inside DJL 0.36's native code;"
                            + " expected FLOAT32, FLOAT16 or another non-bf16 type (widen bf16 data in Java, or"
                            + " cast inside TorchScript with KernelPack.toFloat32)");
        }
        if (type == DataType.UNKNOWN) {
            throw new UnsupportedDTypeException(
                    what + ": " + kind + " has data type UNKNOWN (DJL's report for a bf16 tensor made inside"
                            + " TorchScript), which aborts the JVM when passed to most DJL ops; expected FLOAT32,"
                            + " FLOAT16 or another known type (convert it with KernelPack.toFloat32 first)");
        }
    }
}
