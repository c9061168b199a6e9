package io.github.cogvideox4j.bench;

import ai.djl.ndarray.types.Shape;
import com.google.common.base.Preconditions;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.config.CogVideoXVariant;
import java.util.List;

/**
 * One fixed training-bench configuration that the team also runs in the reference (Python) implementation: a model
 * config and the latent shape of one training sample.
 *
 * <p>The two cases of issue 6 share one model, "5B structure, 2 blocks of 8 heads x 64": CogVideoX-5b's config
 * ({@link CogVideoXConfig#released released(COGVIDEOX_5B)}: RoPE, patch 2, no temporal patch, time_embed 512, text
 * 226 x 4096, gelu-tanh, norm eps 1e-5) with {@code num_attention_heads = 8}, {@code num_layers = 2},
 * {@code sample_height = 32}, {@code sample_width = 48} (13 latent frames, as released). Inner dim D = 512.
 * <ul>
 *   <li>{@code bench-5b-l2-small}: latent {@code [1, 13, 16, 16, 24]}, 13·8·12 = 1,248 video + 226 text = 1,474
 *       tokens;</li>
 *   <li>{@code bench-5b-l2}: latent {@code [1, 13, 16, 32, 48]}, 13·16·24 = 4,992 video + 226 = 5,218 tokens.</li>
 * </ul>
 *
 * <p>Immutable and thread-safe.
 *
 * @param name the name both implementations print
 * @param config the transformer config
 * @param latentShape {@code [B, F, C, h, w]} of the clean latents (and of the noise)
 */
public record TrainingBenchCase(String name, CogVideoXConfig config, Shape latentShape) {
    /** Checks the latent shape is 5-D with the config's output channels. */
    public TrainingBenchCase {
        Preconditions.checkNotNull(name, "name");
        Preconditions.checkNotNull(config, "config");
        Preconditions.checkArgument(latentShape.dimension() == 5 && latentShape.get(2) == config.outChannels(),
                "latent shape must be [B, F, %s, h, w], got %s", config.outChannels(), latentShape);
    }

    /** @return the small case, 1,474 tokens */
    public static TrainingBenchCase benchSmall() {
        return new TrainingBenchCase("bench-5b-l2-small", benchModel(), new Shape(1, 13, 16, 16, 24));
    }

    /** @return the larger case, 5,218 tokens */
    public static TrainingBenchCase bench() {
        return new TrainingBenchCase("bench-5b-l2", benchModel(), new Shape(1, 13, 16, 32, 48));
    }

    /** @return both cases, small first */
    public static List<TrainingBenchCase> all() {
        return List.of(benchSmall(), bench());
    }

    /**
     * @param name {@code bench-5b-l2-small} or {@code bench-5b-l2}
     * @return the case of that name
     * @throws IllegalArgumentException for another name
     */
    public static TrainingBenchCase named(String name) {
        return all().stream().filter(c -> c.name().equals(name)).findFirst().orElseThrow(
                () -> new IllegalArgumentException("unknown bench case '" + name + "'; expected one of "
                        + all().stream().map(TrainingBenchCase::name).toList()));
    }

    /**
     * @return the shared bench model: CogVideoX-5b's config with 8 heads, 2 layers and a 32 x 48 latent sample
     *     size (its {@code config.json} is {@code benchModel().toJson()})
     */
    public static CogVideoXConfig benchModel() {
        CogVideoXConfig r = CogVideoXConfig.released(CogVideoXVariant.COGVIDEOX_5B);
        return new CogVideoXConfig(8, r.attentionHeadDim(), r.inChannels(), r.outChannels(), r.flipSinToCos(),
                r.freqShift(), r.timeEmbedDim(), r.ofsEmbedDim(), r.textEmbedDim(), 2, r.dropout(), r.attentionBias(),
                48, 32, r.sampleFrames(), r.patchSize(), r.patchSizeT(), r.temporalCompressionRatio(),
                r.maxTextSeqLength(), r.activationFn(), r.timestepActivationFn(), r.normElementwiseAffine(),
                r.normEps(), r.spatialInterpolationScale(), r.temporalInterpolationScale(),
                r.useRotaryPositionalEmbeddings(), r.useLearnedPositionalEmbeddings(), r.patchBias());
    }

    /** @return video tokens {@code ceil(F / p_t) · (h / p) · (w / p)} */
    public long videoTokens() {
        long pt = config.patchSizeT() == null ? 1 : config.patchSizeT();
        long p = config.patchSize();
        return ((latentShape.get(1) + pt - 1) / pt) * (latentShape.get(3) / p) * (latentShape.get(4) / p);
    }

    /** @return video plus text tokens, the attention length S */
    public long tokens() {
        return videoTokens() + config.maxTextSeqLength();
    }

    /** @return the batch size */
    public long batch() {
        return latentShape.get(0);
    }
}
