package io.github.cogvideox4j.core.schedule;

import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.core.Scopes;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.google.common.base.Preconditions;
import java.util.random.RandomGenerator;

/**
 * The image-to-video conditioning recipe of the trainers (diffusers
 * {@code examples/cogvideo/train_cogvideox_image_to_video_lora.py}, SAT {@code add_noise_to_first_frame}),
 * as steps the data side and the training loop
 * call around {@link CogVideoXObjective}:
 *
 * <ol>
 *   <li>{@link #augment}: pixel-space noise augmentation of the conditioning image before VAE encoding,
 *       {@code image + sigma * N(0, I)} with {@code sigma = exp(N(-3, 0.5))} (median 0.0498), one sigma per batch
 *       (Diffusers example, CogVideo trainer) or per sample (SAT, cogvideox-factory);</li>
 *   <li>{@link #prepare}: scale the encoded latent ({@link ImageLatentScale}), permute the VAE layout
 *       {@code [B, C, 1, h, w]} to {@code [B, 1, C, h, w]}, zero-pad to F latent frames, and drop the image latents
 *       of each sample with probability {@code dropoutProbability} (Diffusers I2V script: 0.05, one coin per
 *       sample; CogVideo's trainer: none).</li>
 * </ol>
 *
 * <p>Random draws come from the {@link RandomGenerator} passed in (reproducible with a seeded one; not torch's
 * generator). Results are new arrays in the manager of the input; inputs are not closed.
 *
 * <p>Thread safety: immutable (the generators passed in are not).
 *
 * @param dropoutProbability probability of zeroing a sample's image latents, in {@code [0, 1]}
 * @param scale how the encoded latents are scaled
 * @param sigmaPerSample whether the augmentation sigma is drawn per sample (else once per batch)
 */
public record ImageConditioning(double dropoutProbability, ImageLatentScale scale, boolean sigmaPerSample) {

    /** The Diffusers I2V script's image dropout probability ({@code --noised_image_dropout}, also SAT's). */
    public static final double DIFFUSERS_DROPOUT = 0.05;

    /** Validates the probability. */
    public ImageConditioning {
        Preconditions.checkArgument(dropoutProbability >= 0 && dropoutProbability <= 1,
                "dropoutProbability must be in [0, 1], got %s", dropoutProbability);
        Preconditions.checkNotNull(scale, "scale");
    }

    /** @return the Diffusers {@code train_cogvideox_image_to_video_lora.py} recipe: dropout 0.05, x scaling factor,
     *     one sigma per batch */
    public static ImageConditioning diffusersScript() {
        return new ImageConditioning(DIFFUSERS_DROPOUT, ImageLatentScale.MULTIPLY, false);
    }

    /** @return CogVideo's {@code finetune} I2V trainer: no dropout, x scaling factor, one sigma per batch */
    public static ImageConditioning cogVideoTrainer() {
        return new ImageConditioning(0.0, ImageLatentScale.MULTIPLY, false);
    }

    /**
     * @param probability the new dropout probability
     * @return a copy with it
     */
    public ImageConditioning withDropoutProbability(double probability) {
        return new ImageConditioning(probability, scale, sigmaPerSample);
    }

    /**
     * @param newScale the image-latent scale (the 1.5 caveat switch)
     * @return a copy with it
     */
    public ImageConditioning withScale(ImageLatentScale newScale) {
        return new ImageConditioning(dropoutProbability, newScale, sigmaPerSample);
    }

    /**
     * @param random the generator
     * @return {@code exp(N(-3, 0.5))}
     */
    public static double noiseAugmentationSigma(RandomGenerator random) {
        return Math.exp(-3.0 + 0.5 * random.nextGaussian());
    }

    /**
     * Adds the pixel-space noise augmentation to conditioning images (before VAE encoding).
     *
     * @param images {@code [B, ...]} images in {@code [-1, 1]} (e.g. {@code [B, C, 1, H, W]}), FLOAT32
     * @param random the generator: sigma(s) first, then the standard-normal noise row-major
     * @return {@code images + sigma * N(0, I)}, a new array in the manager of {@code images}
     */
    public NDArray augment(NDArray images, RandomGenerator random) {
        Shape shape = images.getShape();
        Preconditions.checkArgument(shape.dimension() >= 1, "images must have a batch axis, got %s", shape);
        int b = Math.toIntExact(shape.get(0));
        float[] sigma = new float[sigmaPerSample ? b : 1];
        for (int i = 0; i < sigma.length; i++) {
            sigma[i] = (float) noiseAugmentationSigma(random);
        }
        long[] dims = new long[shape.dimension()];
        java.util.Arrays.fill(dims, 1);
        dims[0] = sigma.length;
        int n = Math.toIntExact(shape.size());
        float[] noise = new float[n];
        for (int i = 0; i < n; i++) {
            noise[i] = (float) random.nextGaussian();
        }
        NDManager owner = images.getManager();
        return Scopes.single(owner, s -> images.add(EngineArrays.create(s, noise, shape).mul(EngineArrays.create(s, sigma, new Shape(dims)))),
                images);
    }

    /**
     * Turns encoded image latents into the conditioning tensor of the objective.
     *
     * @param encoded {@code [B, C, 1, h, w]} VAE latents of the (augmented) first frame, unscaled, FLOAT32
     * @param scalingFactor the VAE {@code scaling_factor} (0.7)
     * @param frames F, the (padded) latent frame count of the video latents
     * @param random the generator for the dropout coins (one {@code nextDouble()} per sample, as the script's
     *     {@code random.random() < p}); not used when the probability is 0
     * @return {@code [B, F, C, h, w]}: scaled image latent in frame 0, zeros after; dropped samples all zero; a new
     *     array in the manager of {@code encoded}
     */
    public NDArray prepare(NDArray encoded, double scalingFactor, long frames, RandomGenerator random) {
        Shape e = encoded.getShape();
        Preconditions.checkArgument(e.dimension() == 5 && e.get(2) == 1,
                "encoded image latents must be [B, C, 1, h, w], got %s", e);
        Preconditions.checkArgument(frames >= 1, "frames must be positive, got %s", frames);
        long b = e.get(0), c = e.get(1), h = e.get(3), w = e.get(4);
        float[] keep = new float[Math.toIntExact(b)];
        for (int i = 0; i < keep.length; i++) {
            keep[i] = dropoutProbability > 0 && random.nextDouble() < dropoutProbability ? 0f : 1f;
        }
        return Scopes.single(encoded.getManager(), s -> {
            NDArray x = scale.apply(encoded, scalingFactor).transpose(0, 2, 1, 3, 4);        // [B, 1, C, h, w]
            if (frames > 1) {
                x = NDArrays.concat(new NDList(x, s.zeros(new Shape(b, frames - 1, c, h, w))), 1);
            }
            return x.mul(EngineArrays.create(s, keep, new Shape(b, 1, 1, 1, 1)));
        }, encoded);
    }
}
