package io.github.cogvideox4j.core;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;

/**
 * Arrays from Java data whose memory belongs to the engine, and scalar arithmetic that is safe under autograd.
 *
 * <p>Why: DJL's PyTorch {@code manager.create(float[] ...)} wraps a Java direct buffer without copying
 * ({@code torch::from_blob}), and {@code x.mul(Number)} multiplies by such a wrapped scalar and closes it at once. The
 * Java buffer is what keeps that memory alive; tensors that share it natively (views, and the tensors autograd saves
 * for backward, e.g. the scalar of a multiplication or a RoPE table) do not. Once the Java array is closed and garbage
 * collected, a later backward reads freed memory and silently produces garbage gradients (reproduced by
 * {@code GarbageCollectionSafetyTest}). Arrays made here own their memory like any engine result, so autograd may keep
 * them as long as it needs.
 *
 * <p>Every method returns a new array in the given manager (or the input's manager), on that manager's device (a
 * GPU manager gets one host-to-device copy of the Java data); the caller owns it. Thread safety: stateless.
 */
public final class EngineArrays {
    private EngineArrays() {}

    /**
     * @param manager where the array lives
     * @param data row-major values
     * @param shape the shape, {@code data.length} elements
     * @return an engine-owned FLOAT32 array
     */
    public static NDArray create(NDManager manager, float[] data, Shape shape) {
        return owned(manager, FloatBuffer.wrap(data), shape, DataType.FLOAT32);
    }

    /**
     * @param manager where the array lives
     * @param data row-major values
     * @param shape the shape, {@code data.length} elements
     * @return an engine-owned FLOAT64 array
     */
    public static NDArray create(NDManager manager, double[] data, Shape shape) {
        return owned(manager, DoubleBuffer.wrap(data), shape, DataType.FLOAT64);
    }

    /**
     * @param manager where the array lives
     * @param data row-major values
     * @param shape the shape, {@code data.length} elements
     * @return an engine-owned INT64 array
     */
    public static NDArray create(NDManager manager, long[] data, Shape shape) {
        return owned(manager, LongBuffer.wrap(data), shape, DataType.INT64);
    }

    /**
     * @param manager where the array lives
     * @param data row-major values
     * @param shape the shape, {@code data.length} elements
     * @return an engine-owned INT32 array
     */
    public static NDArray create(NDManager manager, int[] data, Shape shape) {
        return owned(manager, IntBuffer.wrap(data), shape, DataType.INT32);
    }

    /**
     * @param manager where the array lives
     * @param value the value
     * @param type FLOAT32, FLOAT64 or FLOAT16
     * @return an engine-owned 0-dimensional array
     */
    public static NDArray scalar(NDManager manager, double value, DataType type) {
        if (type == DataType.FLOAT64) {
            return create(manager, new double[] {value}, new Shape());
        }
        NDArray f = create(manager, new float[] {(float) value}, new Shape());
        if (type == DataType.FLOAT32) {
            return f;
        }
        try (f) {
            return f.toType(type, true);
        }
    }

    /**
     * {@code x * c} with an engine-owned scalar of {@code x}'s dtype (safe to backward through at any later time).
     *
     * @param x the array
     * @param c the factor
     * @return {@code x * c} in {@code x}'s manager
     */
    public static NDArray mul(NDArray x, double c) {
        try (NDArray s = scalar(x.getManager(), c, x.getDataType())) {
            return x.mul(s);
        }
    }

    private static NDArray owned(NDManager manager, Buffer data, Shape shape, DataType type) {
        int bytes = Math.multiplyExact(Math.toIntExact(shape.size()), type.getNumOfBytes());
        if (manager.getDevice().getDeviceType().equals(Device.Type.CPU)) {
            NDArray out = manager.create(shape, type); // engine-allocated, uninitialised
            ByteBuffer view = out.toByteBuffer(true);
            if (view.isDirect() && view.capacity() == bytes) {
                copy(data, view.order(ByteOrder.nativeOrder()));
                return out;
            }
            out.close();
        }
        if (manager.getDevice().isGpu()) {
            // a GPU manager: the engine copies the wrapped Java buffer into device memory at once and keeps no
            // reference to it (DJL's JniUtils.createNdFromByteBuffer), so the result already owns its memory
            return manager.create(data, shape, type);
        }
        // other devices: the engine copies the wrapped buffer to the device
        try (NDArray wrapped = manager.create(data, shape, type)) {
            return wrapped.duplicate();
        }
    }

    private static void copy(Buffer data, ByteBuffer dst) {
        if (data instanceof FloatBuffer f) {
            dst.asFloatBuffer().put(f.duplicate());
        } else if (data instanceof DoubleBuffer d) {
            dst.asDoubleBuffer().put(d.duplicate());
        } else if (data instanceof LongBuffer l) {
            dst.asLongBuffer().put(l.duplicate());
        } else if (data instanceof IntBuffer i) {
            dst.asIntBuffer().put(i.duplicate());
        } else {
            throw new IllegalArgumentException("unsupported buffer " + data.getClass());
        }
    }
}
