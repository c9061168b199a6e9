package io.github.cogvideox4j.core.kernel;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import io.github.cogvideox4j.core.CogVideoXException;

/** TEMPORARY stub (replaced by the kernel branch). */
public final class DTypeGuard {
    private DTypeGuard() {}

    public static NDArray requireSupported(NDArray array, String what) {
        requireSupported(array.getDataType(), what);
        return array;
    }

    public static DataType requireSupported(DataType type, String what) {
        if (type == DataType.BFLOAT16 || type == DataType.UNKNOWN) {
            throw new CogVideoXException(what + ": dtype " + type + " is refused");
        }
        return type;
    }
}
