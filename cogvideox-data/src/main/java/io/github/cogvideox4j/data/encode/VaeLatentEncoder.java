package io.github.cogvideox4j.data.encode;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.google.common.base.Preconditions;
import io.github.cogvideox4j.core.vae.AutoencoderKLCogVideoX;
import io.github.cogvideox4j.core.vae.LatentDistribution;
import io.github.cogvideox4j.core.vae.VaeConfig;
import io.github.cogvideox4j.data.cache.LatentEncoder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * The core CogVideoX VAE as the cache's {@link LatentEncoder}: {@code [F, 3, H, W]} pixels become
 * {@code [2C, F_lat, H/8, W/8]} moments (mean, then the log-variance clamped to [-30, 20] as diffusers'
 * {@code DiagonalGaussianDistribution} does; sampling from clamped or raw moments is the same).
 *
 * <p>Identity: {@code cogvideox-vae/<fingerprint of the vae folder>/fp32/<tiling|full>}, see {@link WeightsIdentity};
 * {@link #identityOf(Path, boolean)} computes it without loading weights, so a cache can be checked without a model.
 *
 * <p>Ownership: the adapter does not own the VAE (the caller closes it). Thread safety: not thread-safe.
 */
public final class VaeLatentEncoder implements LatentEncoder {
    private final AutoencoderKLCogVideoX vae;
    private final String identity;

    /**
     * @param vae the loaded VAE (tiling/slicing already set as wanted)
     * @param identity its identity, from {@link #identityOf(Path, boolean)}
     */
    public VaeLatentEncoder(AutoencoderKLCogVideoX vae, String identity) {
        this.vae = Objects.requireNonNull(vae, "vae");
        this.identity = Objects.requireNonNull(identity, "identity");
    }

    /**
     * Loads the VAE of a folder and computes its identity.
     *
     * @param dir a {@code vae/} folder or a pipeline root holding one
     * @param tiling whether to encode with diffusers' default tiling (changes the numbers, part of the identity)
     * @param manager parent of the VAE's manager
     * @return the adapter; close the returned {@link #vae()} to free the weights
     * @throws IOException if reading fails
     */
    public static VaeLatentEncoder load(Path dir, boolean tiling, NDManager manager) throws IOException {
        String id = identityOf(dir, tiling);
        AutoencoderKLCogVideoX vae = AutoencoderKLCogVideoX.load(dir, manager);
        if (tiling) {
            vae.enableTiling();
        }
        return new VaeLatentEncoder(vae, id);
    }

    /**
     * The identity {@link #load} would give, computed from the files alone.
     *
     * @param dir a {@code vae/} folder or a pipeline root holding one
     * @param tiling whether tiling is on
     * @return the identity
     * @throws IOException if the folder cannot be read
     */
    public static String identityOf(Path dir, boolean tiling) throws IOException {
        return "cogvideox-vae/" + WeightsIdentity.of(List.of(folder(dir))) + "/fp32/" + (tiling ? "tiling" : "full");
    }

    /**
     * The config's {@code scaling_factor}, read without loading weights.
     *
     * @param dir a {@code vae/} folder or a pipeline root holding one
     * @return the scaling factor
     * @throws IOException if the config cannot be read
     */
    public static float scalingFactorOf(Path dir) throws IOException {
        return (float) VaeConfig.read(folder(dir).resolve("config.json")).scalingFactor();
    }

    private static Path folder(Path dir) {
        return Files.isRegularFile(dir.resolve("config.json")) ? dir : dir.resolve("vae");
    }

    /** @return the wrapped VAE (not owned by this adapter) */
    public AutoencoderKLCogVideoX vae() {
        return vae;
    }

    @Override
    public String identity() {
        return identity;
    }

    @Override
    public float scalingFactor() {
        return (float) vae.scalingFactor();
    }

    /**
     * {@inheritDoc}
     *
     * @throws IllegalArgumentException if {@code pixels} is not {@code [F, 3, H, W]}
     */
    @Override
    public NDArray encodeMoments(NDArray pixels, NDManager manager) {
        Preconditions.checkArgument(pixels.getShape().dimension() == 4 && pixels.getShape().get(1) == 3,
                "pixels must be [F, 3, H, W], got %s", pixels.getShape());
        try (NDManager scope = manager.newSubManager()) {
            NDArray batch = pixels.transpose(1, 0, 2, 3).expandDims(0);
            batch.attach(scope);
            try (LatentDistribution d = vae.encode(batch)) {
                NDArray moments = d.mean().concat(d.logvar(), 1).squeeze(0);
                moments.attach(manager);
                return moments;
            }
        }
    }
}
