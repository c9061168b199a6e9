package io.github.cogvideox4j.core.pipeline;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.common.base.Preconditions;
import io.github.cogvideox4j.core.CogVideoXException;
import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.schedule.CogVideoXScheduler;
import io.github.cogvideox4j.core.schedule.ImageLatentScale;
import io.github.cogvideox4j.core.vae.AutoencoderKLCogVideoX;
import io.github.cogvideox4j.core.vae.LatentDistribution;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Text-to-video and image-to-video generation from a Diffusers pipeline folder ({@code model_index.json} with
 * {@code transformer/}, {@code vae/}, {@code scheduler/}): Diffusers' {@code CogVideoXPipeline} and
 * {@code CogVideoXImageToVideoPipeline} with {@code output_type="pt"}, for all five releases.
 *
 * <p>{@link #generate} encodes the prompts (unless embeddings are given), encodes the conditioning image for I2V
 * models (pixels {@code 2x - 1}, each batch row through the VAE alone, posterior sample drawn from the
 * {@link NoiseSource}, scaled by {@code scaling_factor}, or divided by it when the VAE config has
 * {@code invert_scale_latents}, as
 * {@code pipeline_cogvideox_image2video.py} does), runs
 * {@link CogVideoXSampler} (CFG batch {@code [negative, positive]},
 * dynamic CFG, OFS, 1.5 frame padding and un-padding), then decodes {@code latents.permute(0,2,1,3,4) * (1/sf)} and
 * post-processes {@code (x / 2 + 0.5).clamp(0, 1)} into {@code [B, F, 3, H, W]}.
 *
 * <p>Ownership: a loaded pipeline owns the transformer, the VAE and the {@link PromptEncoder} it was given;
 * {@link #close()} frees them (a view made by {@link #of} owns none of them). Generated videos belong to the
 * manager passed to {@link #generate(GenerationRequest, NDManager, StepListener)} (the load manager for
 * {@link #generate(GenerationRequest)}). Thread safety: not thread-safe; use one pipeline per thread.
 */
public final class CogVideoXPipeline implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CogVideoXPipeline.class);
    private static final ObjectMapper MAPPER = new ObjectMapper();

    private final NDManager manager;
    private final String className;
    private final CogVideoXTransformer transformer;
    private final AutoencoderKLCogVideoX vae;
    private final CogVideoXScheduler scheduler;
    private final PromptEncoder encoder;
    private final CogVideoXSampler sampler;
    private final boolean ownsComponents;
    private Consumer<NDArray> decodeProbe = x -> { };

    private CogVideoXPipeline(NDManager manager, String className, CogVideoXTransformer transformer,
            AutoencoderKLCogVideoX vae, CogVideoXScheduler scheduler, PromptEncoder encoder, boolean ownsComponents) {
        Preconditions.checkArgument(transformer.device().equals(vae.device()), "the transformer is on %s but the "
                + "VAE on %s; load the components into managers of one device", transformer.device(), vae.device());
        this.manager = manager;
        this.ownsComponents = ownsComponents;
        this.className = className;
        this.transformer = transformer;
        this.vae = vae;
        this.scheduler = scheduler;
        this.encoder = encoder;
        this.sampler = CogVideoXSampler.of(transformer, scheduler);
    }

    /**
     * Loads a pipeline without a text encoder: only requests carrying prompt embeddings can be generated; prompts as
     * text fail with a "text encoder not available" {@link CogVideoXException}.
     *
     * @param dir the pipeline folder (holding {@code model_index.json})
     * @param manager the parent of the components' managers, and the owner of videos from
     *     {@link #generate(GenerationRequest)}
     * @return the pipeline; close it
     * @throws IOException if a file cannot be read
     * @throws CogVideoXException if the folder is not a CogVideoX pipeline or a component does not load
     */
    public static CogVideoXPipeline load(Path dir, NDManager manager) throws IOException {
        boolean hasText = Files.isDirectory(dir.resolve("text_encoder")) && Files.isDirectory(dir.resolve("tokenizer"));
        return load(dir, manager, hasText
                ? io.github.cogvideox4j.core.text.T5PromptEncoder.load(dir, manager, ai.djl.ndarray.types.DataType.FLOAT32)
                : PromptEncoder.unavailable());
    }

    /**
     * Loads a pipeline folder: the transformer (FLOAT32, BF16/F16 shards widened), the VAE and the scheduler of
     * {@code scheduler_config.json} (DDIM or DPM by its {@code _class_name}).
     *
     * @param dir the pipeline folder (holding {@code model_index.json})
     * @param manager the parent of the components' managers, and the owner of videos from
     *     {@link #generate(GenerationRequest)}
     * @param encoder the prompt encoder; the pipeline takes ownership and closes it (also if loading fails)
     * @return the pipeline; close it
     * @throws IOException if a file cannot be read
     * @throws CogVideoXException if the folder is not a CogVideoX pipeline, its class does not fit the transformer
     *     (image-to-video vs text-to-video), or a component does not load
     */
    public static CogVideoXPipeline load(Path dir, NDManager manager, PromptEncoder encoder) throws IOException {
        Preconditions.checkNotNull(dir, "dir");
        Preconditions.checkNotNull(manager, "manager");
        Preconditions.checkNotNull(encoder, "encoder");
        CogVideoXTransformer transformer = null;
        AutoencoderKLCogVideoX vae = null;
        try {
            Path index = dir.resolve("model_index.json");
            if (!Files.isRegularFile(index)) {
                throw new CogVideoXException("not a Diffusers pipeline folder: " + index + " is missing");
            }
            JsonNode json = MAPPER.readTree(Files.readString(index));
            String className = json.path("_class_name").asText("");
            if (!className.startsWith("CogVideoX")) {
                throw new CogVideoXException(index + ": _class_name is '" + className
                        + "', expected CogVideoXPipeline or CogVideoXImageToVideoPipeline");
            }
            transformer = CogVideoXTransformer.load(dir.resolve("transformer"), manager);
            boolean classSaysI2v = className.contains("ImageToVideo");
            if (classSaysI2v != transformer.config().isImageToVideo()) {
                throw new CogVideoXException(index + ": _class_name " + className + " but the transformer ("
                        + transformer.config().variant().displayName() + ", in_channels "
                        + transformer.config().inChannels() + ") is " + (transformer.config().isImageToVideo()
                        ? "image-to-video" : "text-to-video"));
            }
            vae = AutoencoderKLCogVideoX.load(dir.resolve("vae"), manager);
            CogVideoXScheduler scheduler = CogVideoXScheduler.fromConfig(
                    dir.resolve("scheduler").resolve("scheduler_config.json"));
            LOG.info("loaded {} from {}: {}, {}, VAE scaling {}{}", className, dir,
                    transformer.config().variant().displayName(), scheduler.getClass().getSimpleName(),
                    vae.scalingFactor(), vae.invertScaleLatents() ? " (invert_scale_latents)" : "");
            return new CogVideoXPipeline(manager, className, transformer, vae, scheduler, encoder, true);
        } catch (IOException | RuntimeException e) {
            if (vae != null) {
                vae.close();
            }
            if (transformer != null) {
                transformer.close();
            }
            encoder.close();
            throw e;
        }
    }

    /**
     * A pipeline view over components that are already loaded, for example the transformer being fine-tuned (with
     * its LoRA layers) plus a VAE: generating through it samples the model in its current state. The view takes
     * ownership of nothing: {@link #close()} on it frees nothing, and the caller keeps (and closes) the
     * transformer, the VAE and the encoder, which must outlive the view.
     *
     * @param manager the owner of videos from {@link #generate(GenerationRequest)}
     * @param transformer the transformer (its config decides text-to-video vs image-to-video)
     * @param vae the VAE of the same model family
     * @param scheduler the sampling scheduler (its step count is set per request)
     * @param encoder the prompt encoder, or {@link PromptEncoder#unavailable()} when requests carry embeddings
     * @return the view; {@link #className()} is {@code CogVideoXPipeline} or {@code CogVideoXImageToVideoPipeline}
     */
    public static CogVideoXPipeline of(NDManager manager, CogVideoXTransformer transformer,
            AutoencoderKLCogVideoX vae, CogVideoXScheduler scheduler, PromptEncoder encoder) {
        Preconditions.checkNotNull(manager, "manager");
        Preconditions.checkNotNull(transformer, "transformer");
        Preconditions.checkNotNull(vae, "vae");
        Preconditions.checkNotNull(scheduler, "scheduler");
        Preconditions.checkNotNull(encoder, "encoder");
        String className = transformer.config().isImageToVideo() ? "CogVideoXImageToVideoPipeline"
                : "CogVideoXPipeline";
        return new CogVideoXPipeline(manager, className, transformer, vae, scheduler, encoder, false);
    }

    /** @return the {@code _class_name} of {@code model_index.json} */
    public String className() {
        return className;
    }

    /** @return the device of the components (the transformer's and the VAE's); generation runs there */
    public Device device() {
        return transformer.device();
    }

    /** @return the transformer (owned by the pipeline) */
    public CogVideoXTransformer transformer() {
        return transformer;
    }

    /** @return the VAE (owned by the pipeline; enable slicing or tiling on it for large videos) */
    public AutoencoderKLCogVideoX vae() {
        return vae;
    }

    /** @return the scheduler as configured (its step count is set per request) */
    public CogVideoXScheduler scheduler() {
        return scheduler;
    }

    /** @return whether this is an image-to-video pipeline (requests need an image) */
    public boolean isImageToVideo() {
        return transformer.config().isImageToVideo();
    }

    /**
     * Generates with the load manager as owner and no step listener.
     *
     * @param request what to generate
     * @return the video {@code [B, F, 3, H, W]} FLOAT32 in [0, 1], owned by the load manager (close it when done)
     * @throws CogVideoXException see {@link #generate(GenerationRequest, NDManager, StepListener)}
     */
    public NDArray generate(GenerationRequest request) {
        return generate(request, manager, StepListener.NONE);
    }

    /**
     * Runs the whole pipeline.
     *
     * @param request what to generate
     * @param owner the owner of the returned video, a manager on the pipeline's {@link #device()} (every array of
     *     the run is made in a sub-manager of it)
     * @param listener called after every denoising step (its arrays are valid only during the call)
     * @return the video {@code [B, F, 3, H, W]} FLOAT32 in [0, 1] (F = the requested frames; 1.0 VAEs may return
     *     more for frame counts that are not 4k+1, as the reference), owned by {@code owner}
     * @throws CogVideoXException if prompts are given as text without a prompt encoder, the image is missing for an
     *     image-to-video model or given to a text-to-video one, shapes or batch sizes disagree
     * @throws IllegalArgumentException if {@code owner} is on another device than the pipeline
     */
    public NDArray generate(GenerationRequest request, NDManager owner, StepListener listener) {
        Preconditions.checkNotNull(request, "request");
        Preconditions.checkNotNull(owner, "owner");
        Preconditions.checkNotNull(listener, "listener");
        Preconditions.checkArgument(owner.getDevice().equals(device()), "generate: the owner manager is on %s but "
                + "the pipeline on %s; pass a manager of the pipeline's device (NDManager.newBaseManager(pipeline"
                + ".device()))", owner.getDevice(), device());
        CogVideoXConfig config = transformer.config();
        int height = request.height() != null ? request.height()
                : config.sampleHeight() * CogVideoXSampler.VAE_SCALE_FACTOR_SPATIAL;
        int width = request.width() != null ? request.width()
                : config.sampleWidth() * CogVideoXSampler.VAE_SCALE_FACTOR_SPATIAL;
        boolean cfg = request.usesGuidance();
        try (NDManager run = owner.newSubManager()) {
            // 1. prompt embeddings
            NDArray prompts = request.promptEmbeds() != null ? request.promptEmbeds()
                    : checkedEmbeds(encoder.encode(request.prompts(), run), request.prompts().size(), "prompts");
            Shape ps = prompts.getShape();
            if (ps.dimension() != 3) {
                throw new CogVideoXException("prompt embeddings must be [B, L, D_text], got " + ps);
            }
            int b = Math.toIntExact(ps.get(0));
            NDArray negative = null;
            if (cfg) {
                negative = request.negativePromptEmbeds() != null ? request.negativePromptEmbeds()
                        : checkedEmbeds(encoder.encode(Collections.nCopies(b, request.negativePrompt()), run), b,
                                "negative prompts");
            }
            // 2. conditioning image (I2V)
            NDArray moments = null;
            double factor = 1.0;
            if (config.isImageToVideo()) {
                if (request.image() == null) {
                    throw new CogVideoXException(config.variant().displayName()
                            + " is an image-to-video model: the request needs an image [B, 3, H, W] in [0, 1]");
                }
                moments = imageMoments(request.image(), b, height, width, run);
                factor = ImageLatentScale.forPipeline(vae.invertScaleLatents()).factor(vae.scalingFactor());
            } else if (request.image() != null) {
                throw new CogVideoXException(config.variant().displayName()
                        + " is a text-to-video model, but the request has an image");
            }
            SamplingRequest sampling = new SamplingRequest(prompts, negative, request.numFrames(), height, width,
                    request.inferenceSteps(), request.guidanceScale(), request.dynamicCfg(), null, moments, factor,
                    request.ofs());
            NoiseSource noise = request.noise() != null ? request.noise() : NoiseSource.seeded(request.seed());
            // 3. denoise
            NDArray latents = sampler.sample(sampling, noise, run, listener).latents();
            // 4. decode_latents: permute to [B, C, F, h, w], times the double 1/sf (as float32, like torch)
            NDArray decodeInput = latents.transpose(0, 2, 1, 3, 4)
                    .mul(EngineArrays.scalar(run, 1.0 / vae.scalingFactor(), DataType.FLOAT32));
            NDArray decoded = vae.decode(decodeInput);
            decodeProbe.accept(decoded);
            // 5. postprocess_video(output_type="pt"): (x / 2 + 0.5).clamp(0, 1), [B, F, C, H, W]
            NDArray video = decoded.div(EngineArrays.scalar(run, 2.0, DataType.FLOAT32))
                    .add(EngineArrays.scalar(run, 0.5, DataType.FLOAT32))
                    .clip(0.0, 1.0)
                    .transpose(0, 2, 1, 3, 4);
            video.attach(owner);
            return video;
        }
    }

    /** Test hook: sees the VAE output {@code [B, 3, F, H, W]} (valid only during the call). */
    void setDecodeProbe(Consumer<NDArray> probe) {
        this.decodeProbe = Preconditions.checkNotNull(probe, "probe");
    }

    private static NDArray checkedEmbeds(NDArray embeds, int rows, String what) {
        if (embeds == null || embeds.getShape().dimension() != 3 || embeds.getShape().get(0) != rows
                || embeds.getDataType() != DataType.FLOAT32) {
            throw new CogVideoXException("prompt encoder returned " + (embeds == null ? "null"
                    : embeds.getShape() + " " + embeds.getDataType()) + " for " + rows + " " + what
                    + ", expected FLOAT32 [" + rows + ", L, D_text]");
        }
        return embeds;
    }

    /**
     * The VAE posterior parameters of the image, {@code [B, 2C, 1, h, w]} (mean then clamped log-variance), each
     * row encoded alone as the I2V pipeline does; the sampler draws the posterior sample and scales it.
     */
    private NDArray imageMoments(NDArray image, int b, int height, int width, NDManager run) {
        Shape s = image.getShape();
        if (s.dimension() != 4 || s.get(0) != b || s.get(1) != 3 || s.get(2) != height || s.get(3) != width) {
            throw new CogVideoXException("image must be [" + b + ", 3, " + height + ", " + width
                    + "] (batch of the prompts, request height and width; no resizing is done), got " + s);
        }
        if (image.getDataType() != DataType.FLOAT32) {
            throw new CogVideoXException("image must be FLOAT32 in [0, 1], got " + image.getDataType());
        }
        try (NDManager scope = run.newSubManager()) {
            NDArray pixels = image.duplicate();
            pixels.attach(scope);
            // video_processor.preprocess: 2x - 1; then unsqueeze(2) -> [B, 3, 1, H, W]
            pixels = pixels.mul(EngineArrays.scalar(scope, 2.0, DataType.FLOAT32))
                    .sub(EngineArrays.scalar(scope, 1.0, DataType.FLOAT32))
                    .expandDims(2);
            NDList rows = new NDList();
            for (int i = 0; i < b; i++) {
                NDArray row = pixels.get(new NDIndex(i + ":" + (i + 1)));
                try (LatentDistribution dist = vae.encode(row)) {
                    NDArray m = NDArrays.concat(new NDList(dist.mean(), dist.logvar()), 1);
                    m.attach(scope);
                    rows.add(m);
                }
            }
            NDArray moments = rows.size() == 1 ? rows.get(0) : NDArrays.concat(rows, 0);
            moments.attach(run);
            return moments;
        }
    }

    /**
     * Closes the transformer, the VAE and the prompt encoder of a loaded pipeline; does nothing for a view made by
     * {@link #of}.
     */
    @Override
    public void close() {
        if (!ownsComponents) {
            return;
        }
        try {
            encoder.close();
        } catch (Exception e) {
            LOG.warn("closing the prompt encoder failed", e);
        } finally {
            try {
                vae.close();
            } finally {
                transformer.close();
            }
        }
    }
}
