package io.github.cogvideox4j.data.cache;

import io.github.cogvideox4j.core.EngineArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.common.base.Preconditions;
import java.util.Objects;
import java.util.random.RandomGenerator;

/**
 * Sampling latents from stored VAE moments (cogvideox-factory / finetrainers with {@code compute_posterior=False},
 * and our cache): {@code z = (mean + exp(logvar / 2) * eps) * scaling_factor}, {@code eps ~ N(0, I)}, with
 * log-variance clamped to [-30, 20] as diffusers' {@code DiagonalGaussianDistribution} does.
 *
 * <p>The noise comes from a Java {@link RandomGenerator}, so a sample is reproducible from its seed on any thread
 * (independent of the engine's global RNG).
 *
 * <p>Thread safety: stateless.
 */
public final class VaeMoments {
    private VaeMoments() {}

    /**
     * Draws one latent.
     *
     * @param moments {@code [2C, ...]} mean || log-variance on axis 0 (not closed)
     * @param scalingFactor the VAE scaling factor
     * @param random noise source
     * @param manager owner of the result
     * @return {@code [C, ...]} float32 scaled latent, owned by {@code manager}
     */
    public static NDArray sample(NDArray moments, float scalingFactor, RandomGenerator random, NDManager manager) {
        Objects.requireNonNull(random, "random");
        Shape shape = moments.getShape();
        Preconditions.checkArgument(shape.dimension() >= 1 && shape.get(0) % 2 == 0,
                "moments must have an even axis 0 (mean || logvar), got %s", shape);
        long c = shape.get(0) / 2;
        Shape half = new Shape(concat(c, shape.slice(1).getShape()));
        float[] eps = new float[Math.toIntExact(half.size())];
        for (int i = 0; i < eps.length; i++) {
            eps[i] = (float) random.nextGaussian();
        }
        try (NDManager scratch = manager.newSubManager()) {
            moments.tempAttach(scratch); // intermediates land in scratch; moments returns to its owner at close
            NDArray m = moments.toType(DataType.FLOAT32, true);
            NDArray mean = m.get(new NDIndex("0:{}", c));
            NDArray logvar = m.get(new NDIndex("{}:", c)).clip(-30f, 20f);
            NDArray noise = EngineArrays.create(scratch, eps, half);
            NDArray z = EngineArrays.mul(mean.add(EngineArrays.mul(logvar, 0.5).exp().mul(noise)), scalingFactor);
            z.attach(manager);
            return z;
        }
    }

    /**
     * The scaled mean (the deterministic latent, e.g. for validation).
     *
     * @param moments {@code [2C, ...]} (not closed)
     * @param scalingFactor the VAE scaling factor
     * @param manager owner of the result
     * @return {@code [C, ...]} float32, owned by {@code manager}
     */
    public static NDArray mode(NDArray moments, float scalingFactor, NDManager manager) {
        long c = moments.getShape().get(0) / 2;
        try (NDManager scratch = manager.newSubManager()) {
            moments.tempAttach(scratch);
            NDArray m = moments.toType(DataType.FLOAT32, true);
            NDArray z = EngineArrays.mul(m.get(new NDIndex("0:{}", c)), scalingFactor);
            z.attach(manager);
            return z;
        }
    }

    private static long[] concat(long first, long[] rest) {
        long[] out = new long[rest.length + 1];
        out[0] = first;
        System.arraycopy(rest, 0, out, 1, rest.length);
        return out;
    }
}
