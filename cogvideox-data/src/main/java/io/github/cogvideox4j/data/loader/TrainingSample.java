package io.github.cogvideox4j.data.loader;

import ai.djl.ndarray.NDArray;
import com.google.common.base.Preconditions;
import java.util.Objects;
import java.util.Optional;

/**
 * One sample ready to be batched: a scaled latent, its prompt embedding and, for I2V, its image latent.
 *
 * <p>Ownership: the arrays belong to the manager the {@link SampleSource} was given. Thread safety: immutable
 * references.
 *
 * @param index the sample index
 * @param source what the sample was read from (for messages), e.g. the media file
 * @param latents {@code [F, C, h, w]} scaled latents
 * @param promptEmbedding {@code [S, D]}
 * @param imageLatents I2V: {@code [1, C, h, w]} scaled image latents (the trainer pads them to F with zeros)
 */
public record TrainingSample(int index, String source, NDArray latents, NDArray promptEmbedding,
        Optional<NDArray> imageLatents) {
    /** Checks ranks. */
    public TrainingSample {
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(latents, "latents");
        Objects.requireNonNull(promptEmbedding, "promptEmbedding");
        Objects.requireNonNull(imageLatents, "imageLatents");
        Preconditions.checkArgument(latents.getShape().dimension() == 4, "%s: latents must be [F, C, h, w], got %s",
                source, latents.getShape());
        Preconditions.checkArgument(promptEmbedding.getShape().dimension() == 2,
                "%s: promptEmbedding must be [S, D], got %s", source, promptEmbedding.getShape());
        imageLatents.ifPresent(img -> Preconditions.checkArgument(img.getShape().dimension() == 4,
                "%s: imageLatents must be [1, C, h, w], got %s", source, img.getShape()));
    }
}
