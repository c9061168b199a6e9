package io.github.cogvideox4j.core.schedule;

import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.core.Scopes;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.common.base.Preconditions;
import java.io.IOException;
import java.nio.file.Path;
import java.util.random.RandomGenerator;

/**
 * Diffusers {@code CogVideoXDPMScheduler}: the stochastic DPM-Solver++(2M) step of
 * {@code schedulers/scheduling_dpm_cogvideox.py} over the CogVideoX
 * noise schedule of {@link CogVideoXScheduler}. Recommended for the 5B and 1.5 models.
 *
 * <p>With {@code lambda(a) = log sqrt(a / (1 - a))}, {@code h = lambda(a_prev) - lambda(a_t)}:
 * {@code mult1 = sqrt((1 - a_prev) / (1 - a_t)) e^-h}, {@code mult2 = expm1(-2h) sqrt(a_prev)},
 * {@code sigma = sqrt(1 - a_prev) sqrt(1 - e^-2h)}. First order (first step, or the last step where
 * {@code prev_t < 0}): {@code x_prev = mult1 x_t - mult2 x0_hat + sigma z}. Second order: {@code r = h_last / h},
 * {@code D = (1 + 1/(2r)) x0_hat - 1/(2r) x0_old}, {@code x_prev = mult1 x_t - mult2 D + sigma z}. All coefficients
 * are float64 with IEEE infinities: at t = 999 ({@code a_t = 0}) {@code h = +inf}, so the step predicts x0 and
 * re-noises it; the next step has {@code r = +inf}, so {@code D = x0_hat}; the last step ({@code a_prev = 1}) returns
 * {@code x0_hat} exactly (sigma = 0). No NaN arises.
 *
 * <p><b>Noise.</b> The reference draws Gaussian noise inside {@code step}: once on the first-order branch and twice
 * on the second-order branch, of which only the second draw is used. {@link #step(NDArray, NDArray, int, Integer,
 * NDArray, NDArray)} takes the draw that is used (inject the reference's draws to replay it);
 * {@link #step(NDArray, NDArray, int, Integer, NDArray, RandomGenerator)} draws like the reference from a seeded
 * generator.
 *
 * <p>Thread safety: immutable and safe to share. Ownership: see {@link #step}.
 */
public final class CogVideoXDpmScheduler extends CogVideoXScheduler {

    /**
     * @param config the scheduler config (its {@code _class_name}, if any, is not checked against this class)
     */
    public CogVideoXDpmScheduler(SchedulerConfig config) {
        super(config);
    }

    private CogVideoXDpmScheduler(CogVideoXDpmScheduler base, int n) {
        super(base, n);
    }

    /**
     * Reads a {@code scheduler_config.json} written for either CogVideoX scheduler: the released 5B and 1.5
     * folders ship a {@code CogVideoXDDIMScheduler} config and the documentation switches to this scheduler with
     * Diffusers' {@code from_config}.
     *
     * @param schedulerConfigJson the file
     * @return the scheduler, without inference steps set
     * @throws IOException if the file cannot be read
     * @throws SchedulerException for an unknown scheduler type or unsupported value
     */
    public static CogVideoXDpmScheduler fromConfig(Path schedulerConfigJson) throws IOException {
        return new CogVideoXDpmScheduler(SchedulerConfig.read(schedulerConfigJson));
    }

    @Override
    public CogVideoXDpmScheduler withInferenceSteps(int n) {
        return new CogVideoXDpmScheduler(this, n);
    }

    /**
     * @param timestep the current timestep
     * @param hasOldPredOriginalSample whether the previous step's {@code x0_hat} is passed
     * @return whether the step takes the second-order branch (the reference then draws noise twice)
     */
    public boolean isSecondOrder(int timestep, boolean hasOldPredOriginalSample) {
        return hasOldPredOriginalSample && prevTimestep(timestep) >= 0;
    }

    /**
     * @param timestep the current timestep
     * @return the float64 multiplier of the noise, {@code sqrt(1 - a_prev) sqrt(1 - e^-2h)}; exactly 0 at the last
     *     step
     */
    public double noiseMultiplier(int timestep) {
        requireInferenceSteps();
        double at = alphaAt(timestep, "timestep");
        double ap = alphaPrev(prevTimestep(timestep));
        double h = lambda(ap) - lambda(at);
        return Math.sqrt(1 - ap) * Math.sqrt(1 - Math.exp(-2 * h));
    }

    /**
     * One DPM-Solver++(2M) step with the noise given.
     *
     * @param modelOutput the model output, shape of the sample
     * @param oldPredOriginalSample the previous step's {@code x0_hat}, or {@code null} at the first step
     * @param timestep the current timestep in {@code [0, T)}
     * @param timestepBack the previous (larger) timestep, {@code null} at the first step
     * @param sample the current sample {@code x_t}, FLOAT32 or FLOAT64
     * @param noise the standard-normal draw the step uses (the reference's second draw on the second-order
     *     branch), shape of the sample; may be {@code null} only when {@link #noiseMultiplier(int)} is 0 (the last
     *     step)
     * @return the previous sample and {@code x0_hat} (pass it as {@code oldPredOriginalSample} next), new arrays
     *     in the manager of {@code sample}
     * @throws IllegalStateException if no inference steps were set
     * @throws SchedulerException on shape, dtype or timestep errors, or missing noise
     */
    public SchedulerStep step(NDArray modelOutput, NDArray oldPredOriginalSample, int timestep, Integer timestepBack,
            NDArray sample, NDArray noise) {
        requireInferenceSteps();
        requireSameShape(sample, modelOutput, "sample", "modelOutput");
        if (oldPredOriginalSample != null) {
            requireSameShape(sample, oldPredOriginalSample, "sample", "oldPredOriginalSample");
        }
        if (noise != null) {
            requireSameShape(sample, noise, "sample", "noise");
        }
        int prevTimestep = prevTimestep(timestep);
        double at = alphaAt(timestep, "timestep");
        double ap = alphaPrev(prevTimestep);
        Double aBack = timestepBack == null ? null : alphaAt(timestepBack, "timestepBack");
        // get_variables / get_mult, float64 with IEEE infinities
        double lamb = lambda(at);
        double h = lambda(ap) - lamb;
        double mult1 = Math.sqrt((1 - ap) / (1 - at)) * Math.exp(-h);
        double mult2 = Math.expm1(-2 * h) * Math.sqrt(ap);
        double multNoise = Math.sqrt(1 - ap) * Math.sqrt(1 - Math.exp(-2 * h));
        boolean secondOrder = oldPredOriginalSample != null && prevTimestep >= 0;
        if (noise == null && multNoise != 0) {
            throw new SchedulerException("timestep " + timestep + ": the step needs noise (multiplier " + multNoise
                    + "); only the last step, whose noise is multiplied by 0, may omit it");
        }
        double mult3;
        double mult4;
        if (secondOrder) {
            if (aBack == null) {
                throw new SchedulerException("timestep " + timestep + ": oldPredOriginalSample is given, so "
                        + "timestepBack (the previous timestep) is needed too");
            }
            double r = (lamb - lambda(aBack)) / h;
            mult3 = 1 + 1 / (2 * r);
            mult4 = 1 / (2 * r);
        } else {
            mult3 = 0;
            mult4 = 0;
        }
        NDList out = Scopes.run(sample.getManager(), s -> {
            NDArray x0 = predictOriginalSample(s, modelOutput, sample, at);
            NDArray d = secondOrder
                    ? scalar(s, mult3, sample).mul(x0).sub(scalar(s, mult4, sample).mul(oldPredOriginalSample))
                    : x0;
            NDArray prev = scalar(s, mult1, sample).mul(sample).sub(scalar(s, mult2, sample).mul(d));
            NDArray z = noise != null ? noise : s.zeros(sample.getShape(), sample.getDataType());
            prev = prev.add(scalar(s, multNoise, sample).mul(z));
            return new NDList(prev, x0);
        }, sample, modelOutput, oldPredOriginalSample, noise);
        return new SchedulerStep(out.get(0), out.get(1));
    }

    /**
     * One step drawing its noise from {@code random} the way the reference draws from its generator: one
     * standard-normal array (row-major) on the first-order branch, two on the second-order branch with the second
     * one used.
     *
     * @param modelOutput the model output, shape of the sample
     * @param oldPredOriginalSample the previous step's {@code x0_hat}, or {@code null} at the first step
     * @param timestep the current timestep
     * @param timestepBack the previous timestep, {@code null} at the first step
     * @param sample the current sample
     * @param random the generator (advanced by the draws)
     * @return see {@link #step(NDArray, NDArray, int, Integer, NDArray, NDArray)}
     */
    public SchedulerStep step(NDArray modelOutput, NDArray oldPredOriginalSample, int timestep, Integer timestepBack,
            NDArray sample, RandomGenerator random) {
        Preconditions.checkNotNull(random, "random");
        Preconditions.checkNotNull(sample, "sample");
        NDManager m = sample.getManager();
        int draws = isSecondOrder(timestep, oldPredOriginalSample != null) ? 2 : 1;
        NDArray noise = null;
        try {
            for (int i = 0; i < draws; i++) {
                if (noise != null) {
                    noise.close();
                }
                noise = gaussian(m, sample.getShape(), sample.getDataType(), random);
            }
            return step(modelOutput, oldPredOriginalSample, timestep, timestepBack, sample, noise);
        } finally {
            if (noise != null) {
                noise.close();
            }
        }
    }

    /**
     * @param manager the owner of the result
     * @param shape the shape
     * @param dataType FLOAT32 or FLOAT64
     * @param random the generator
     * @return standard-normal values drawn row-major from {@code random}
     */
    static NDArray gaussian(NDManager manager, Shape shape, DataType dataType, RandomGenerator random) {
        int n = Math.toIntExact(shape.size());
        if (dataType == DataType.FLOAT64) {
            double[] v = new double[n];
            for (int i = 0; i < n; i++) {
                v[i] = random.nextGaussian();
            }
            return EngineArrays.create(manager, v, shape);
        }
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) random.nextGaussian();
        }
        return EngineArrays.create(manager, v, shape);
    }

    /** log(sqrt(a / (1 - a))): -inf at a = 0, +inf at a = 1. */
    private static double lambda(double alphaProd) {
        return Math.log(Math.sqrt(alphaProd / (1 - alphaProd)));
    }
}
