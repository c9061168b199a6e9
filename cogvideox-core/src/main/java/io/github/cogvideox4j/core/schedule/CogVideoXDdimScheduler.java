package io.github.cogvideox4j.core.schedule;

import io.github.cogvideox4j.core.Scopes;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import java.io.IOException;
import java.nio.file.Path;

/**
 * Diffusers {@code CogVideoXDDIMScheduler}: the deterministic DDIM step of
 * {@code schedulers/scheduling_ddim_cogvideox.py} (eta, generator and variance
 * noise are ignored, as in the reference), over the CogVideoX noise schedule of {@link CogVideoXScheduler}.
 * Recommended for CogVideoX-2b.
 *
 * <pre>{@code
 * CogVideoXDdimScheduler scheduler = CogVideoXDdimScheduler.fromConfig(dir.resolve("scheduler/scheduler_config.json"))
 *         .withInferenceSteps(50);
 * for (int t : scheduler.timesteps()) {
 *     NDArray v = ...;                                   // model output at t
 *     SchedulerStep out = scheduler.step(v, t, latents);
 *     latents = out.prevSample();
 * }
 * }</pre>
 *
 * <p>Thread safety: immutable and safe to share. Ownership: see {@link #step}.
 */
public final class CogVideoXDdimScheduler extends CogVideoXScheduler {

    /**
     * @param config the scheduler config (its {@code _class_name}, if any, is not checked against this class)
     */
    public CogVideoXDdimScheduler(SchedulerConfig config) {
        super(config);
    }

    private CogVideoXDdimScheduler(CogVideoXDdimScheduler base, int n) {
        super(base, n);
    }

    /**
     * Reads a {@code scheduler_config.json} written for either CogVideoX scheduler (they share every key; Diffusers
     * switches with {@code from_config}).
     *
     * @param schedulerConfigJson the file
     * @return the scheduler, without inference steps set
     * @throws IOException if the file cannot be read
     * @throws SchedulerException for an unknown scheduler type or unsupported value
     */
    public static CogVideoXDdimScheduler fromConfig(Path schedulerConfigJson) throws IOException {
        return new CogVideoXDdimScheduler(SchedulerConfig.read(schedulerConfigJson));
    }

    @Override
    public CogVideoXDdimScheduler withInferenceSteps(int n) {
        return new CogVideoXDdimScheduler(this, n);
    }

    /**
     * One DDIM step: {@code x0_hat} from the model output (v-prediction: {@code sqrt(a_t) x_t - sqrt(1 - a_t) v}),
     * then {@code x_prev = c1 x_t + c2 x0_hat} with {@code c1 = sqrt((1 - a_prev) / (1 - a_t))},
     * {@code c2 = sqrt(a_prev) - sqrt(a_t) c1}, coefficients in float64 rounded to the sample dtype.
     *
     * @param modelOutput the model output {@code [B, F, C, H, W]} (any shape equal to the sample's)
     * @param timestep the current timestep in {@code [0, T)}
     * @param sample the current sample {@code x_t}, FLOAT32 or FLOAT64
     * @return the previous sample and {@code x0_hat}, new arrays in the manager of {@code sample}
     * @throws IllegalStateException if no inference steps were set
     * @throws SchedulerException on shape, dtype or timestep errors
     */
    public SchedulerStep step(NDArray modelOutput, int timestep, NDArray sample) {
        requireInferenceSteps();
        requireSameShape(sample, modelOutput, "sample", "modelOutput");
        double alphaProdT = alphaAt(timestep, "timestep");
        double alphaProdTPrev = alphaPrev(prevTimestep(timestep));
        double a = Math.sqrt((1 - alphaProdTPrev) / (1 - alphaProdT));
        double b = Math.sqrt(alphaProdTPrev) - Math.sqrt(alphaProdT) * a;
        NDList out = Scopes.run(sample.getManager(), s -> {
            NDArray x0 = predictOriginalSample(s, modelOutput, sample, alphaProdT);
            NDArray prev = scalar(s, a, sample).mul(sample).add(scalar(s, b, sample).mul(x0));
            return new NDList(prev, x0);
        }, sample, modelOutput);
        return new SchedulerStep(out.get(0), out.get(1));
    }
}
