package io.github.cogvideox4j.core.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import io.github.cogvideox4j.core.EngineArrays;

/** Tensor helpers of the VAE; every result lives in the first argument's manager. Stateless. */
final class Ops {
    private Ops() {}

    /** @return {@code x * sigmoid(x)} */
    static NDArray silu(NDArray x) {
        return x.mul(Activation.sigmoid(x));
    }

    /** @return {@code x + c} with an engine-owned scalar */
    static NDArray addScalar(NDArray x, double c) {
        try (NDArray s = EngineArrays.scalar(x.getManager(), c, x.getDataType())) {
            return x.add(s);
        }
    }

    /**
     * Concatenation whose result joins {@code owner}'s manager (DJL would use the first element's).
     *
     * @return the concatenation along {@code axis}
     */
    static NDArray concat(NDArray owner, int axis, NDArray... parts) {
        NDArray out = NDArrays.concat(new NDList(parts), axis);
        out.attach(owner.getManager());
        return out;
    }

    /**
     * {@code F.interpolate(mode="nearest")} along one axis: source index {@code floor(dst * (in / out))} computed in
     * float as torch does (an integer ratio is a repeat-interleave).
     *
     * @param x the array
     * @param axis the axis
     * @param out the new length
     * @return the resized array
     */
    static NDArray nearest(NDArray x, int axis, long out) {
        long in = x.getShape().get(axis);
        if (in == out) {
            return x.duplicate();
        }
        if (out % in == 0) {
            long f = out / in;
            long[] dims = x.getShape().getShape();
            long[] expanded = new long[dims.length + 1];
            long[] merged = dims.clone();
            for (int i = 0, j = 0; i < dims.length; i++) {
                expanded[j++] = dims[i];
                if (i == axis) {
                    expanded[j++] = f;
                }
            }
            merged[axis] = out;
            try (NDArray e = x.expandDims(axis + 1); NDArray b = e.broadcast(new Shape(expanded))) {
                return b.reshape(new Shape(merged));
            }
        }
        float scale = (float) in / out;
        NDArray[] slices = new NDArray[(int) out];
        String prefix = ":, ".repeat(axis);
        for (int d = 0; d < out; d++) {
            long src = Math.min((long) Math.floor(d * scale), in - 1);
            slices[d] = x.get(new NDIndex(prefix + src + ":" + (src + 1)));
        }
        NDArray r = concat(x, axis, slices);
        for (NDArray s : slices) {
            s.close();
        }
        return r;
    }
}
