package io.github.cogvideox4j.lora;

import io.github.cogvideox4j.core.EngineArrays;
import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;
import static com.google.common.base.Preconditions.checkState;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.model.Linear;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A LoRA adapter injected into a {@link CogVideoXTransformer}, with PEFT's semantics ({@code peft/tuners/lora/layer.py}):
 * for every targeted
 * Linear, {@code y = W x + b + scale · (alpha / rank) · B(A x)}; {@code A} Kaiming-uniform(a = √5) =
 * {@code U(-1/√in, 1/√in)} drawn from {@link LoraConfig#initSeed()}, {@code B} zeros; the model's own parameters are
 * frozen ({@link CogVideoXTransformer#setRequiresGradient(boolean) setRequiresGradient(false)}), so backward
 * computes and keeps gradients for {@code A} and {@code B} only.
 *
 * <pre>{@code
 * LoraAdapter lora = LoraAdapter.inject(model, LoraConfig.of(64, 32));
 * Map<String, NDArray> trainable = lora.namedParameters();  // transformer.transformer_blocks.0.attn1.to_q.lora_A.weight, ...
 * ... train ...
 * lora.save(outDir.resolve(LoraExporter.WEIGHT_NAME));      // Diffusers/PEFT file with alpha metadata
 * }</pre>
 *
 * <p><b>Scale.</b> {@link #setScale(double)} is Diffusers' {@code set_adapters(name, weight)}: the effective factor
 * is {@code weight · alpha / rank}. A file without alpha loaded at the default alpha = rank and then given scale
 * {@code alpha_trained / rank} reproduces the trainers' final validation.
 *
 * <p><b>Several adapters</b> may be injected into one model; each adds its own term and merges its own delta.
 *
 * <p><b>Ownership.</b> {@code A} and {@code B} live in a sub-manager of the model's parameter manager (closed by
 * {@link #close()} or with the model). Ops on them (e.g. {@code getGradient()}) land there too: attach such
 * temporaries to a per-step manager.
 *
 * <p><b>Thread safety.</b> Not thread-safe: confine to the model's thread.
 */
public final class LoraAdapter implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(LoraAdapter.class);
    private static final double ALPHA_RTOL = 1e-6;

    private final LoraConfig config;
    private final NDManager manager;
    private final Map<String, LoraLinear> layers;
    private final Map<String, NDArray> parameters;
    private double scale = 1.0;
    private boolean merged;
    private boolean closed;

    private LoraAdapter(LoraConfig config, NDManager manager, Map<String, LoraLinear> layers) {
        this.config = config;
        this.manager = manager;
        this.layers = Collections.unmodifiableMap(layers);
        Map<String, NDArray> params = new LinkedHashMap<>();
        for (LoraLinear l : layers.values()) {
            params.put(LoraKeys.diffusersKey(l.module(), true), l.loraA());
            params.put(LoraKeys.diffusersKey(l.module(), false), l.loraB());
        }
        this.parameters = Collections.unmodifiableMap(params);
    }

    /**
     * Injects a fresh adapter into every Linear the config targets and freezes the base model.
     *
     * @param model the transformer (FLOAT32 or FLOAT16 weights)
     * @param config rank, alpha, targets, dropout, init seed
     * @return the adapter, active at scale 1
     * @throws LoraException if the config targets no Linear of the model
     */
    public static LoraAdapter inject(CogVideoXTransformer model, LoraConfig config) {
        checkNotNull(model, "model");
        checkNotNull(config, "config");
        List<String> modules = new ArrayList<>();
        for (String name : model.namedLinears().keySet()) {
            if (config.matches(name)) {
                modules.add(name);
            }
        }
        if (modules.isEmpty()) {
            throw new LoraException("LoRA targets " + config.peftTargets() + " match no Linear of the model (e.g. "
                    + model.namedLinears().keySet().stream().limit(3).toList() + ")");
        }
        List<String> notLinear = matchedNonLinearModules(model, config);
        if (!notLinear.isEmpty()) {
            LOG.warn("LoRA targets {} also name {}, which are not Linear layers: they are not adapted (PEFT would "
                    + "wrap a Conv2d, and refuse a norm). The exported file lists the adapted modules by name, so "
                    + "PEFT loads exactly these.", config.peftTargets(), notLinear);
        }
        return create(model, config, modules);
    }

    /** Modules with weights (from the parameter and buffer names) that the targets name but that are not Linears. */
    private static List<String> matchedNonLinearModules(CogVideoXTransformer model, LoraConfig config) {
        Set<String> modules = new LinkedHashSet<>();
        for (String key : model.namedParameters().keySet()) {
            modules.add(key.substring(0, Math.max(0, key.lastIndexOf('.'))));
        }
        for (String key : model.namedBuffers().keySet()) {
            modules.add(key.substring(0, Math.max(0, key.lastIndexOf('.'))));
        }
        List<String> out = new ArrayList<>();
        for (String m : modules) {
            if (!m.isEmpty() && !model.namedLinears().containsKey(m) && config.matches(m)) {
                out.add(m);
            }
        }
        return out;
    }

    private static LoraAdapter create(CogVideoXTransformer model, LoraConfig config, List<String> modules) {
        NDArray anyParameter = model.namedParameters().values().iterator().next();
        NDManager own = anyParameter.getManager().newSubManager();
        try {
            SplittableRandom random = new SplittableRandom(config.initSeed());
            Map<String, LoraLinear> layers = new LinkedHashMap<>();
            for (String module : modules) {
                Linear linear = model.namedLinears().get(module);
                long out = linear.weightShape().get(0);
                long in = linear.weightShape().get(1);
                // kaiming_uniform_(a = sqrt(5)): gain sqrt(2 / (1 + 5)), bound gain * sqrt(3 / in) = 1 / sqrt(in)
                double bound = 1.0 / Math.sqrt(in);
                float[] a = new float[Math.toIntExact(config.rank() * in)];
                for (int i = 0; i < a.length; i++) {
                    a[i] = (float) ((random.nextDouble() * 2 - 1) * bound);
                }
                NDArray loraA = EngineArrays.create(own, a, new Shape(config.rank(), in));
                NDArray loraB = own.zeros(new Shape(out, config.rank()), DataType.FLOAT32);
                loraA.setName(LoraKeys.diffusersKey(module, true));
                loraB.setName(LoraKeys.diffusersKey(module, false));
                loraA.setRequiresGradient(true);
                loraB.setRequiresGradient(true);
                layers.put(module, new LoraLinear(module, linear, loraA, loraB, config.scaling(), config.dropout()));
            }
            model.setRequiresGradient(false);
            for (LoraLinear l : layers.values()) {
                model.namedLinears().get(l.module()).addAdapter(l);
            }
            LOG.debug("injected LoRA r={} alpha={} into {} Linears", config.rank(), config.alpha(), layers.size());
            return new LoraAdapter(config, own, layers);
        } catch (RuntimeException e) {
            own.close();
            throw e;
        }
    }

    /**
     * Reads a LoRA file of any {@link LoraFormat} and injects it into exactly the modules it holds. Alpha comes from
     * the file (metadata, or 1 for SAT), else it is the rank (scale 1.0), as Diffusers does.
     *
     * @param model the transformer
     * @param file the LoRA file
     * @return the adapter, active at scale 1
     * @throws LoraException if the file is malformed, holds non-finite values, or names modules the model lacks
     * @throws IOException if it cannot be read
     */
    public static LoraAdapter fromFile(CogVideoXTransformer model, Path file) throws IOException {
        return fromFile(model, file, Double.NaN);
    }

    /**
     * As {@link #fromFile(CogVideoXTransformer, Path)}, with the alpha to use when the file states none.
     *
     * @param model the transformer
     * @param file the LoRA file
     * @param alphaIfAbsent alpha for a file without one; {@code NaN} for the rank (Diffusers' default)
     * @return the adapter, active at scale 1
     * @throws IOException if the file cannot be read
     */
    public static LoraAdapter fromFile(CogVideoXTransformer model, Path file, double alphaIfAbsent) throws IOException {
        checkNotNull(model, "model");
        try (NDManager scratch = NDManager.newBaseManager(model.device())) {
            LoraFile lf = LoraImporter.read(file, scratch);
            double alpha = lf.alphaOr(Double.isNaN(alphaIfAbsent) ? lf.rank() : alphaIfAbsent);
            List<String> missing = new ArrayList<>();
            for (String module : lf.layers().keySet()) {
                if (!model.namedLinears().containsKey(module)) {
                    missing.add(module);
                }
            }
            if (!missing.isEmpty()) {
                throw new LoraException(file + ": " + missing.size() + " LoRA module(s) do not exist in the model: "
                        + LoraImporter.sample(missing));
            }
            List<String> modules = new ArrayList<>(lf.layers().keySet());
            LoraConfig config = LoraConfig.of(lf.rank(), alpha).withTargetModules(modules).withDropout(lf.dropout());
            LoraAdapter adapter = create(model, config, modules);
            try {
                adapter.copyFrom(lf, file);
            } catch (RuntimeException e) {
                adapter.close();
                throw e;
            }
            return adapter;
        }
    }

    /**
     * Loads {@code A} and {@code B} from a LoRA file into this adapter, in place (arrays from
     * {@link #namedParameters()} stay valid). The file must hold exactly this adapter's modules with this rank;
     * an alpha stated by the file must equal the config's (a file without one takes the config's).
     *
     * @param file a Diffusers/PEFT, finetrainers or SAT LoRA file
     * @throws LoraException for unknown or missing modules, another rank or shape, an alpha that disagrees with the
     *     config, or NaN/infinite values
     * @throws IllegalStateException if the adapter is merged or closed
     * @throws IOException if the file cannot be read
     */
    public void load(Path file) throws IOException {
        checkOpen();
        checkState(!merged, "unmerge the LoRA before loading new weights into it");
        try (NDManager scratch = NDManager.newBaseManager(manager.getDevice())) {
            LoraFile lf = LoraImporter.read(file, scratch);
            if (lf.alpha() != null && Math.abs(lf.alpha() - config.alpha()) > ALPHA_RTOL * config.alpha()) {
                throw new LoraException(file + ": the file states lora_alpha = " + fmt(lf.alpha()) + " (" + lf.format()
                        + "), but the adapter's config has alpha = " + fmt(config.alpha()) + "; inject with "
                        + "LoraConfig.of(" + lf.rank() + ", " + fmt(lf.alpha()) + ") or use LoraAdapter.fromFile");
            }
            if (lf.rank() != config.rank()) {
                throw new LoraException(file + ": rank " + lf.rank() + ", but the adapter has rank " + config.rank());
            }
            Set<String> unknown = new LinkedHashSet<>(lf.layers().keySet());
            unknown.removeAll(layers.keySet());
            Set<String> missing = new LinkedHashSet<>(layers.keySet());
            missing.removeAll(lf.layers().keySet());
            if (!unknown.isEmpty() || !missing.isEmpty()) {
                throw new LoraException(file + ": modules do not match the adapter's " + layers.size() + " targets"
                        + (unknown.isEmpty() ? "" : "; unknown modules: " + LoraImporter.sample(List.copyOf(unknown)))
                        + (missing.isEmpty() ? "" : "; missing modules: " + LoraImporter.sample(List.copyOf(missing))));
            }
            copyFrom(lf, file);
        }
    }

    private void copyFrom(LoraFile lf, Path file) {
        // check everything before writing anything
        for (Map.Entry<String, LoraPair> e : lf.layers().entrySet()) {
            LoraLinear l = layers.get(e.getKey());
            requireShape(file, LoraKeys.diffusersKey(e.getKey(), true), e.getValue().loraA(), l.loraA());
            requireShape(file, LoraKeys.diffusersKey(e.getKey(), false), e.getValue().loraB(), l.loraB());
            LoraExporter.requireFinite(file, LoraKeys.diffusersKey(e.getKey(), true),
                    e.getValue().loraA().toFloatArray());
            LoraExporter.requireFinite(file, LoraKeys.diffusersKey(e.getKey(), false),
                    e.getValue().loraB().toFloatArray());
        }
        try (NoGrad ignored = NoGrad.enter()) {
            for (Map.Entry<String, LoraPair> e : lf.layers().entrySet()) {
                LoraLinear l = layers.get(e.getKey());
                l.loraA().set(new NDIndex(":"), e.getValue().loraA());
                l.loraB().set(new NDIndex(":"), e.getValue().loraB());
            }
        }
    }

    private static void requireShape(Path file, String key, NDArray actual, NDArray expected) {
        if (!actual.getShape().equals(expected.getShape())) {
            throw new LoraException(file + ", tensor " + key + ": shape " + actual.getShape() + ", the model's Linear "
                    + "needs " + expected.getShape());
        }
    }

    /**
     * @return the trainable arrays under their exported keys, in module order, {@code lora_A} then {@code lora_B}
     *     (e.g. {@code transformer.transformer_blocks.0.attn1.to_q.lora_A.weight}); owned by the adapter,
     *     unmodifiable map
     */
    public Map<String, NDArray> namedParameters() {
        return parameters;
    }

    /** @return the adapted layers by Diffusers module name */
    public Map<String, LoraLinear> layers() {
        return layers;
    }

    /** @return the configuration (for an adapter from a file: its rank, alpha and modules) */
    public LoraConfig config() {
        return config;
    }

    /** @return the adapter weight ({@code set_adapters} weight), 1 by default */
    public double scale() {
        return scale;
    }

    /** @return {@code scale · alpha / rank}, the factor on {@code B(A x)} */
    public double effectiveScaling() {
        return scale * config.scaling();
    }

    /**
     * Diffusers' {@code set_adapters([name], [weight])}: the effective factor becomes {@code weight · alpha / rank}.
     *
     * @param weight the adapter weight (0 disables it)
     * @throws IllegalStateException if merged (unmerge, rescale, merge again)
     */
    public void setScale(double weight) {
        checkOpen();
        checkArgument(Double.isFinite(weight), "adapter scale must be finite, got %s", weight);
        checkState(!merged, "unmerge the LoRA before changing its scale");
        this.scale = weight;
        for (LoraLinear l : layers.values()) {
            l.setScaling(effectiveScaling());
        }
    }

    /**
     * PEFT's train/eval mode: LoRA dropout is applied only in training mode. Off by default.
     *
     * @param training whether dropout is active
     */
    public void setTraining(boolean training) {
        for (LoraLinear l : layers.values()) {
            l.setTraining(training);
        }
    }

    /**
     * Adds {@code scale · alpha / rank · B @ A} to every targeted base weight and takes the LoRA branches out of the
     * forward (PEFT {@code merge}). The model then computes the same function with no LoRA overhead.
     *
     * @throws IllegalStateException if already merged
     */
    public void merge() {
        checkOpen();
        checkState(!merged, "the LoRA is already merged");
        for (LoraLinear l : layers.values()) {
            l.merge();
        }
        merged = true;
    }

    /**
     * Subtracts what {@link #merge()} added (restoring the base weights up to FP32 rounding, provided {@code A},
     * {@code B} and the scale did not change) and puts the LoRA branches back in the forward.
     *
     * @throws IllegalStateException if not merged
     */
    public void unmerge() {
        checkOpen();
        checkState(merged, "the LoRA is not merged");
        for (LoraLinear l : layers.values()) {
            l.unmerge();
        }
        merged = false;
    }

    /** @return whether the LoRA is merged into the base weights */
    public boolean isMerged() {
        return merged;
    }

    /**
     * Saves in the Diffusers/PEFT layout with the alpha metadata ({@link LoraExportOptions#defaults()}).
     *
     * @param file the destination, conventionally {@link LoraExporter#WEIGHT_NAME}
     * @throws LoraException if a value is not finite or a {@code lora_B} is all zeros
     * @throws IOException if writing fails
     */
    public void save(Path file) throws IOException {
        save(file, LoraExportOptions.defaults());
    }

    /**
     * Saves in the Diffusers/PEFT layout. The adapter scale ({@link #setScale}) is an inference setting and is
     * not written; alpha and dropout are the config's; {@code target_modules} lists the adapted modules by full
     * name (see {@link LoraExporter}), so that PEFT adapts exactly these.
     *
     * @param file the destination
     * @param options alpha in the metadata or folded into {@code B}; whether zero {@code B} is allowed
     * @throws IOException if writing fails
     */
    public void save(Path file, LoraExportOptions options) throws IOException {
        checkOpen();
        Map<String, LoraPair> pairs = new LinkedHashMap<>();
        for (LoraLinear l : layers.values()) {
            pairs.put(l.module(), new LoraPair(l.loraA(), l.loraB()));
        }
        LoraExporter.write(file, pairs, config.rank(), config.alpha(), config.dropout(), options);
    }

    /**
     * Detaches the LoRA branches from the model and frees {@code A} and {@code B}. A merged LoRA stays merged in the
     * base weights (call {@link #unmerge()} first to restore them). Idempotent.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (!merged) {
            for (LoraLinear l : layers.values()) {
                l.detach();
            }
        }
        manager.close();
    }

    private void checkOpen() {
        checkState(!closed, "the LoRA adapter is closed");
    }

    private static String fmt(double v) {
        return v == Math.rint(v) ? Long.toString((long) v) : Double.toString(v);
    }
}
