package io.github.cogvideox4j.core.pipeline;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.common.base.Preconditions;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.io.DiffusersFolderWriter;
import io.github.cogvideox4j.core.io.SafetensorsDType;
import io.github.cogvideox4j.core.io.SafetensorsWriter;
import io.github.cogvideox4j.core.io.TensorData;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.schedule.SchedulerConfig;
import io.github.cogvideox4j.core.text.SentencePieceModelWriter;
import io.github.cogvideox4j.core.text.T5Config;
import io.github.cogvideox4j.core.text.T5EncoderModel;
import io.github.cogvideox4j.core.text.T5Tokenizer;
import io.github.cogvideox4j.core.vae.AutoencoderKLCogVideoX;
import io.github.cogvideox4j.core.vae.VaeConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes a tiny text-to-video CogVideoX pipeline as a Diffusers folder, with random weights drawn from a seed: a
 * model that needs no download, for demos and tests. The folder is laid out as Diffusers saves a
 * {@code CogVideoXPipeline} and loads through {@link CogVideoXPipeline#load(Path, NDManager)} like a released one:
 *
 * <ul>
 *   <li>{@code model_index.json};
 *   <li>{@code transformer/}: the CogVideoX-5b structure (RoPE, no positional table) at tiny size ({@link #transformerConfig}:
 *       2 layers, 2 heads of 16, 16 latent channels, text width 32, 226 text tokens), BF16 weights in
 *       {@value #TRANSFORMER_SHARDS} shards with {@code diffusion_pytorch_model.safetensors.index.json};
 *   <li>{@code vae/}: {@code AutoencoderKLCogVideoX} with blocks {@code [4, 8, 8, 8]}, 16 latent channels, scaling
 *       factor 0.7 ({@link #vaeConfig}), F32;
 *   <li>{@code text_encoder/}: a T5 v1.1 encoder (2 layers, d_model 32, 2 heads of 16, d_ff 64), F32;
 *   <li>{@code tokenizer/}: {@code spiece.model} written by {@link SentencePieceModelWriter} from
 *       {@link SentencePieceModelWriter#t5Vocabulary} of the given captions, plus {@code tokenizer_config.json}
 *       (100 extra ids, {@code legacy: true}) and {@code special_tokens_map.json};
 *   <li>{@code scheduler/}: the released CogVideoX-5b {@code CogVideoXDPMScheduler} config.
 * </ul>
 *
 * <p>The configs are those of the tiny pipeline Diffusers' reference run used ({@code pipeline/t2v_5b} of the
 * golden vectors), except the text encoder's {@code vocab_size}, which fits the written vocabulary. Weights: the
 * transformer as {@link CogVideoXTransformer#random}, the text encoder as {@link T5EncoderModel#randomWeights}, the
 * VAE as torch's default {@code Conv3d}/{@code Conv2d} initialisation (uniform in {@code ±1/√fan_in} for weights and
 * biases) with unit GroupNorms. The same seed and captions give the same bytes, on any machine (the arrays are
 * made on the CPU, also where a GPU is the engine's default device).
 *
 * <p>Thread safety: stateless; do not write two pipelines into the same folder at once.
 */
public final class TinyPipelineWriter {
    /** The number of transformer weight shards written. */
    public static final int TRANSFORMER_SHARDS = 2;
    /** {@code extra_ids} of the tokenizer (T5's 100 sentinels). */
    public static final int EXTRA_IDS = 100;

    private static final Logger LOG = LoggerFactory.getLogger(TinyPipelineWriter.class);
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final Map<String, String> METADATA = Map.of("format", "pt");

    private TinyPipelineWriter() {}

    /**
     * Writes the pipeline folder (created if absent; files already there are replaced).
     *
     * @param dir the pipeline folder to write
     * @param seed the seed of every weight
     * @param captions texts whose words become whole pieces of the tokenizer (the prompts the pipeline will see);
     *     may be empty
     * @return {@code dir}
     * @throws IOException if a file cannot be written
     */
    public static Path write(Path dir, long seed, Collection<String> captions) throws IOException {
        Preconditions.checkNotNull(dir, "dir");
        Preconditions.checkNotNull(captions, "captions");
        SplittableRandom seeds = new SplittableRandom(seed);
        long transformerSeed = seeds.nextLong();
        long vaeSeed = seeds.nextLong();
        long textSeed = seeds.nextLong();
        Files.createDirectories(dir);
        writeJson(dir.resolve("model_index.json"), modelIndex());
        writeTransformer(dir.resolve("transformer"), transformerSeed);
        writeVae(dir.resolve("vae"), vaeSeed);
        List<SentencePieceModelWriter.Piece> pieces = SentencePieceModelWriter.t5Vocabulary(captions);
        writeTokenizer(dir.resolve("tokenizer"), pieces);
        writeTextEncoder(dir.resolve("text_encoder"), textEncoderConfig(pieces.size()), textSeed);
        Files.createDirectories(dir.resolve("scheduler"));
        writeJson(dir.resolve("scheduler").resolve("scheduler_config.json"), schedulerJson(schedulerConfig()));
        LOG.info("wrote a tiny CogVideoX pipeline (seed {}, {} tokenizer pieces) to {}", seed, pieces.size(), dir);
        return dir;
    }

    /** @return the transformer config: the CogVideoX-5b structure at tiny size (sample 8x12 latent, 49 frames) */
    public static CogVideoXConfig transformerConfig() {
        return new CogVideoXConfig(2, 16, 16, 16, true, 0, 32, null, 32, 2, 0.0, true, 12, 8, 49, 2, null, 4,
                T5Tokenizer.COGVIDEOX_MAX_LENGTH, "gelu-approximate", "silu", true, 1e-5, 1.875, 1.0, true, false,
                true);
    }

    /** @return the VAE config: blocks [4, 8, 8, 8], 16 latent channels, 2 groups, scaling factor 0.7 */
    public static VaeConfig vaeConfig() {
        return new VaeConfig(3, 3, List.of(4, 8, 8, 8), 16, 1, 1e-6, 2, 4, 64, 96, 0.7, false, false, false);
    }

    /**
     * @param pieceCount the tokenizer's SentencePiece vocabulary size
     * @return the text-encoder config: {@code vocab_size} = pieces + {@value #EXTRA_IDS} extra ids rounded up to a
     *     multiple of 32 (T5 pads 32100 to 32128 likewise)
     */
    public static T5Config textEncoderConfig(int pieceCount) {
        Preconditions.checkArgument(pieceCount > 0, "pieceCount must be positive, got %s", pieceCount);
        int vocab = (pieceCount + EXTRA_IDS + 31) / 32 * 32;
        return new T5Config(vocab, 32, 16, 64, 2, 2, 32, 128, 1e-6);
    }

    /** @return the scheduler config: the released CogVideoX-5b DPM scheduler (snr_shift_scale 1.0) */
    public static SchedulerConfig schedulerConfig() {
        return SchedulerConfig.released(SchedulerConfig.DPM_CLASS, 1.0);
    }

    private static ObjectNode modelIndex() {
        ObjectNode n = JSON.createObjectNode();
        n.put("_class_name", "CogVideoXPipeline");
        n.putArray("scheduler").add("diffusers").add(SchedulerConfig.DPM_CLASS);
        n.putArray("text_encoder").add("transformers").add("T5EncoderModel");
        n.putArray("tokenizer").add("transformers").add("T5Tokenizer");
        n.putArray("transformer").add("diffusers").add("CogVideoXTransformer3DModel");
        n.putArray("vae").add("diffusers").add("AutoencoderKLCogVideoX");
        return n;
    }

    private static void writeTransformer(Path dir, long seed) throws IOException {
        CogVideoXConfig config = transformerConfig();
        // on the CPU whatever the engine's default device: the random values are drawn in Java and only written out
        try (NDManager manager = NDManager.newBaseManager(Device.cpu());
                CogVideoXTransformer model = CogVideoXTransformer.random(config, manager, seed)) {
            long total = 0;
            long largest = 0;
            for (var a : model.namedParameters().values()) {
                long bytes = a.getShape().size() * SafetensorsDType.BF16.byteSize();
                total += bytes;
                largest = Math.max(largest, bytes);
            }
            // greedy filling stops past half the bytes, so the rest fits in the second shard
            long maxShard = (total + 1) / TRANSFORMER_SHARDS + largest;
            List<Path> files = DiffusersFolderWriter.write(dir, config, model.namedParameters(),
                    SafetensorsDType.BF16, maxShard);
            if (files.size() != TRANSFORMER_SHARDS) {
                throw new IllegalStateException("expected " + TRANSFORMER_SHARDS + " transformer shards, wrote "
                        + files.size());
            }
        }
    }

    private static void writeVae(Path dir, long seed) throws IOException {
        VaeConfig config = vaeConfig();
        Map<String, Shape> shapes = AutoencoderKLCogVideoX.parameterShapes(config);
        SplittableRandom random = new SplittableRandom(seed);
        List<TensorData> tensors = new ArrayList<>();
        for (Map.Entry<String, Shape> e : shapes.entrySet()) {
            String name = e.getKey();
            Shape shape = e.getValue();
            float[] values = new float[Math.toIntExact(shape.size())];
            String weightName = name.endsWith(".bias") ? name.substring(0, name.length() - 5) + ".weight" : name;
            Shape weight = shapes.get(weightName);
            boolean norm = weight != null && weight.dimension() == 1;
            if (norm) {
                java.util.Arrays.fill(values, name.endsWith(".weight") ? 1f : 0f);
            } else {
                long fanIn = weight == null ? shape.size() : weight.size() / weight.get(0);
                double bound = 1 / Math.sqrt(fanIn);
                for (int i = 0; i < values.length; i++) {
                    values[i] = (float) ((2 * random.nextDouble() - 1) * bound);
                }
            }
            tensors.add(TensorData.f32(name, shape.getShape(), values));
        }
        Files.createDirectories(dir);
        writeJson(dir.resolve("config.json"), vaeJson(config));
        SafetensorsWriter.write(dir.resolve(AutoencoderKLCogVideoX.WEIGHTS_BASE_NAME + ".safetensors"), tensors,
                METADATA);
    }

    private static void writeTextEncoder(Path dir, T5Config config, long seed) throws IOException {
        List<TensorData> tensors = new ArrayList<>();
        Map<String, Shape> shapes = config.parameterShapes();
        for (Map.Entry<String, float[]> e : T5EncoderModel.randomWeights(config, seed).entrySet()) {
            tensors.add(TensorData.f32(e.getKey(), shapes.get(e.getKey()).getShape(), e.getValue()));
        }
        Files.createDirectories(dir);
        writeJson(dir.resolve("config.json"), t5Json(config));
        SafetensorsWriter.write(dir.resolve("model.safetensors"), tensors, METADATA);
    }

    private static void writeTokenizer(Path dir, List<SentencePieceModelWriter.Piece> pieces) throws IOException {
        Files.createDirectories(dir);
        SentencePieceModelWriter.write(dir.resolve("spiece.model"), pieces);
        ObjectNode config = JSON.createObjectNode();
        config.put("tokenizer_class", "T5Tokenizer");
        config.put("extra_ids", EXTRA_IDS);
        config.put("legacy", true);
        config.put("model_max_length", T5Tokenizer.COGVIDEOX_MAX_LENGTH);
        config.put("eos_token", "</s>");
        config.put("pad_token", "<pad>");
        config.put("unk_token", "<unk>");
        config.set("additional_special_tokens", extraIds());
        writeJson(dir.resolve("tokenizer_config.json"), config);
        ObjectNode special = JSON.createObjectNode();
        special.set("additional_special_tokens", extraIds());
        special.put("eos_token", "</s>");
        special.put("pad_token", "<pad>");
        special.put("unk_token", "<unk>");
        writeJson(dir.resolve("special_tokens_map.json"), special);
    }

    private static ArrayNode extraIds() {
        ArrayNode a = JSON.createArrayNode();
        for (int i = 0; i < EXTRA_IDS; i++) {
            a.add("<extra_id_" + i + ">");
        }
        return a;
    }

    private static ObjectNode vaeJson(VaeConfig c) {
        ObjectNode n = JSON.createObjectNode();
        n.put("_class_name", "AutoencoderKLCogVideoX");
        n.put("act_fn", "silu");
        ArrayNode blocks = n.putArray("block_out_channels");
        c.blockOutChannels().forEach(blocks::add);
        ArrayNode down = n.putArray("down_block_types");
        ArrayNode up = JSON.createArrayNode();
        for (int i = 0; i < c.blockOutChannels().size(); i++) {
            down.add("CogVideoXDownBlock3D");
            up.add("CogVideoXUpBlock3D");
        }
        n.put("force_upcast", true);
        n.put("in_channels", c.inChannels());
        n.put("invert_scale_latents", c.invertScaleLatents());
        n.put("latent_channels", c.latentChannels());
        n.putNull("latents_mean");
        n.putNull("latents_std");
        n.put("layers_per_block", c.layersPerBlock());
        n.put("norm_eps", c.normEps());
        n.put("norm_num_groups", c.normNumGroups());
        n.put("out_channels", c.outChannels());
        n.put("sample_height", c.sampleHeight());
        n.put("sample_width", c.sampleWidth());
        n.put("scaling_factor", c.scalingFactor());
        n.putNull("shift_factor");
        n.put("temporal_compression_ratio", c.temporalCompressionRatio());
        n.set("up_block_types", up);
        n.put("use_post_quant_conv", c.usePostQuantConv());
        n.put("use_quant_conv", c.useQuantConv());
        return n;
    }

    private static ObjectNode t5Json(T5Config c) {
        ObjectNode n = JSON.createObjectNode();
        n.putArray("architectures").add("T5EncoderModel");
        n.put("classifier_dropout", 0.0);
        n.put("d_ff", c.dFf());
        n.put("d_kv", c.dKv());
        n.put("d_model", c.dModel());
        n.put("decoder_start_token_id", T5Tokenizer.PAD_ID);
        n.put("dense_act_fn", "gelu_new");
        n.put("dropout_rate", 0.1);
        n.put("dtype", "float32");
        n.put("eos_token_id", T5Tokenizer.EOS_ID);
        n.put("feed_forward_proj", "gated-gelu");
        n.put("initializer_factor", 1.0);
        n.put("is_encoder_decoder", false);
        n.put("is_gated_act", true);
        n.put("layer_norm_epsilon", c.layerNormEpsilon());
        n.put("model_type", "t5");
        n.put("num_decoder_layers", c.numLayers());
        n.put("num_heads", c.numHeads());
        n.put("num_layers", c.numLayers());
        n.put("pad_token_id", T5Tokenizer.PAD_ID);
        n.put("relative_attention_max_distance", c.relativeAttentionMaxDistance());
        n.put("relative_attention_num_buckets", c.relativeAttentionNumBuckets());
        n.put("tie_word_embeddings", false);
        n.put("use_cache", false);
        n.put("vocab_size", c.vocabSize());
        return n;
    }

    private static ObjectNode schedulerJson(SchedulerConfig c) {
        ObjectNode n = JSON.createObjectNode();
        n.put("_class_name", c.className());
        n.put("beta_end", c.betaEnd());
        n.put("beta_schedule", c.betaSchedule());
        n.put("beta_start", c.betaStart());
        n.put("clip_sample", false);
        n.put("clip_sample_range", 1.0);
        n.put("num_train_timesteps", c.numTrainTimesteps());
        n.put("prediction_type", c.predictionType());
        n.put("rescale_betas_zero_snr", c.rescaleBetasZeroSnr());
        n.put("sample_max_value", 1.0);
        n.put("set_alpha_to_one", c.setAlphaToOne());
        n.put("snr_shift_scale", c.snrShiftScale());
        n.put("steps_offset", c.stepsOffset());
        n.put("timestep_spacing", c.timestepSpacing());
        n.putNull("trained_betas");
        return n;
    }

    private static void writeJson(Path file, ObjectNode node) throws IOException {
        Files.writeString(file, JSON.writeValueAsString(node) + "\n");
    }
}
