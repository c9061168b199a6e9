package io.github.cogvideox4j.core.schedule;

import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.core.Scopes;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import com.google.common.base.Preconditions;
import java.util.random.RandomGenerator;

/**
 * Caption (text-condition) dropout: with probability p per sample, replace the prompt embedding by zeros
 * (SAT's {@code ucg_rate}, finetrainers' "zero") or by the embedding of the empty prompt (finetrainers' "empty",
 * what the pipelines use as the unconditional branch). The Diffusers examples and CogVideo's trainer use none.
 *
 * <p>Thread safety: immutable (the generator passed in is not).
 *
 * @param probability per-sample dropout probability in {@code [0, 1]}
 * @param technique what a dropped caption becomes
 */
public record CaptionDropout(double probability, Technique technique) {

    /** What a dropped caption becomes. */
    public enum Technique {
        /** An all-zero embedding (SAT). */
        ZERO,
        /** The T5 embedding of the empty prompt "" (padded to the same length). */
        EMPTY
    }

    /** Validates the probability. */
    public CaptionDropout {
        Preconditions.checkArgument(probability >= 0 && probability <= 1, "probability must be in [0, 1], got %s",
                probability);
        Preconditions.checkNotNull(technique, "technique");
    }

    /**
     * @param promptEmbeds {@code [B, L, D]} FLOAT32
     * @param emptyPromptEmbeds {@code [1, L, D]} or {@code [B, L, D]}: the empty prompt's embedding (for
     *     {@link Technique#EMPTY}; ignored and may be {@code null} for {@link Technique#ZERO})
     * @param random one {@code nextDouble()} per sample decides its dropout
     * @return a new {@code [B, L, D]} array in the manager of {@code promptEmbeds}
     */
    public NDArray apply(NDArray promptEmbeds, NDArray emptyPromptEmbeds, RandomGenerator random) {
        Shape s = promptEmbeds.getShape();
        Preconditions.checkArgument(s.dimension() == 3, "promptEmbeds must be [B, L, D], got %s", s);
        int b = Math.toIntExact(s.get(0));
        if (technique == Technique.EMPTY) {
            Preconditions.checkNotNull(emptyPromptEmbeds, "the EMPTY technique needs the empty prompt's embedding");
            Shape e = emptyPromptEmbeds.getShape();
            Preconditions.checkArgument(e.dimension() == 3 && (e.get(0) == 1 || e.get(0) == b)
                    && e.get(1) == s.get(1) && e.get(2) == s.get(2),
                    "emptyPromptEmbeds must be [1 or B, L, D] matching %s, got %s", s, e);
        }
        float[] drop = new float[b];
        for (int i = 0; i < b; i++) {
            drop[i] = random.nextDouble() < probability ? 1f : 0f;
        }
        return Scopes.single(promptEmbeds.getManager(), m -> {
            NDArray d = EngineArrays.create(m, drop, new Shape(b, 1, 1));
            NDArray kept = promptEmbeds.mul(d.neg().add(1f));
            return technique == Technique.ZERO ? kept : kept.add(emptyPromptEmbeds.mul(d));
        }, promptEmbeds);
    }
}
