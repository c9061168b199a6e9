package io.github.cogvideox4j.core.pipeline;

import io.github.cogvideox4j.core.EngineArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.SplittableRandom;

/**
 * Where every random draw of {@link CogVideoXSampler} comes from, so that runs are reproducible and can be replayed
 * against the reference by injecting its recorded draws.
 *
 * <p>The sampler calls {@link #next} in this order: one {@link Use#IMAGE_LATENT_SAMPLE} per batch row (I2V from a
 * latent distribution only, {@code index} = the row, shape {@code [1, C, 1, h, w]} as the pipeline encodes images
 * one by one), one {@link Use#INITIAL_LATENTS} ({@code index} 0, shape {@code [B, F, C, h, w]}), then one
 * {@link Use#SCHEDULER_STEP} per DPM step ({@code index} = the 0-based denoising step, shape of the latents): the
 * draw whose noise is used. The reference's second-order steps draw twice and use the second draw, and its last
 * step's noise is multiplied by zero; a replay maps each step to the draw that was used. DDIM steps draw nothing.
 *
 * <p>Ownership: the returned array must be a new standard-normal FLOAT32 array of the requested shape owned by
 * {@code manager}; the sampler closes it when done.
 *
 * <p>Thread safety: implementations are usually stateful and confined to one sampling run.
 */
@FunctionalInterface
public interface NoiseSource {

    /** What a draw is for. */
    enum Use {
        /** The VAE posterior sample of the conditioning image (I2V from a latent distribution). */
        IMAGE_LATENT_SAMPLE,
        /** The initial latents ({@code prepare_latents}), multiplied by {@code init_noise_sigma} (1.0). */
        INITIAL_LATENTS,
        /** The noise of one DPM-Solver++(2M) step. */
        SCHEDULER_STEP
    }

    /**
     * @param use what the draw is for
     * @param index the batch row (IMAGE_LATENT_SAMPLE), 0 (INITIAL_LATENTS) or the denoising step (SCHEDULER_STEP)
     * @param shape the shape of the draw
     * @param manager the owner of the result
     * @return a new FLOAT32 standard-normal array of {@code shape} owned by {@code manager}
     */
    NDArray next(Use use, int index, Shape shape, NDManager manager);

    /**
     * The default source: standard-normal values drawn row-major, in call order, from one
     * {@link SplittableRandom} seeded with {@code seed} (not torch's generator: the values differ from the
     * reference's, the structure does not).
     *
     * @param seed the seed
     * @return a new source; not thread-safe
     */
    static NoiseSource seeded(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        return (use, index, shape, manager) -> {
            float[] v = new float[Math.toIntExact(shape.size())];
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) random.nextGaussian();
            }
            return EngineArrays.create(manager, v, shape);
        };
    }
}
