package io.github.cogvideox4j.core.embed;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/** TEMPORARY stub (replaced by the rope branch). */
public final class Timesteps {
    private Timesteps() {}

    public static NDArray sinusoid(NDArray t, int dim, boolean flipSinToCos, int freqShift) {
        int half = dim / 2;
        NDArray exponent = t.getManager().arange(0f, half, 1f, DataType.FLOAT32)
                .muli((float) -Math.log(10000)).divi((float) (half - freqShift));
        NDArray freqs = exponent.exp();
        NDArray emb = t.toType(DataType.FLOAT32, false).expandDims(1).mul(freqs.expandDims(0));
        NDArray sin = emb.sin(), cos = emb.cos();
        return flipSinToCos ? cos.concat(sin, 1) : sin.concat(cos, 1);
    }
}
