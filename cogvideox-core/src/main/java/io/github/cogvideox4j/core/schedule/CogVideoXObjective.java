package io.github.cogvideox4j.core.schedule;

import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.core.Scopes;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.common.base.Preconditions;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.model.TransformerInput;

/**
 * The CogVideoX training objective (diffusers {@code examples/cogvideo/train_cogvideox_lora.py}),
 * as every Diffusers-based trainer and SAT compute it:
 *
 * <ol>
 *   <li>CogVideoX1.5 ({@code patch_size_t = 2}) with an odd latent frame count: prepend a copy of latent frame 0
 *       (CogVideo's trainers; the loss covers the copy, as in the reference);</li>
 *   <li>{@code x_t = addNoise(x0, noise, t)};</li>
 *   <li>image-to-video: {@code input = concat([x_t, image_latents], channels)} (image latents are not noised);</li>
 *   <li>{@code v_hat = model(input, prompt_embeds, t, ofs, rope)};</li>
 *   <li>{@code x0_hat = getVelocity(v_hat, x_t, t) = sqrt(a_t) x_t - sqrt(1 - a_t) v_hat};</li>
 *   <li>{@code loss = mean_b(mean(w_t (x0_hat - x0)^2))} with {@code w_t = 1 / (1 - a_t)} in float64 (the
 *       reference's {@code alphas_cumprod} is float64, so the weighted product is promoted).</li>
 * </ol>
 * Because {@code x0_hat - x0 = -sqrt(1 - a_t)(v_hat - v)} with {@code v = sqrt(a_t) noise - sqrt(1 - a_t) x0}, the
 * loss equals the plain v-prediction MSE.
 *
 * <pre>{@code
 * CogVideoXObjective objective = CogVideoXObjective.of(CogVideoXDpmScheduler.fromConfig(schedulerConfigJson));
 * try (NDManager step = root.newSubManager(); GradientCollector gc = engine.newGradientCollector()) {
 *     NDArray loss = objective.loss(model, TrainingInput.of(latents, promptEmbeds, timesteps, noise));
 *     gc.backward(loss);
 * }
 * }</pre>
 *
 * <p>Ownership: the results live in the manager of {@code input.latents()} (the caller's scope), never the
 * model's; temporaries are freed before the methods return. Inputs are not closed.
 *
 * <p>Thread safety: immutable; the model it is used with is not thread-safe.
 */
public final class CogVideoXObjective {
    private final CogVideoXScheduler scheduler;

    private CogVideoXObjective(CogVideoXScheduler scheduler) {
        this.scheduler = scheduler;
    }

    /**
     * @param scheduler the noise schedule (either CogVideoX scheduler; only the schedule is used)
     * @return the objective
     * @throws SchedulerException if the scheduler's {@code prediction_type} is not "v_prediction" (the objective
     *     converts the output with {@code get_velocity}, which is only an x0 estimate for a v-prediction model)
     */
    public static CogVideoXObjective of(CogVideoXScheduler scheduler) {
        Preconditions.checkNotNull(scheduler, "scheduler");
        if (!"v_prediction".equals(scheduler.config().predictionType())) {
            throw new SchedulerException("the CogVideoX objective needs prediction_type \"v_prediction\" (every "
                    + "release), the scheduler has \"" + scheduler.config().predictionType() + "\"");
        }
        return new CogVideoXObjective(scheduler);
    }

    /** @return the scheduler whose schedule this objective uses */
    public CogVideoXScheduler scheduler() {
        return scheduler;
    }

    /**
     * The scalar loss; see the class documentation.
     *
     * @param model the transformer (its parameters need gradients for training)
     * @param input the inputs, every random draw explicit
     * @return the 0-dim FLOAT64 loss in the manager of {@code input.latents()}, differentiable with respect to every
     *     model parameter that requires gradients
     * @throws SchedulerException on inconsistent shapes, timesteps out of range, or missing/unexpected image latents
     * @throws io.github.cogvideox4j.core.CogVideoXException if the model refuses the input (e.g. no OFS for a model
     *     with an OFS embedding)
     */
    public NDArray loss(CogVideoXTransformer model, TrainingInput input) {
        ObjectiveResult r = evaluate(model, input);
        new NDList(r.lossPerSample(), r.modelInput(), r.modelOutput(), r.predictedOriginal(), r.target()).close();
        return r.loss();
    }

    /**
     * Computes the loss and keeps every intermediate (noisy input, model output, x0 estimate, per-sample losses).
     *
     * @param model the transformer
     * @param input the inputs
     * @return the results, in the manager of {@code input.latents()}; close it when done
     * @throws SchedulerException see {@link #loss}
     */
    public ObjectiveResult evaluate(CogVideoXTransformer model, TrainingInput input) {
        Checked c = check(model, input);
        NDList out = Scopes.run(c.latents().getManager(), s -> {
            Prepared p = prepare(s, model, input, c);
            NDArray modelOutput = model.forward(p.modelInput());
            if (modelOutput.getDataType() != DataType.FLOAT32) {
                modelOutput = modelOutput.toType(DataType.FLOAT32, false);
            }
            NDList l = lossOf(s, modelOutput, p, c);
            return new NDList(l.get(0), l.get(1), p.modelInput().hiddenStates(), modelOutput, l.get(2), p.x0());
        }, c.latents(), input.noise(), input.imageLatents());
        return new ObjectiveResult(out.get(0), out.get(1), out.get(2), out.get(3), out.get(4), out.get(5));
    }

    /**
     * The loss of {@link #loss} and its backward in one call, with activation checkpointing per transformer block
     * ({@link CogVideoXTransformer#forwardBackwardWithRecompute}): gradients accumulate into the model's parameters
     * (and LoRA parameters) exactly as {@code gc.backward(loss(model, input))} would leave them, with the memory of
     * one block's activations. Call it outside any {@code GradientCollector}: it opens its own, one at a time.
     *
     * @param model the transformer
     * @param input the inputs, every random draw explicit
     * @return the 0-dim FLOAT64 loss, detached, in the manager of {@code input.latents()}
     * @throws SchedulerException see {@link #loss}
     */
    public NDArray lossAndBackward(CogVideoXTransformer model, TrainingInput input) {
        return lossAndBackward(model, input, 1);
    }

    /**
     * {@link #lossAndBackward(CogVideoXTransformer, TrainingInput)} with one checkpoint per {@code segment} blocks
     * ({@link CogVideoXTransformer#forwardBackwardWithRecompute(
     * TransformerInput, java.util.function.Function, int)}): fewer block inputs kept,
     * at the price of recomputing the blocks between them once more.
     *
     * @param model the transformer
     * @param input the inputs, every random draw explicit
     * @param segment blocks per checkpoint, at least 1
     * @return the 0-dim FLOAT64 loss, detached, in the manager of {@code input.latents()}
     * @throws SchedulerException see {@link #loss}
     * @throws IllegalArgumentException if {@code segment < 1} (the transformer's check)
     */
    public NDArray lossAndBackward(CogVideoXTransformer model, TrainingInput input, int segment) {
        return lossAndBackward(model, input, segment, 1);
    }

    /**
     * {@link #lossAndBackward(CogVideoXTransformer, TrainingInput, int)} whose blocks go back in {@code chunks}
     * token chunks ({@link CogVideoXTransformer#forwardBackwardWithRecompute(
     * TransformerInput, java.util.function.Function, int, int)}): a smaller block working set, at the price of each
     * block's k and v projections computed once more.
     *
     * @param model the transformer
     * @param input the inputs, every random draw explicit
     * @param segment blocks per checkpoint, at least 1
     * @param chunks token chunks per block backward, at least 1
     * @return the 0-dim FLOAT64 loss, detached, in the manager of {@code input.latents()}
     * @throws SchedulerException see {@link #loss}
     * @throws IllegalArgumentException if {@code segment < 1} or {@code chunks < 1} (the transformer's checks)
     */
    public NDArray lossAndBackward(CogVideoXTransformer model, TrainingInput input, int segment, int chunks) {
        Checked c = check(model, input);
        return Scopes.single(c.latents().getManager(), s -> {
            Prepared p = prepare(s, model, input, c);
            return model.forwardBackwardWithRecompute(p.modelInput(), out -> lossOf(out.getManager(),
                    out.getDataType() == DataType.FLOAT32 ? out : out.toType(DataType.FLOAT32, false), p, c).get(0),
                    segment, chunks);
        }, c.latents(), input.noise(), input.imageLatents());
    }

    /** The validated shapes and timesteps of an input. */
    private record Checked(NDArray latents, long b, long f, long c, long h, long w, int[] t, long pad, long fp,
            NDArray image) {}

    /** The prepared model input and what the loss needs besides the model output. */
    private record Prepared(TransformerInput modelInput, NDArray noisy, NDArray x0) {}

    private Checked check(CogVideoXTransformer model, TrainingInput input) {
        Preconditions.checkNotNull(model, "model");
        Preconditions.checkNotNull(input, "input");
        CogVideoXConfig config = model.config();
        NDArray latents = input.latents();
        Shape shape = latents.getShape();
        if (shape.dimension() != 5) {
            throw new SchedulerException("latents must be [B, F, C, h, w], got " + shape);
        }
        if (latents.getDataType() != DataType.FLOAT32 || input.noise().getDataType() != DataType.FLOAT32) {
            throw new SchedulerException("latents and noise must be FLOAT32, got " + latents.getDataType() + " and "
                    + input.noise().getDataType());
        }
        long b = shape.get(0), f = shape.get(1), c = shape.get(2), h = shape.get(3), w = shape.get(4);
        if (c != config.outChannels()) {
            throw new SchedulerException("latents have " + c + " channels, the model predicts out_channels = "
                    + config.outChannels());
        }
        int[] t = scheduler.timestepValues(input.timesteps());
        if (t.length != b && t.length != 1) {
            throw new SchedulerException("timesteps must be [B = " + b + "] (or [1]), got " + t.length + " values");
        }
        // 1. CogVideoX1.5 frame padding (official rule: prepend copies of latent frame 0)
        int pt = config.patchSizeT() == null ? 1 : config.patchSizeT();
        long pad = (pt - f % pt) % pt;
        long fp = f + pad;
        Shape padded = new Shape(b, fp, c, h, w);
        if (!input.noise().getShape().equals(padded)) {
            throw new SchedulerException("noise must have the " + (pad > 0 ? "padded " : "") + "latent shape "
                    + padded + (pad > 0 ? " (" + f + " latent frames + " + pad + " prepended copy of frame 0 for "
                    + "patch_size_t = " + pt + ")" : "") + ", got " + input.noise().getShape());
        }
        NDArray image = input.imageLatents();
        if (config.isImageToVideo() && image == null) {
            throw new SchedulerException(config.variant().displayName() + " is an image-to-video model (in_channels "
                    + config.inChannels() + " = 2 x " + config.outChannels() + "): pass the image latents with "
                    + "TrainingInput.withImageLatents");
        }
        if (!config.isImageToVideo() && image != null) {
            throw new SchedulerException(config.variant().displayName() + " is a text-to-video model, but image "
                    + "latents were given");
        }
        if (image != null) {
            Shape is = image.getShape();
            boolean first = is.equals(new Shape(b, 1, c, h, w));
            if (!first && !is.equals(padded)) {
                throw new SchedulerException("image latents must be [B, 1, C, h, w] = " + new Shape(b, 1, c, h, w)
                        + " (first frame, zero-padded here) or the padded latent shape " + padded + ", got " + is);
            }
            if (image.getDataType() != DataType.FLOAT32) {
                throw new SchedulerException("image latents must be FLOAT32, got " + image.getDataType());
            }
        }
        return new Checked(latents, b, f, c, h, w, t, pad, fp, image);
    }

    /** Steps 1-3: frame padding, forward noising, image channels; the model input with OFS and RoPE. */
    private Prepared prepare(NDManager s, CogVideoXTransformer model, TrainingInput input, Checked k) {
        NDArray latents = k.latents();
        NDArray image = k.image();
        // 1. CogVideoX1.5 frame padding (official rule: prepend copies of latent frame 0)
        NDArray x0 = k.pad() > 0
                ? NDArrays.concat(new NDList(latents.get(new NDIndex(":, 0:1")).repeat(1, k.pad()), latents), 1)
                : latents.duplicate();                                                        // [B, Fp, C, h, w]
        // 2. forward process
        NDArray noisy = scheduler.addNoise(x0, input.noise(), input.timesteps());
        // 3. image channels after add_noise
        NDArray modelInput = noisy;
        if (image != null) {
            NDArray img = image.getShape().get(1) == k.fp() ? image
                    : NDArrays.concat(new NDList(image, s.zeros(new Shape(k.b(), k.fp() - 1, k.c(), k.h(), k.w()))),
                            1);
            modelInput = NDArrays.concat(new NDList(noisy, img), 2);                         // [B, Fp, 2C, h, w]
        }
        TransformerInput ti = TransformerInput.of(modelInput, input.promptEmbeds(), input.timesteps());
        if (input.ofs() != null) {
            ti = ti.withOfs(input.ofs());
        }
        if (input.rotaryCos() != null) {
            ti = ti.withRotaryEmbedding(input.rotaryCos(), input.rotarySin());
        }
        if (input.sincosAtUntrainedSize()) {
            ti = ti.withSincosAtUntrainedSize();
        }
        return new Prepared(ti, noisy, x0);
    }

    /** Steps 5-6: the x0 estimate and the float64 weighted MSE: {@code [loss, perSample [B], x0_hat]}. */
    private NDList lossOf(NDManager s, NDArray modelOutput, Prepared p, Checked k) {
        // 5. x0 estimate
        NDArray pred = scheduler.getVelocity(modelOutput, p.noisy(), p.modelInput().timestep());
        // 6. float64 weighted MSE per sample, then the batch mean
        double[] weights = new double[k.t().length];
        for (int i = 0; i < weights.length; i++) {
            weights[i] = scheduler.lossWeight(k.t()[i]);
        }
        NDArray wt = EngineArrays.create(s, weights, new Shape(weights.length, 1, 1, 1, 1));
        NDArray weighted = wt.mul(pred.sub(p.x0()).square());                                 // float64
        NDArray perSample = weighted.reshape(k.b(), -1).mean(new int[] {1});                 // [B]
        return new NDList(perSample.mean(), perSample, pred);
    }
}
