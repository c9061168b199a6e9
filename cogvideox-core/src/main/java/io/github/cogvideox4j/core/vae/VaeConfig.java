package io.github.cogvideox4j.core.vae;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.common.base.Preconditions;
import io.github.cogvideox4j.core.config.ConfigException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The {@code config.json} of an {@code AutoencoderKLCogVideoX} folder. Missing keys take the diffusers class defaults
 * (the released 480x720 VAE with scaling factor 1.15258426); unknown keys are ignored.
 *
 * <p>Thread safety: immutable.
 *
 * @param inChannels pixel channels (3)
 * @param outChannels decoded channels (3)
 * @param blockOutChannels channels per down/up block, e.g. [128, 256, 256, 512]
 * @param latentChannels latent channels (16)
 * @param layersPerBlock resnets per encoder block (decoder blocks get one more)
 * @param normEps GroupNorm epsilon of the resnets
 * @param normNumGroups GroupNorm groups
 * @param temporalCompressionRatio 4: the first log2(4) blocks compress time
 * @param sampleHeight pixel height the tiling defaults derive from
 * @param sampleWidth pixel width the tiling defaults derive from
 * @param scalingFactor the latent scale applied by pipelines (not by this VAE)
 * @param invertScaleLatents whether I2V image latents are divided (1.5) rather than multiplied by the scale
 * @param useQuantConv must be false (no released checkpoint uses it)
 * @param usePostQuantConv must be false
 */
public record VaeConfig(int inChannels, int outChannels, List<Integer> blockOutChannels, int latentChannels,
        int layersPerBlock, double normEps, int normNumGroups, int temporalCompressionRatio, int sampleHeight,
        int sampleWidth, double scalingFactor, boolean invertScaleLatents, boolean useQuantConv,
        boolean usePostQuantConv) {

    /** Validates the values. */
    public VaeConfig {
        blockOutChannels = List.copyOf(blockOutChannels);
        Preconditions.checkArgument(!blockOutChannels.isEmpty(), "block_out_channels is empty");
        for (int c : blockOutChannels) {
            Preconditions.checkArgument(c % normNumGroups == 0, "block_out_channels %s not divisible by "
                    + "norm_num_groups %s", blockOutChannels, normNumGroups);
        }
        Preconditions.checkArgument(Integer.bitCount(temporalCompressionRatio) == 1,
                "temporal_compression_ratio %s is not a power of two", temporalCompressionRatio);
        if (useQuantConv || usePostQuantConv) {
            throw new ConfigException("use_quant_conv/use_post_quant_conv are not supported (no CogVideoX "
                    + "release uses them)");
        }
    }

    /**
     * @param file a {@code config.json}
     * @return the config
     * @throws IOException if the file cannot be read or parsed
     * @throws ConfigException if a value is invalid
     */
    public static VaeConfig read(Path file) throws IOException {
        JsonNode n = new ObjectMapper().readTree(file.toFile());
        List<Integer> blocks = new ArrayList<>();
        if (n.hasNonNull("block_out_channels")) {
            n.get("block_out_channels").forEach(v -> blocks.add(v.asInt()));
        } else {
            blocks.addAll(List.of(128, 256, 256, 512));
        }
        try {
            return new VaeConfig(n.path("in_channels").asInt(3), n.path("out_channels").asInt(3), blocks,
                    n.path("latent_channels").asInt(16), n.path("layers_per_block").asInt(3),
                    n.path("norm_eps").asDouble(1e-6), n.path("norm_num_groups").asInt(32),
                    (int) n.path("temporal_compression_ratio").asDouble(4), n.path("sample_height").asInt(480),
                    n.path("sample_width").asInt(720), n.path("scaling_factor").asDouble(1.15258426),
                    n.path("invert_scale_latents").asBoolean(false), n.path("use_quant_conv").asBoolean(false),
                    n.path("use_post_quant_conv").asBoolean(false));
        } catch (IllegalArgumentException e) {
            throw new ConfigException(file + ": " + e.getMessage());
        }
    }

    /** @return the number of time-compressing blocks, log2(temporal_compression_ratio) */
    int temporalCompressLevel() {
        return Integer.numberOfTrailingZeros(temporalCompressionRatio);
    }

    /** @return the spatial compression, 2^(blocks - 1) */
    int spatialScale() {
        return 1 << (blockOutChannels.size() - 1);
    }
}
