package io.github.cogvideox4j.core.io;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Turns decoded tensor bytes into engine-owned DJL arrays, for every reader of this package (safetensors and
 * {@code torch.save}): the size rules that keep native stride arithmetic from overflowing, the fast path that
 * fills an uninitialised CPU array through a direct view of its memory, and the FLOAT16 step (the engine rounds
 * FLOAT32 to FLOAT16; no BFLOAT16 array is ever created). Package-private, stateless, thread-safe.
 */
final class TensorArrays {
    private TensorArrays() {}

    /** Writes the decoded tensor into {@code dst}: native order, position 0, exactly the decoded size. */
    @FunctionalInterface
    interface Filler {
        void fill(ByteBuffer dst);
    }

    /**
     * Checks that a tensor fits one Java buffer and one engine array.
     *
     * @param storedBytes the bytes the tensor occupies as stored
     * @param shape its dimensions (each {@code >= 0}, product {@code numel} fitting a long)
     * @param type the DJL type it is materialised as
     * @return {@code null} if it fits, else what is wrong (expected vs actual)
     */
    static String sizeProblem(long storedBytes, long numel, long[] shape, DataType type) {
        long decoded = numel > Long.MAX_VALUE / type.getNumOfBytes() ? Long.MAX_VALUE : numel * type.getNumOfBytes();
        if (storedBytes > Integer.MAX_VALUE || decoded > Integer.MAX_VALUE) {
            return "tensor is too large for one buffer: " + storedBytes + " bytes stored, " + decoded + " bytes as "
                    + type + ", expected at most " + Integer.MAX_VALUE;
        }
        // An empty tensor may still declare huge dimensions ([0, 2^62, 2^62]); the engine's stride arithmetic
        // would overflow on them, so the dimensions without the zeros must fit one buffer as well.
        long span = type.getNumOfBytes();
        for (long d : shape) {
            if (d > 1) {
                span = d > Integer.MAX_VALUE ? Long.MAX_VALUE : span * d; // both factors <= 2^31: no overflow
            }
            if (span > Integer.MAX_VALUE) {
                return "shape " + Arrays.toString(shape) + " is too large for one array: its non-zero dimensions span"
                        + " more than " + Integer.MAX_VALUE + " bytes";
            }
        }
        return null;
    }

    /**
     * Creates an array of {@code type} and lets {@code filler} write its contents: on a CPU manager straight into
     * the engine's memory, elsewhere through a direct buffer the engine copies.
     *
     * @param bytes the decoded size, {@code shape.size() * type.getNumOfBytes()}
     * @return a new array owned by {@code manager}
     */
    static NDArray create(NDManager manager, Shape shape, DataType type, int bytes, Filler filler) {
        if (bytes == 0) {
            return manager.create(shape, type);
        }
        if (manager.getDevice().getDeviceType().equals(Device.Type.CPU)) {
            // Fast path: fill the engine-owned memory of an uninitialised array through a direct view of it.
            NDArray out = manager.create(shape, type);
            boolean filled = false;
            try {
                ByteBuffer view = out.toByteBuffer(true);
                if (view.isDirect() && view.capacity() == bytes) {
                    filler.fill(view.order(ByteOrder.nativeOrder()));
                    filled = true;
                    return out;
                }
            } finally {
                if (!filled) {
                    out.close();
                }
            }
        }
        // Other devices or engines: decode into a direct buffer and let the engine copy it.
        ByteBuffer buffer = ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder());
        filler.fill(buffer);
        return manager.create(buffer, shape, type);
    }

    /**
     * The last step of a read: FLOAT32 arrays (from F32 or BF16 bytes) become FLOAT16 when that is the target.
     *
     * @param array the materialised array (closed here when it is replaced)
     * @param target the requested floating-point type
     * @return {@code array} or its FLOAT16 copy
     */
    static NDArray toTarget(NDArray array, DataType target) {
        if (target == DataType.FLOAT16 && array.getDataType() == DataType.FLOAT32) {
            // F32 and BF16 sources: let the engine round FLOAT32 to FLOAT16 (never BFLOAT16 through DJL).
            try (NDArray wide = array) {
                return wide.toType(DataType.FLOAT16, false);
            }
        }
        return array;
    }
}
