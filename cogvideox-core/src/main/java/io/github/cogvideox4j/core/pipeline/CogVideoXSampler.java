package io.github.cogvideox4j.core.pipeline;

import io.github.cogvideox4j.core.EngineArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.common.base.Preconditions;
import io.github.cogvideox4j.core.CogVideoXException;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.model.TransformerInput;
import io.github.cogvideox4j.core.schedule.CogVideoXDdimScheduler;
import io.github.cogvideox4j.core.schedule.CogVideoXDpmScheduler;
import io.github.cogvideox4j.core.schedule.CogVideoXScheduler;
import io.github.cogvideox4j.core.schedule.SchedulerStep;
import java.util.Arrays;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The denoising loops of Diffusers' {@code CogVideoXPipeline} (text-to-video) and
 * {@code CogVideoXImageToVideoPipeline} over a {@link CogVideoXTransformer}, from prompt embeddings to latents
 * (diffusers {@code pipelines/cogvideo/pipeline_cogvideox.py}, {@code __call__}).
 * The text encoder and the VAE are not involved: the result is written as safetensors for decoding
 * elsewhere.
 *
 * <p>Per step, as the reference: model input {@code cat([latents] * 2)} with guidance (plus the image latents on the
 * channel axis for I2V), prompt batch {@code [negative, positive]}, timestep broadcast to the batch, OFS 2.0 for
 * 1.5-I2V; {@code noise_pred.float()}; guidance {@code uncond + g (text - uncond)} with
 * {@code g = 1 + s (1 - cos(pi ((N - t) / N)^5)) / 2} under dynamic CFG, where t is the integer timestep (as
 * {@code pipeline_cogvideox.py} computes it: literally, including its oscillation at large t);
 * then the DDIM or DPM step. CogVideoX1.5
 * ({@code patch_size_t = 2}): the pipeline pads the pixel frame count by 4 per missing latent frame, so the extra
 * latent frames start as noise, and drops the <em>first</em> {@code additional} latent frames after denoising
 * (not the training rule, which prepends a copy of frame 0). The RoPE table is the one the model builds, which is
 * the pipeline's.
 *
 * <p>Every random draw comes from the {@link NoiseSource} passed to {@link #sample}; see there for the order.
 *
 * <p>Ownership: the result lives in the manager passed to {@link #sample}; intermediates are freed step by step.
 * Request arrays are not closed. Thread safety: not thread-safe (the model is not).
 */
public final class CogVideoXSampler {
    private static final Logger LOG = LoggerFactory.getLogger(CogVideoXSampler.class);
    /** The VAE's spatial compression ({@code vae_scale_factor_spatial}, 8 for every release). */
    public static final int VAE_SCALE_FACTOR_SPATIAL = 8;
    /** The OFS value the 1.5-I2V pipeline passes. */
    public static final double DEFAULT_OFS = 2.0;

    private final CogVideoXTransformer model;
    private final CogVideoXScheduler scheduler;

    private CogVideoXSampler(CogVideoXTransformer model, CogVideoXScheduler scheduler) {
        this.model = model;
        this.scheduler = scheduler;
    }

    /**
     * @param model the transformer (not closed by the sampler)
     * @param scheduler a {@link CogVideoXDdimScheduler} or {@link CogVideoXDpmScheduler}; its inference steps are
     *     set per request
     * @return the sampler
     */
    public static CogVideoXSampler of(CogVideoXTransformer model, CogVideoXScheduler scheduler) {
        Preconditions.checkNotNull(model, "model");
        Preconditions.checkNotNull(scheduler, "scheduler");
        return new CogVideoXSampler(model, scheduler);
    }

    /**
     * The dynamic-CFG guidance scale of the pipelines, in double precision exactly as the Python expression:
     * {@code 1 + g * ((1 - cos(pi * ((N - t) / N) ** 5)) / 2)}.
     *
     * @param guidanceScale g
     * @param timestep the integer timestep t (not the step index)
     * @param numInferenceSteps N
     * @return the scale of that step
     */
    public static double dynamicGuidanceScale(double guidanceScale, int timestep, int numInferenceSteps) {
        double x = (double) (numInferenceSteps - timestep) / numInferenceSteps;
        return 1 + guidanceScale * ((1 - StrictMath.cos(Math.PI * StrictMath.pow(x, 5.0))) / 2);
    }

    /**
     * Samples without a progress listener. See {@link #sample(SamplingRequest, NoiseSource, NDManager,
     * StepListener)}.
     *
     * @param request what to sample
     * @param noise the source of every random draw
     * @param manager the owner of the result
     * @return the latents
     */
    public SamplingResult sample(SamplingRequest request, NoiseSource noise, NDManager manager) {
        return sample(request, noise, manager, StepListener.NONE);
    }

    /**
     * Runs the denoising loop.
     *
     * @param request what to sample
     * @param noise the source of every random draw (called in the order documented on {@link NoiseSource})
     * @param manager the owner of the result
     * @param listener called after every step
     * @return the latents, owned by {@code manager}
     * @throws CogVideoXException if the request does not fit the model (image latents for a text-to-video model or
     *     none for an image-to-video one, shapes, batch sizes), or the model refuses its input
     */
    public SamplingResult sample(SamplingRequest request, NoiseSource noise, NDManager manager,
            StepListener listener) {
        Preconditions.checkNotNull(request, "request");
        Preconditions.checkNotNull(noise, "noise");
        Preconditions.checkNotNull(manager, "manager");
        Preconditions.checkNotNull(listener, "listener");
        CogVideoXConfig config = model.config();
        String variant = config.variant().displayName();
        // 1. sizes, with the 1.5 pixel-frame padding
        Shape ps = request.promptEmbeds().getShape();
        if (ps.dimension() != 3) {
            throw new CogVideoXException("promptEmbeds must be [B, L, D_text], got " + ps);
        }
        long b = ps.get(0);
        boolean cfg = request.guidanceScale() > 1.0;
        if (cfg && !request.negativePromptEmbeds().getShape().equals(ps)) {
            throw new CogVideoXException("negativePromptEmbeds must have the shape of promptEmbeds " + ps + ", got "
                    + request.negativePromptEmbeds().getShape());
        }
        boolean i2v = config.isImageToVideo();
        if (i2v != request.isImageToVideo()) {
            throw new CogVideoXException(variant + (i2v ? " is an image-to-video model: the request needs image "
                    + "latents" : " is a text-to-video model, but the request has image latents"));
        }
        int vaeT = config.temporalCompressionRatio();
        int numFrames = request.numFrames();
        int latentFrames = (numFrames - 1) / vaeT + 1;
        Integer pt = config.patchSizeT();
        int additional = 0;
        if (pt != null && latentFrames % pt != 0) {
            additional = pt - latentFrames % pt;
            numFrames += additional * vaeT;
        }
        long f = (numFrames - 1) / vaeT + 1;
        long c = i2v ? config.inChannels() / 2 : config.inChannels();
        long h = request.height() / VAE_SCALE_FACTOR_SPATIAL;
        long w = request.width() / VAE_SCALE_FACTOR_SPATIAL;
        long noiseFrames = i2v && pt != null ? f + f % pt : f;
        Shape latentShape = new Shape(b, noiseFrames, c, h, w);
        CogVideoXScheduler sched = scheduler.withInferenceSteps(request.numInferenceSteps());
        int[] timesteps = sched.timesteps();
        LOG.debug("{}: sampling {} with {} steps ({}), guidance {}{}, {} padded latent frames", variant, latentShape,
                timesteps.length, sched.getClass().getSimpleName(), request.guidanceScale(),
                request.useDynamicCfg() ? " (dynamic)" : "", additional);

        try (NDManager run = manager.newSubManager()) {
            // 2. image latents (I2V), drawn before the initial latents as in prepare_latents
            NDArray image = i2v ? imageLatents(request, noise, run, b, c, h, w, f, pt) : null;
            // 3. initial latents x init_noise_sigma (1.0)
            NDArray latents = draw(noise, NoiseSource.Use.INITIAL_LATENTS, 0, latentShape, run);
            if (sched.initNoiseSigma() != 1.0) {
                latents = EngineArrays.mul(latents, (float) sched.initNoiseSigma());
            }
            // 4. constant per-step inputs
            NDArray prompts = cfg ? NDArrays.concat(new NDList(request.negativePromptEmbeds(), request.promptEmbeds()))
                    : request.promptEmbeds();
            NDArray imageBatch = image == null ? null : cfg ? NDArrays.concat(new NDList(image, image)) : image;
            NDArray ofs = config.ofsEmbedDim() == null ? null
                    : EngineArrays.create(run, new float[] {(float) (request.ofs() == null ? DEFAULT_OFS : request.ofs())},
                            new Shape(1));
            // 5. denoising loop
            NDArray old = null;
            for (int i = 0; i < timesteps.length; i++) {
                int t = timesteps[i];
                NDArray prevLatents = latents;
                NDArray prevOld = old;
                try (NDManager s = run.newSubManager()) {
                    latents.tempAttach(s);
                    if (old != null) {
                        old.tempAttach(s);
                    }
                    NDArray modelInput = cfg ? NDArrays.concat(new NDList(latents, latents)) : latents;
                    modelInput = sched.scaleModelInput(modelInput, t);
                    if (imageBatch != null) {
                        modelInput = NDArrays.concat(new NDList(modelInput, imageBatch), 2);
                    }
                    long[] tv = new long[Math.toIntExact(modelInput.getShape().get(0))];
                    Arrays.fill(tv, t);
                    NDArray timestep = EngineArrays.create(s, tv, new Shape(tv.length));
                    TransformerInput in = TransformerInput.of(modelInput, prompts, timestep);
                    if (ofs != null) {
                        in = in.withOfs(ofs);
                    }
                    NDArray noisePred = model.forward(in);
                    if (noisePred.getDataType() != DataType.FLOAT32) {
                        noisePred = noisePred.toType(DataType.FLOAT32, false);
                    }
                    double g = request.useDynamicCfg()
                            ? dynamicGuidanceScale(request.guidanceScale(), t, request.numInferenceSteps())
                            : request.guidanceScale();
                    NDArray guided = noisePred;
                    if (cfg) {
                        NDList halves = noisePred.split(2, 0);
                        NDArray uncond = halves.get(0);
                        guided = uncond.add(halves.get(1).sub(uncond).mul(EngineArrays.scalar(s, (float) g, DataType.FLOAT32)));
                    }
                    SchedulerStep step;
                    if (sched instanceof CogVideoXDpmScheduler dpm) {
                        NDArray z = draw(noise, NoiseSource.Use.SCHEDULER_STEP, i, latentShape, s);
                        step = dpm.step(guided, old, t, i > 0 ? timesteps[i - 1] : null, latents, z);
                    } else {
                        step = ((CogVideoXDdimScheduler) sched).step(guided, t, latents);
                    }
                    listener.onStep(new DenoisingStep(i, timesteps.length, t, cfg ? g : 1.0, modelInput, noisePred,
                            guided, step.predOriginalSample(), step.prevSample()));
                    latents = step.prevSample();
                    old = step.predOriginalSample();
                    latents.attach(run);
                    old.attach(run);
                }
                prevLatents.close();
                if (prevOld != null) {
                    prevOld.close();
                }
            }
            // 6. drop the padding frames (front) as the pipeline does before decoding
            NDArray padded = latents;
            padded.attach(manager);
            NDArray result = padded;
            if (additional > 0) {
                result = padded.get(new NDIndex(":, " + additional + ":")).duplicate();
                result.attach(manager);
            }
            return new SamplingResult(result, padded, additional, timesteps);
        }
    }

    private static NDArray draw(NoiseSource noise, NoiseSource.Use use, int index, Shape shape, NDManager m) {
        NDArray z = noise.next(use, index, shape, m);
        if (z == null || !z.getShape().equals(shape) || z.getDataType() != DataType.FLOAT32) {
            throw new CogVideoXException("noise source returned " + (z == null ? "null" : z.getShape() + " "
                    + z.getDataType()) + " for " + use + " " + index + ", expected FLOAT32 " + shape);
        }
        z.attach(m);
        return z;
    }

    /** [B, F(+pad), C, h, w] image latents as prepare_latents builds them. */
    private static NDArray imageLatents(SamplingRequest request, NoiseSource noise, NDManager run, long b, long c,
            long h, long w, long f, Integer pt) {
        NDArray first;
        if (request.imageMoments() != null) {
            NDArray moments = request.imageMoments();
            Shape expected = new Shape(b, 2 * c, 1, h, w);
            if (!moments.getShape().equals(expected)) {
                throw new CogVideoXException("image moments must be [B, 2C, 1, h, w] = " + expected + ", got "
                        + moments.getShape());
            }
            try (NDManager s = run.newSubManager()) {
                moments.tempAttach(s);
                NDList rows = new NDList();
                for (int i = 0; i < b; i++) {
                    NDArray row = moments.get(new NDIndex(i + ":" + (i + 1)));             // [1, 2C, 1, h, w]
                    NDList ml = row.split(2, 1);
                    NDArray std = ml.get(1).clip(-30.0, 20.0).mul(EngineArrays.scalar(s, 0.5, DataType.FLOAT32)).exp();
                    NDArray z = draw(noise, NoiseSource.Use.IMAGE_LATENT_SAMPLE, i, new Shape(1, c, 1, h, w), s);
                    rows.add(ml.get(0).add(std.mul(z)));
                }
                first = NDArrays.concat(rows).transpose(0, 2, 1, 3, 4)                      // [B, 1, C, h, w]
                        .mul(EngineArrays.scalar(s, (float) request.imageLatentFactor(), DataType.FLOAT32));
                first.attach(run);
            }
        } else {
            first = request.imageLatents();
            Shape expected = new Shape(b, 1, c, h, w);
            if (!first.getShape().equals(expected)) {
                throw new CogVideoXException("image latents must be [B, 1, C, h, w] = " + expected
                        + " for this request, got " + first.getShape());
            }
        }
        NDArray image = f > 1 ? NDArrays.concat(new NDList(first, run.zeros(new Shape(b, f - 1, c, h, w),
                first.getDataType())), 1) : first.duplicate();
        image.attach(run);
        if (pt != null && f % pt != 0) {
            image = NDArrays.concat(new NDList(image.get(new NDIndex(":, :" + (f % pt))), image), 1);
        }
        image.attach(run);
        return image;
    }
}
