package io.github.cogvideox4j.core.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.google.common.base.Preconditions;
import io.github.cogvideox4j.core.EngineArrays;

/**
 * The encoder's diagonal Gaussian ({@code DiagonalGaussianDistribution}): mean and log-variance are the two channel
 * halves of the encoder output, the log-variance clamped to [-30, 20]. Owns its arrays (a sub-manager of the manager
 * the input pixels lived in); close it to free them.
 *
 * <p>Shapes: {@code [B, latent, f, h, w]} each. Thread safety: not thread-safe (DJL arrays).
 */
public final class LatentDistribution implements AutoCloseable {
    private final NDManager manager;
    private final NDArray mean;
    private final NDArray logvar;

    LatentDistribution(NDArray parameters, NDManager parent) {
        this.manager = parent.newSubManager();
        long c = parameters.getShape().get(1);
        Preconditions.checkArgument(c % 2 == 0, "encoder output has an odd channel count %s", c);
        NDArray[] halves = parameters.split(2, 1).toArray(new NDArray[0]);
        this.mean = halves[0].duplicate();
        try (NDArray raw = halves[1]) {
            this.logvar = raw.clip(-30.0, 20.0);
        }
        halves[0].close();
        mean.attach(manager);
        logvar.attach(manager);
    }

    /** @return the mean {@code [B, latent, f, h, w]} (owned by this distribution) */
    public NDArray mean() {
        return mean;
    }

    /** @return the clamped log-variance (owned by this distribution) */
    public NDArray logvar() {
        return logvar;
    }

    /**
     * @return {@code exp(0.5 * logvar)}, a new array the caller owns (in this distribution's manager's parent scope:
     *     attach it where needed)
     */
    public NDArray std() {
        try (NDArray half = EngineArrays.mul(logvar, 0.5)) {
            NDArray s = half.exp();
            s.attach(manager.getParentManager());
            return s;
        }
    }

    /**
     * @param noise standard normal draws of the mean's shape
     * @return {@code mean + std * noise}, a new array in {@code noise}'s manager; the caller owns it
     */
    public NDArray sample(NDArray noise) {
        Preconditions.checkArgument(noise.getShape().equals(mean.getShape()), "noise shape %s != latent shape %s",
                noise.getShape(), mean.getShape());
        try (NDArray std = std(); NDArray scaled = std.mul(noise)) {
            NDArray out = mean.add(scaled);
            out.attach(noise.getManager());
            return out;
        }
    }

    /** @return the mean (the mode), same array as {@link #mean()} */
    public NDArray mode() {
        return mean;
    }

    @Override
    public void close() {
        manager.close();
    }
}
