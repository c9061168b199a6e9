package io.github.cogvideox4j.core.embed;

import io.github.cogvideox4j.core.EngineArrays;
import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * The sinusoidal timestep projection (Diffusers {@code Timesteps} / {@code get_timestep_embedding} with
 * {@code scale=1}, {@code max_period=10000}; diffusers {@code models/embeddings.py}).
 * It has no weights: the MLP that follows it is a separate
 * module.
 *
 * <p>With {@code half = dim / 2}: {@code exponent_i = -ln(10000) * i / (half - freqShift)},
 * {@code freq_i = exp(exponent_i)}, {@code arg = t * freq_i}, output {@code [sin(arg) | cos(arg)]}, or
 * {@code [cos(arg) | sin(arg)]} when {@code flipSinToCos} (CogVideoX); an odd {@code dim} gets one zero column at the
 * end.
 *
 * <p>Precision: the float32 steps of PyTorch are mirrored on the host in Java floats ({@code i * float(-ln 10000)},
 * then {@code / (half - shift)}, then {@code exp}, then {@code t.float() * freq}), with {@code exp}, {@code sin} and
 * {@code cos} evaluated in double and rounded to float32. PyTorch's own float32 {@code exp} depends on the CPU's
 * vector unit (it can be one ulp off, which {@code t = 999} turns into ~6e-5); the correctly rounded host value is
 * machine independent and is the one that lands closest to the Diffusers reference (measured max abs difference
 * 1.9e-6 at dim 32, 3.7e-6 at dim 64, 3.1e-5 at 512, 6.1e-5 at 1920 and 3072; through the engine's {@code exp} on
 * this project's CPU dim 64 was 2.9e-5 off).
 *
 * <p>Thread safety: stateless; the arrays passed in follow DJL's rules (confine them to one thread).
 */
public final class Timesteps {

    private static final double MAX_PERIOD = 10000.0;

    private Timesteps() {
    }

    /**
     * Computes the sinusoid of each timestep.
     *
     * @param t timesteps, shape {@code [B]}, any numeric type (INT64 or FLOAT32 in practice; fractional values are
     *     allowed); not modified; its values are copied to the host
     * @param dim output width, at least 2 (the model width {@code inner_dim} for {@code time_proj},
     *     {@code ofs_embed_dim} for {@code ofs_proj})
     * @param flipSinToCos {@code true} for {@code [cos | sin]} (all CogVideoX configs)
     * @param freqShift Diffusers {@code downscale_freq_shift} ({@code freq_shift} in the config, 0 for CogVideoX);
     *     must be smaller than {@code dim / 2}
     * @return a new FLOAT32 array {@code [B, dim]} created by {@code t}'s manager (on its device) and owned by it
     *     (the caller closes it or that manager)
     * @throws IllegalArgumentException if {@code t} is not 1-D, {@code dim < 2}, or {@code freqShift >= dim / 2}
     */
    public static NDArray sinusoid(NDArray t, int dim, boolean flipSinToCos, int freqShift) {
        checkNotNull(t, "t must not be null");
        checkArgument(t.getShape().dimension() == 1, "timesteps must be 1-D [B], got shape %s", t.getShape());
        float[] values;
        if (t.getDataType() == DataType.FLOAT32) {
            values = t.toFloatArray();
        } else {
            try (NDArray asFloat = t.toType(DataType.FLOAT32, true)) { // torch: timesteps.float()
                values = asFloat.toFloatArray();
            }
        }
        float[] emb = compute(values, dim, flipSinToCos, freqShift);
        return EngineArrays.create(t.getManager(), emb, new Shape(values.length, dim));
    }

    /**
     * Host version of {@link #sinusoid}.
     *
     * @param t timesteps as float32 (PyTorch's {@code timesteps.float()})
     * @param dim output width, at least 2
     * @param flipSinToCos {@code true} for {@code [cos | sin]}
     * @param freqShift {@code downscale_freq_shift}, smaller than {@code dim / 2}
     * @return a new row-major {@code [t.length, dim]} array
     * @throws IllegalArgumentException if {@code dim < 2} or {@code freqShift >= dim / 2}
     */
    public static float[] compute(float[] t, int dim, boolean flipSinToCos, int freqShift) {
        checkNotNull(t, "t must not be null");
        float[] freqs = frequencies(dim, freqShift);
        int half = freqs.length;
        float[] out = new float[t.length * dim];
        int sinAt = flipSinToCos ? half : 0;
        int cosAt = flipSinToCos ? 0 : half;
        for (int b = 0; b < t.length; b++) {
            int row = b * dim;
            for (int i = 0; i < half; i++) {
                float arg = t[b] * freqs[i];
                out[row + sinAt + i] = (float) Math.sin(arg);
                out[row + cosAt + i] = (float) Math.cos(arg);
            }
            // an odd dim leaves the last column zero (torch pads it)
        }
        return out;
    }

    /**
     * The float32 frequencies {@code exp(float(-ln 10000) * i / (half - shift))}, {@code i < dim/2}, each step rounded
     * to float32 as PyTorch does.
     */
    static float[] frequencies(int dim, int freqShift) {
        checkArgument(dim >= 2, "dim must be at least 2, got %s", dim);
        int half = dim / 2;
        checkArgument(freqShift < half, "freqShift %s must be smaller than dim/2 = %s", freqShift, half);
        float scale = (float) -Math.log(MAX_PERIOD);
        float divisor = half - freqShift;
        float[] freqs = new float[half];
        for (int i = 0; i < half; i++) {
            float exponent = (i * scale) / divisor;
            freqs[i] = (float) Math.exp(exponent);
        }
        return freqs;
    }
}
