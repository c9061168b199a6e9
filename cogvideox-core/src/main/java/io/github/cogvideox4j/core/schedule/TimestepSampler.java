package io.github.cogvideox4j.core.schedule;

import io.github.cogvideox4j.core.EngineArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.google.common.base.Preconditions;
import java.util.SplittableRandom;

/**
 * Training timesteps {@code t ~ Uniform{0, ..., T-1}} per sample (the reference's
 * {@code torch.randint(0, num_train_timesteps, (B,))}), from a seeded generator so that runs are reproducible. The
 * draws are not those of torch's generator.
 *
 * <p>Thread safety: not thread-safe (the generator advances with every call); use one per training loop.
 */
public final class TimestepSampler {
    private final int numTrainTimesteps;
    private final SplittableRandom random;

    private TimestepSampler(int numTrainTimesteps, long seed) {
        Preconditions.checkArgument(numTrainTimesteps > 0, "numTrainTimesteps must be positive, got %s",
                numTrainTimesteps);
        this.numTrainTimesteps = numTrainTimesteps;
        this.random = new SplittableRandom(seed);
    }

    /**
     * @param scheduler the schedule whose {@code num_train_timesteps} bounds the draws
     * @param seed the seed
     * @return a uniform sampler over {@code [0, T)}
     */
    public static TimestepSampler uniform(CogVideoXScheduler scheduler, long seed) {
        return new TimestepSampler(scheduler.numTrainTimesteps(), seed);
    }

    /**
     * @param numTrainTimesteps T (1000)
     * @param seed the seed
     * @return a uniform sampler over {@code [0, T)}
     */
    public static TimestepSampler uniform(int numTrainTimesteps, long seed) {
        return new TimestepSampler(numTrainTimesteps, seed);
    }

    /**
     * @param batch B
     * @return B timesteps drawn independently
     */
    public long[] nextValues(int batch) {
        Preconditions.checkArgument(batch > 0, "batch must be positive, got %s", batch);
        long[] t = new long[batch];
        for (int i = 0; i < batch; i++) {
            t[i] = random.nextInt(numTrainTimesteps);
        }
        return t;
    }

    /**
     * @param batch B
     * @param manager the owner of the result
     * @return {@code [B]} INT64 timesteps, owned by {@code manager}
     */
    public NDArray next(int batch, NDManager manager) {
        return EngineArrays.create(manager, nextValues(batch), new Shape(batch));
    }
}
