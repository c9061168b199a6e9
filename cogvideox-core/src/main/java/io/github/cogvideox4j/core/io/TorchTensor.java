package io.github.cogvideox4j.core.io;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import java.util.Arrays;

/**
 * One tensor of a {@code torch.save} file, as {@code torch._utils._rebuild_tensor_v2} describes it: a view
 * ({@code storageOffset}, {@code shape}, {@code stride}, all in elements) over a typed storage held in an archive
 * entry. {@link TorchSaveReader} checked, when it built this record, that the view lies inside the storage and
 * that the storage entry holds exactly {@code storageNumel} elements. No tensor bytes are held here; read them
 * with the reader.
 *
 * <p>Thread safety: immutable (arrays are copied in and out).
 *
 * @param entry the archive entry holding the storage, e.g. {@code archive/data/3}
 * @param storageKey the storage's key in the pickle (the entry's file name)
 * @param dtype the storage's element type
 * @param storageNumel the number of elements of the storage
 * @param storageOffset the view's first element in the storage, {@code >= 0}
 * @param shape the view's dimensions, each {@code >= 0}
 * @param stride the view's strides in elements, each {@code >= 0}, one per dimension
 * @param requiresGrad the saved {@code requires_grad} flag (informational)
 */
public record TorchTensor(String entry, String storageKey, SafetensorsDType dtype, long storageNumel,
        long storageOffset, long[] shape, long[] stride, boolean requiresGrad) {

    /**
     * Validates the record (the reader has already checked the bounds against the storage).
     *
     * @throws IllegalArgumentException for negative values or ranks that differ
     */
    public TorchTensor {
        checkNotNull(entry, "entry");
        checkNotNull(storageKey, "storageKey");
        checkNotNull(dtype, "dtype");
        shape = checkNotNull(shape, "shape").clone();
        stride = checkNotNull(stride, "stride").clone();
        checkArgument(shape.length == stride.length, "shape %s and stride %s have different ranks",
                Arrays.toString(shape), Arrays.toString(stride));
        checkArgument(storageNumel >= 0 && storageOffset >= 0, "negative storage size or offset");
        for (int i = 0; i < shape.length; i++) {
            checkArgument(shape[i] >= 0 && stride[i] >= 0, "negative size or stride in %s / %s",
                    Arrays.toString(shape), Arrays.toString(stride));
        }
    }

    /** @return a copy of the dimensions */
    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** @return a copy of the strides (in elements) */
    @Override
    public long[] stride() {
        return stride.clone();
    }

    /** @return the number of elements of the view (1 for a scalar) */
    public long numel() {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /**
     * @return whether the view's elements are one contiguous row-major run of the storage (dimensions of size 1
     *     may have any stride)
     */
    public boolean isContiguous() {
        long expected = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            if (shape[i] != 1 && stride[i] != expected) {
                return shape[i] == 0 || numel() == 0;
            }
            expected *= Math.max(shape[i], 1);
        }
        return true;
    }

    /**
     * The rows {@code [start, start + length)} of dimension 0, as a view of the same storage.
     *
     * @param start the first row, {@code 0 <= start <= shape[0]}
     * @param length the number of rows, {@code start + length <= shape[0]}
     * @return the narrower view
     * @throws IllegalArgumentException for a scalar or a range outside dimension 0
     */
    public TorchTensor narrow(long start, long length) {
        checkArgument(shape.length > 0, "a scalar has no rows");
        checkArgument(start >= 0 && length >= 0 && start <= shape[0] - length, "rows [%s, +%s) outside [0, %s)",
                start, length, shape[0]);
        long[] s = shape.clone();
        s[0] = length;
        long offset = length == 0 ? storageOffset : storageOffset + start * stride[0];
        return new TorchTensor(entry, storageKey, dtype, storageNumel, offset, s, stride, requiresGrad);
    }

    /**
     * @return the index of the view's last element in the storage plus one ({@code storageOffset} for an empty
     *     view); the reader guarantees it is at most {@code storageNumel}
     * @throws ArithmeticException if it overflows 64 bits (never for records the reader made)
     */
    public long endElement() {
        if (numel() == 0) {
            return storageOffset;
        }
        long last = storageOffset;
        for (int i = 0; i < shape.length; i++) {
            last = Math.addExact(last, Math.multiplyExact(shape[i] - 1, stride[i]));
        }
        return Math.addExact(last, 1);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TorchTensor t && entry.equals(t.entry) && storageKey.equals(t.storageKey)
                && dtype == t.dtype && storageNumel == t.storageNumel && storageOffset == t.storageOffset
                && Arrays.equals(shape, t.shape) && Arrays.equals(stride, t.stride) && requiresGrad == t.requiresGrad;
    }

    @Override
    public int hashCode() {
        return ((entry.hashCode() * 31 + Long.hashCode(storageOffset)) * 31 + Arrays.hashCode(shape)) * 31
                + Arrays.hashCode(stride);
    }

    @Override
    public String toString() {
        return dtype + Arrays.toString(shape) + " (storage " + storageKey + " of " + storageNumel + ", offset "
                + storageOffset + ", stride " + Arrays.toString(stride) + ")";
    }
}
