package io.github.cogvideox4j.core.schedule;

import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.core.Scopes;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.common.base.Preconditions;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * The noise schedule shared by {@link CogVideoXDdimScheduler} and {@link CogVideoXDpmScheduler} (Diffusers
 * {@code CogVideoXDDIMScheduler} / {@code CogVideoXDPMScheduler}, whose constructors are identical):
 * float64 tables {@code betas = linspace(sqrt(beta_start), sqrt(beta_end), T)^2}, {@code alphas_cumprod} with the
 * SNR shift {@code a / (s + (1 - s) a)} and then the zero-terminal-SNR rescale (so {@code alphas_cumprod[T-1] = 0}
 * exactly), the inference timesteps, and the tensor operations of training: {@link #addNoise}, {@link #getVelocity}
 * and the loss weight {@code 1 / (1 - alphas_cumprod[t])}.
 *
 * <p>Precision follows the reference op by op: tables and step coefficients in float64; {@code addNoise} and
 * {@code getVelocity} cast {@code alphas_cumprod} to the sample's dtype <em>before</em> the square roots; each
 * float64 step coefficient is rounded to the sample's dtype where it multiplies a tensor.
 *
 * <p>Instances are immutable; {@link #withInferenceSteps(int)} returns a copy with timesteps set (Diffusers'
 * {@code set_timesteps}). Tensor methods take arrays owned by the caller, never close them, and return new arrays
 * in the manager of their first array argument; temporaries are freed before they return.
 *
 * <p>Thread safety: immutable and safe to share; the arrays passed in are not thread-safe.
 */
public abstract sealed class CogVideoXScheduler permits CogVideoXDdimScheduler, CogVideoXDpmScheduler {
    private final SchedulerConfig config;
    private final double[] betas;
    private final double[] alphasCumprod;
    private final double finalAlphaCumprod;
    private final int numInferenceSteps;
    private final int[] timesteps;

    CogVideoXScheduler(SchedulerConfig config) {
        this.config = Preconditions.checkNotNull(config, "config");
        int n = config.numTrainTimesteps();
        this.betas = scaledLinearBetas(config.betaStart(), config.betaEnd(), n);
        double[] ac = new double[n];
        double prod = 1.0;
        for (int i = 0; i < n; i++) {
            prod *= 1.0 - betas[i];
            ac[i] = prod;
        }
        double s = config.snrShiftScale();
        for (int i = 0; i < n; i++) {
            ac[i] = ac[i] / (s + (1 - s) * ac[i]);
        }
        if (config.rescaleBetasZeroSnr()) {
            rescaleZeroTerminalSnr(ac);
        }
        this.alphasCumprod = ac;
        this.finalAlphaCumprod = config.setAlphaToOne() ? 1.0 : ac[0];
        this.numInferenceSteps = 0;
        this.timesteps = null;
    }

    CogVideoXScheduler(CogVideoXScheduler base, int numInferenceSteps) {
        this.config = base.config;
        this.betas = base.betas;
        this.alphasCumprod = base.alphasCumprod;
        this.finalAlphaCumprod = base.finalAlphaCumprod;
        this.numInferenceSteps = numInferenceSteps;
        this.timesteps = inferenceTimesteps(config, numInferenceSteps);
    }

    /**
     * Reads a {@code scheduler_config.json} and builds the scheduler its {@code _class_name} names
     * ({@code CogVideoXDDIMScheduler} or {@code CogVideoXDPMScheduler}; DDIM when the file names none).
     *
     * @param schedulerConfigJson the file
     * @return the scheduler, without inference steps set
     * @throws IOException if the file cannot be read
     * @throws SchedulerException for an unknown scheduler type or an unsupported value
     */
    public static CogVideoXScheduler fromConfig(Path schedulerConfigJson) throws IOException {
        SchedulerConfig c = SchedulerConfig.read(schedulerConfigJson);
        return SchedulerConfig.DPM_CLASS.equals(c.className()) ? new CogVideoXDpmScheduler(c)
                : new CogVideoXDdimScheduler(c);
    }

    // ------------------------------------------------------------------------------------------------ tables

    /** torch.linspace(sqrt(start), sqrt(end), n, float64) ** 2, with torch's two-sided linspace evaluation. */
    private static double[] scaledLinearBetas(double betaStart, double betaEnd, int n) {
        double a = Math.sqrt(betaStart);
        double b = Math.sqrt(betaEnd);
        double step = (b - a) / (n - 1);
        int halfway = n / 2;
        double[] betas = new double[n];
        for (int i = 0; i < n; i++) {
            double x = i < halfway ? a + step * i : b - step * (n - 1 - i);
            betas[i] = x * x;
        }
        return betas;
    }

    /** Diffusers' {@code rescale_zero_terminal_snr} on sqrt(alpha_bar), in place. */
    private static void rescaleZeroTerminalSnr(double[] ac) {
        int n = ac.length;
        double[] r = new double[n];
        for (int i = 0; i < n; i++) {
            r[i] = Math.sqrt(ac[i]);
        }
        double r0 = r[0];
        double rT = r[n - 1];
        double factor = r0 / (r0 - rT);
        for (int i = 0; i < n; i++) {
            double v = (r[i] - rT) * factor;
            ac[i] = v * v;
        }
    }

    /** Diffusers' set_timesteps, reproducing NumPy's arange/linspace/round (half to even). */
    private static int[] inferenceTimesteps(SchedulerConfig config, int n) {
        int t = config.numTrainTimesteps();
        if (n < 1 || n > t) {
            throw new SchedulerException("num_inference_steps must be in [1, num_train_timesteps = " + t + "], got "
                    + n);
        }
        long[] values;
        switch (config.timestepSpacing()) {
            case "trailing" -> {
                // np.round(np.arange(T, 0, -T/n)) - 1; arange's length and its fill rule start + i*(x1 - x0)
                double step = -((double) t / n);
                int length = (int) Math.ceil((0 - (double) t) / step);
                double delta = (t + step) - t;
                values = new long[length];
                for (int i = 0; i < length; i++) {
                    double x = i == 0 ? t : i == 1 ? t + step : t + i * delta;
                    values[i] = (long) Math.rint(x) - 1;
                }
            }
            case "leading" -> {
                int ratio = t / n;
                values = new long[n];
                for (int i = 0; i < n; i++) {
                    values[i] = (long) (n - 1 - i) * ratio + config.stepsOffset();
                }
            }
            default -> {
                // np.linspace(0, T - 1, n).round()[::-1]
                values = new long[n];
                double stop = t - 1;
                double step = n > 1 ? stop / (n - 1) : 0;
                for (int i = 0; i < n; i++) {
                    double x = n > 1 && i == n - 1 ? stop : i * step;
                    values[n - 1 - i] = (long) Math.rint(x);
                }
            }
        }
        if (values.length != n || Arrays.stream(values).anyMatch(v -> v < 0 || v >= t)) {
            throw new SchedulerException("the reference's \"" + config.timestepSpacing() + "\" spacing gives "
                    + Arrays.toString(values) + " for num_inference_steps = " + n + " (NumPy's float arange yields "
                    + values.length + " values, ending at timestep " + values[values.length - 1]
                    + "); use another step count");
        }
        return Arrays.stream(values).mapToInt(Math::toIntExact).toArray();
    }

    // ------------------------------------------------------------------------------------------------ accessors

    /** @return the config this scheduler was built from */
    public SchedulerConfig config() {
        return config;
    }

    /** @return {@code num_train_timesteps} (1000) */
    public int numTrainTimesteps() {
        return config.numTrainTimesteps();
    }

    /** @return a copy of the float64 betas {@code [T]} */
    public double[] betas() {
        return betas.clone();
    }

    /** @return a copy of the float64 {@code alphas_cumprod [T]} after shift and rescale */
    public double[] alphasCumprod() {
        return alphasCumprod.clone();
    }

    /**
     * @param timestep in {@code [0, T)}
     * @return {@code alphas_cumprod[timestep]} (float64)
     * @throws SchedulerException if the timestep is out of range
     */
    public double alphaCumprod(int timestep) {
        checkTimestep(timestep, "timestep");
        return alphasCumprod[timestep];
    }

    /** @return the alpha-bar used after the last step (1.0 with {@code set_alpha_to_one}) */
    public double finalAlphaCumprod() {
        return finalAlphaCumprod;
    }

    /** @return the standard deviation of the initial noise (1.0) */
    public double initNoiseSigma() {
        return 1.0;
    }

    /**
     * The weight of the training loss at a timestep, {@code 1 / (1 - alphas_cumprod[t])} in float64:
     * 1.0 at t = 999, 1176.5 (snr_shift_scale 1) or 392.8 (3) at t = 0.
     *
     * @param timestep in {@code [0, T)}
     * @return the weight
     */
    public double lossWeight(int timestep) {
        return 1.0 / (1.0 - alphaCumprod(timestep));
    }

    /**
     * @param n the number of denoising steps
     * @return a copy of this scheduler with {@code n} inference timesteps (Diffusers {@code set_timesteps})
     * @throws SchedulerException if n is outside {@code [1, T]}, or the reference's spacing would give a
     *     timestep list that is not n valid timesteps (NumPy's float {@code arange} gives n + 1 values, the last
     *     one -1, for "trailing" and some n, e.g. 61)
     */
    public abstract CogVideoXScheduler withInferenceSteps(int n);

    /** @return the number of inference steps, 0 if {@link #withInferenceSteps(int)} was not called */
    public int numInferenceSteps() {
        return numInferenceSteps;
    }

    /**
     * @return a copy of the inference timesteps, descending ("trailing", N = 50: 999, 979, ..., 19)
     * @throws IllegalStateException if no inference steps were set
     */
    public int[] timesteps() {
        requireInferenceSteps();
        return timesteps.clone();
    }

    /**
     * @param timestep the current timestep
     * @return {@code timestep - T / N} (integer division), the timestep whose alpha-bar a step moves to; negative
     *     at the last step, where {@link #finalAlphaCumprod()} is used
     */
    public int prevTimestep(int timestep) {
        requireInferenceSteps();
        return timestep - config.numTrainTimesteps() / numInferenceSteps;
    }

    /**
     * @param sample the model input
     * @param timestep the timestep
     * @return {@code sample} itself (the CogVideoX schedulers do not scale the model input)
     */
    public NDArray scaleModelInput(NDArray sample, int timestep) {
        return sample;
    }

    // ------------------------------------------------------------------------------------------------ training ops

    /**
     * The forward process {@code sqrt(a) * x0 + sqrt(1 - a) * noise} with {@code a = alphas_cumprod[t]} cast to the
     * sample dtype first (Diffusers {@code add_noise}).
     *
     * @param originalSamples {@code [B, ...]} FLOAT32 or FLOAT64
     * @param noise same shape and dtype
     * @param timesteps {@code [B]} or {@code [1]} integer timesteps in {@code [0, T)}
     * @return the noisy samples, same shape, in the manager of {@code originalSamples}
     * @throws SchedulerException on shape, dtype or timestep errors
     */
    public NDArray addNoise(NDArray originalSamples, NDArray noise, NDArray timesteps) {
        requireSameShape(originalSamples, noise, "originalSamples", "noise");
        NDManager owner = originalSamples.getManager();
        return Scopes.single(owner, s -> {
            NDArray[] c = perSampleCoefficients(s, originalSamples, timesteps);
            return c[0].mul(originalSamples).add(c[1].mul(noise));
        }, originalSamples, noise);
    }

    /**
     * The velocity {@code sqrt(a) * noise - sqrt(1 - a) * sample} (Diffusers {@code get_velocity}). With the model
     * output as {@code sample} and the noisy input as {@code noise} this is the clean-sample estimate the trainers
     * regress on.
     *
     * @param sample {@code [B, ...]} FLOAT32 or FLOAT64
     * @param noise same shape and dtype
     * @param timesteps {@code [B]} or {@code [1]} integer timesteps in {@code [0, T)}
     * @return the velocity, same shape, in the manager of {@code sample}
     * @throws SchedulerException on shape, dtype or timestep errors
     */
    public NDArray getVelocity(NDArray sample, NDArray noise, NDArray timesteps) {
        requireSameShape(sample, noise, "sample", "noise");
        NDManager owner = sample.getManager();
        return Scopes.single(owner, s -> {
            NDArray[] c = perSampleCoefficients(s, sample, timesteps);
            return c[0].mul(noise).sub(c[1].mul(sample));
        }, sample, noise);
    }

    /**
     * Reads integer timesteps to the host and checks them.
     *
     * @param timesteps {@code [B]} or {@code [1]} INT64 or INT32
     * @return the values
     * @throws SchedulerException if not a 1-D integer array or a value is outside {@code [0, T)}
     */
    public int[] timestepValues(NDArray timesteps) {
        Preconditions.checkNotNull(timesteps, "timesteps");
        DataType dt = timesteps.getDataType();
        if (dt != DataType.INT64 && dt != DataType.INT32) {
            throw new SchedulerException("timesteps must be an INT64 (or INT32) array, as the reference indexes "
                    + "alphas_cumprod with them; got " + dt);
        }
        if (timesteps.getShape().dimension() != 1) {
            throw new SchedulerException("timesteps must be 1-D [B], got " + timesteps.getShape());
        }
        long[] v = dt == DataType.INT64 ? timesteps.toLongArray()
                : Arrays.stream(timesteps.toIntArray()).asLongStream().toArray();
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            if (v[i] < 0 || v[i] >= config.numTrainTimesteps()) {
                throw new SchedulerException("timestep " + v[i] + " (index " + i + ") out of range [0, "
                        + (config.numTrainTimesteps() - 1) + "]");
            }
            out[i] = (int) v[i];
        }
        return out;
    }

    /** [sqrt(a), sqrt(1 - a)] with a cast to the sample dtype first, shaped [n, 1, ..., 1]. */
    private NDArray[] perSampleCoefficients(NDManager scope, NDArray sample, NDArray timesteps) {
        int[] t = timestepValues(timesteps);
        Shape shape = sample.getShape();
        if (shape.dimension() < 1 || (t.length != 1 && t.length != shape.get(0))) {
            throw new SchedulerException("timesteps has " + t.length + " values, the samples " + shape
                    + " need one per batch row (" + (shape.dimension() < 1 ? "?" : shape.get(0)) + ") or one");
        }
        long[] dims = new long[shape.dimension()];
        Arrays.fill(dims, 1);
        dims[0] = t.length;
        Shape coefShape = new Shape(dims);
        DataType dt = sample.getDataType();
        if (dt == DataType.FLOAT32) {
            float[] sa = new float[t.length];
            float[] sb = new float[t.length];
            for (int i = 0; i < t.length; i++) {
                float a = (float) alphasCumprod[t[i]];
                sa[i] = (float) Math.sqrt(a);
                sb[i] = (float) Math.sqrt(1f - a);
            }
            return new NDArray[] {EngineArrays.create(scope, sa, coefShape), EngineArrays.create(scope, sb, coefShape)};
        }
        if (dt == DataType.FLOAT64) {
            double[] sa = new double[t.length];
            double[] sb = new double[t.length];
            for (int i = 0; i < t.length; i++) {
                double a = alphasCumprod[t[i]];
                sa[i] = Math.sqrt(a);
                sb[i] = Math.sqrt(1 - a);
            }
            return new NDArray[] {EngineArrays.create(scope, sa, coefShape), EngineArrays.create(scope, sb, coefShape)};
        }
        throw new SchedulerException("samples must be FLOAT32 or FLOAT64, got " + dt);
    }

    // ------------------------------------------------------------------------------------------------ step helpers

    /** alphas_cumprod[t] with a range check naming the argument. */
    double alphaAt(int timestep, String what) {
        checkTimestep(timestep, what);
        return alphasCumprod[timestep];
    }

    /** alphas_cumprod[prev] or the final alpha-bar when prev < 0. */
    double alphaPrev(int prevTimestep) {
        return prevTimestep >= 0 ? alphasCumprod[prevTimestep] : finalAlphaCumprod;
    }

    /** The clean-sample estimate of the step, with float64 coefficients rounded to the sample dtype. */
    NDArray predictOriginalSample(NDManager scope, NDArray modelOutput, NDArray sample, double alphaProdT) {
        double betaProdT = 1 - alphaProdT;
        return switch (config.predictionType()) {
            case "v_prediction" -> scalar(scope, Math.sqrt(alphaProdT), sample).mul(sample)
                    .sub(scalar(scope, Math.sqrt(betaProdT), sample).mul(modelOutput));
            case "epsilon" -> sample.sub(scalar(scope, Math.sqrt(betaProdT), sample).mul(modelOutput))
                    .div(scalar(scope, Math.sqrt(alphaProdT), sample));
            default -> modelOutput.duplicate();
        };
    }

    /** A 0-dim coefficient in the dtype of {@code like} (a float64 value rounded as torch does). */
    static NDArray scalar(NDManager scope, double value, NDArray like) {
        return EngineArrays.scalar(scope, value, like.getDataType() == DataType.FLOAT64 ? DataType.FLOAT64 : DataType.FLOAT32);
    }

    void requireInferenceSteps() {
        if (numInferenceSteps == 0) {
            throw new IllegalStateException("no inference steps set: call withInferenceSteps(n) first (Diffusers "
                    + "set_timesteps)");
        }
    }

    void checkTimestep(int timestep, String what) {
        if (timestep < 0 || timestep >= config.numTrainTimesteps()) {
            throw new SchedulerException(what + " " + timestep + " out of range [0, "
                    + (config.numTrainTimesteps() - 1) + "]");
        }
    }

    static void requireSameShape(NDArray a, NDArray b, String nameA, String nameB) {
        Preconditions.checkNotNull(a, nameA);
        Preconditions.checkNotNull(b, nameB);
        if (!a.getShape().equals(b.getShape())) {
            throw new SchedulerException(nameB + " must have the shape of " + nameA + " " + a.getShape() + ", got "
                    + b.getShape());
        }
        if (a.getDataType() != b.getDataType()) {
            throw new SchedulerException(nameB + " must have the dtype of " + nameA + " (" + a.getDataType()
                    + "), got " + b.getDataType());
        }
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[snr_shift_scale=" + config.snrShiftScale() + ", prediction_type="
                + config.predictionType() + ", steps=" + numInferenceSteps + "]";
    }
}
