package io.github.cogvideox4j.core.model;

import io.github.cogvideox4j.core.EngineArrays;
import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import io.github.cogvideox4j.core.CogVideoXException;
import io.github.cogvideox4j.core.Scopes;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.embed.RopeGrid;
import io.github.cogvideox4j.core.embed.RotaryPositionalEmbedding3d;
import io.github.cogvideox4j.core.embed.SinCosPositionalEmbedding3d;
import io.github.cogvideox4j.core.embed.Timesteps;
import io.github.cogvideox4j.core.io.SafetensorsFiles;
import io.github.cogvideox4j.core.io.TensorSource;
import io.github.cogvideox4j.core.kernel.CpuFeatures;
import io.github.cogvideox4j.core.kernel.DTypeGuard;
import io.github.cogvideox4j.core.kernel.KernelPack;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The CogVideoX transformer (Diffusers {@code CogVideoXTransformer3DModel}) for all five releases: CogVideoX-2b,
 * 5b, 5b-I2V, 1.5-5B and 1.5-5B-I2V. Computes what the reference computes: time (and OFS) embedding, patch
 * embedding with the sincos or learned positional table where the release has one, the transformer blocks with
 * 3D RoPE on video tokens, the final norms and projection, and unpatchify. The output is the v-prediction
 * {@code [B, F, C_out, H, W]}.
 *
 * <pre>{@code
 * try (NDManager manager = NDManager.newBaseManager();
 *      CogVideoXTransformer model = CogVideoXTransformer.load(modelDir, manager)) {
 *     NDArray sample = model.forward(TransformerInput.of(latents, promptEmbeds, timesteps));
 * }
 * }</pre>
 *
 * <p><b>RoPE.</b> Unless the input carries an explicit table, the model builds the table the Diffusers pipelines
 * build: the 1.0 crop-region (linspace) grid against the base grid {@code sample_height/p x sample_width/p}, or the
 * 1.5 slice grid with the real latent size and {@code ceil(F/p_t)} temporal positions. Tables are cached per grid.
 *
 * <p><b>Ownership.</b> The parameters live in a sub-manager of the manager given at load, closed by
 * {@link #close()}. Everything {@code forward} returns, and its temporaries, belong to the manager of the input's
 * {@code hiddenStates}; temporaries are freed before {@code forward} returns. Parameters require gradients by
 * default (as {@code nn.Parameter} does), so under a DJL {@code GradientCollector} gradients flow to every
 * parameter and to the inputs that require them; freeze with {@link #setRequiresGradient(boolean)}.
 *
 * <p><b>Thread safety.</b> Not thread-safe: confine an instance to one thread.
 */
public final class CogVideoXTransformer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CogVideoXTransformer.class);
    /** Whether the slow-bf16 warning of {@link #setComputePrecision} was logged in this JVM (once). */
    private static final java.util.concurrent.atomic.AtomicBoolean SLOW_BF16_WARNED =
            new java.util.concurrent.atomic.AtomicBoolean();
    private static final String WEIGHTS_BASE_NAME = "diffusion_pytorch_model";

    private final CogVideoXConfig config;
    private final NDManager manager;
    private final DataType dtype;
    private final boolean bf16Storage;
    private final Map<String, NDArray> parameters;
    private final Map<String, NDArray> mutableParameters;
    private boolean int8Base;
    private final Map<String, NDArray> buffers;
    private final Kernels kernels;

    private final CogVideoXPatchEmbed patchEmbed;
    private final NDArray learnedPositions;
    private final TimestepEmbedding timeEmbedding;
    private final TimestepEmbedding ofsEmbedding;
    private final List<CogVideoXBlock> transformerBlocks;
    private final LayerNorm normFinal;
    private final AdaLayerNorm normOut;
    private final Linear projOut;

    private final Map<String, Linear> linears = new LinkedHashMap<>();
    private final Map<RopeGrid, RotaryPositionalEmbedding3d.RopeTables> ropeCache = new HashMap<>();
    private final Map<List<Integer>, float[]> sincosCache = new HashMap<>();
    private boolean warnedLearnedFallback;

    /**
     * @param dtype the activation dtype and the dtype of every weight except bf16-stored Linear weights
     * @param pack the kernel pack, owned by the model from here on
     * @param bf16Storage whether every Linear weight in {@code state} is a bf16 array made by the pack
     */
    private CogVideoXTransformer(CogVideoXConfig config, NDManager manager, DataType dtype,
            Map<String, NDArray> state, KernelPack pack, boolean bf16Storage) {
        this.config = config;
        this.manager = manager;
        this.dtype = dtype;
        this.bf16Storage = bf16Storage;
        ParameterLayout layout = ParameterLayout.of(config);
        Map<String, NDArray> params = new LinkedHashMap<>();
        Map<String, NDArray> bufs = new LinkedHashMap<>();
        for (String name : layout.shapes().keySet()) {
            NDArray a = state.get(name);
            if (a.getDataType() == DataType.UNKNOWN) {
                continue; // bf16 storage: reachable only through its Linear's safe accessors
            }
            (layout.buffers().contains(name) ? bufs : params).put(name, a);
        }
        this.mutableParameters = params;
        this.parameters = Collections.unmodifiableMap(params);
        this.buffers = Collections.unmodifiableMap(bufs);
        this.kernels = new Kernels(pack);

        double eps = config.normEps();
        // Diffusers module order: patch_embed.proj (a Linear in 1.5, a Conv2d in 1.0), then patch_embed.text_proj
        this.patchEmbed = config.patchSizeT() == null
                ? new CogVideoXPatchEmbed(config.patchSize(), state.get("patch_embed.proj.weight"),
                        state.get("patch_embed.proj.bias"), linear(state, "patch_embed.text_proj"))
                : new CogVideoXPatchEmbed(config.patchSize(), config.patchSizeT(), linear(state, "patch_embed.proj"),
                        linear(state, "patch_embed.text_proj"));
        this.learnedPositions = state.get("patch_embed.pos_embedding");
        this.timeEmbedding = new TimestepEmbedding(linear(state, "time_embedding.linear_1"),
                linear(state, "time_embedding.linear_2"));
        this.ofsEmbedding = config.ofsEmbedDim() == null ? null
                : new TimestepEmbedding(linear(state, "ofs_embedding.linear_1"), linear(state, "ofs_embedding.linear_2"));
        List<CogVideoXBlock> blocks = new ArrayList<>();
        for (int i = 0; i < config.numLayers(); i++) {
            String b = "transformer_blocks." + i;
            blocks.add(new CogVideoXBlock(b,
                    new CogVideoXLayerNormZero(linear(state, b + ".norm1.linear"), norm(state, b + ".norm1.norm", eps)),
                    new CogVideoXAttention(config.numAttentionHeads(), linear(state, b + ".attn1.to_q"),
                            linear(state, b + ".attn1.to_k"), linear(state, b + ".attn1.to_v"),
                            linear(state, b + ".attn1.to_out.0"), norm(state, b + ".attn1.norm_q", 1e-6),
                            norm(state, b + ".attn1.norm_k", 1e-6), kernels),
                    new CogVideoXLayerNormZero(linear(state, b + ".norm2.linear"), norm(state, b + ".norm2.norm", eps)),
                    new FeedForward(linear(state, b + ".ff.net.0.proj"), linear(state, b + ".ff.net.2"), kernels)));
        }
        this.transformerBlocks = List.copyOf(blocks);
        this.normFinal = norm(state, "norm_final", eps);
        this.normOut = new AdaLayerNorm(linear(state, "norm_out.linear"), norm(state, "norm_out.norm", eps));
        this.projOut = linear(state, "proj_out");
        if (!linears.keySet().equals(linearNames(config))) {
            throw new IllegalStateException("Linear modules built " + linears.keySet() + " differ from linearNames "
                    + linearNames(config));
        }
        // bf16-stored weights are frozen: nothing requires a gradient until the caller asks (only allowed in fp32)
        setRequiresGradient(!bf16Storage);
    }

    private Linear linear(Map<String, NDArray> state, String name) {
        Linear l = new Linear(name, state.get(name + ".weight"), state.get(name + ".bias"), kernels, bf16Storage);
        linears.put(name, l);
        return l;
    }

    private LayerNorm norm(Map<String, NDArray> state, String name, double eps) {
        NDArray w = state.get(name + ".weight");
        NDArray b = state.get(name + ".bias");
        if (w == null) {
            // norm_elementwise_affine = false: constant ones/zeros (not parameters)
            long dim = name.contains("norm_q") || name.contains("norm_k") ? config.attentionHeadDim() : config.innerDim();
            w = manager.ones(new Shape(dim), dtype);
            b = manager.zeros(new Shape(dim), dtype);
        }
        return new LayerNorm(name, w, b, eps);
    }

    // ------------------------------------------------------------------------------------------------ loading

    /**
     * Loads a Diffusers transformer folder in FLOAT32. See {@link #load(Path, NDManager, DataType)}.
     *
     * @param dir a {@code transformer/} folder or a pipeline root holding one
     * @param manager the parent of the model's own manager
     * @return the model; close it to free its weights
     * @throws IOException if a file cannot be read
     */
    public static CogVideoXTransformer load(Path dir, NDManager manager) throws IOException {
        return load(dir, manager, DataType.FLOAT32);
    }

    /**
     * Loads a Diffusers transformer folder: {@code config.json} and {@code diffusion_pytorch_model.safetensors} (or
     * its shards with {@code diffusion_pytorch_model.safetensors.index.json}), either in {@code dir} itself or in
     * {@code dir/transformer} (a pipeline root). Every tensor name and shape is checked against the config before
     * any weight is read; missing, unexpected and mismatched tensors are reported together in one
     * {@link WeightLoadException}. Stored BF16/F16/F32 weights are converted to {@code dtype}.
     *
     * <p><b>BFLOAT16</b> means bf16 <em>storage of the Linear weights</em> (the bulk of the model: 5B needs 11 GB
     * instead of 22 GB) for frozen-base training such as LoRA: each Linear weight of a BF16 safetensors file is a view of
     * the file's private mapping (no copy: {@link TensorSource#readBf16}); from any other file it is read as FLOAT32,
     * cast to bf16 inside the TorchScript kernel pack and the FLOAT32 copy freed at once, so the peak is the bf16
     * model plus one tensor. Biases, norms, the 1.0 patch convolution and buffers stay FLOAT32, activations are
     * FLOAT32 ({@link #dataType()}), the bf16 weights are frozen ({@link #setRequiresGradient}), are not listed in
     * {@link #namedParameters()} and are reached only through {@link Linear}'s safe accessors. Forward widens them
     * per call in {@link ComputePrecision#FP32} and uses them directly in {@link ComputePrecision#BF16} (the sensible
     * choice with this storage: see docs/mixed-precision.md).
     *
     * @param dir a {@code transformer/} folder or a pipeline root holding one
     * @param manager the parent of the model's own manager
     * @param dtype FLOAT32 (default), FLOAT16 (inference), or BFLOAT16 (bf16 storage of the Linear weights, see
     *     above); the data type itself is never passed to DJL
     * @return the model; close it to free its weights
     * @throws IOException if a file cannot be read
     * @throws WeightLoadException if the weights do not match the config
     * @throws io.github.cogvideox4j.core.config.ConfigException if the config is invalid
     */
    public static CogVideoXTransformer load(Path dir, NDManager manager, DataType dtype) throws IOException {
        DataType storage = requireStorageType(dtype);
        Path folder = resolveFolder(dir);
        CogVideoXConfig config = CogVideoXConfig.read(folder.resolve("config.json"));
        try (TensorSource weights = SafetensorsFiles.openModelWeights(folder, WEIGHTS_BASE_NAME)) {
            return create(config, weights, folder.toString(), manager, storage);
        }
    }

    /**
     * Builds a model from a config and an open tensor source (a safetensors file or sharded folder), with the same
     * checks as {@link #load(Path, NDManager, DataType)}.
     *
     * @param config the model config
     * @param weights the tensors, named as the Diffusers state dict
     * @param manager the parent of the model's own manager
     * @param dtype FLOAT32, FLOAT16 or BFLOAT16 (bf16 storage of the Linear weights, see
     *     {@link #load(Path, NDManager, DataType)})
     * @return the model
     */
    public static CogVideoXTransformer fromWeights(CogVideoXConfig config, TensorSource weights, NDManager manager,
            DataType dtype) {
        return create(config, weights, "the given tensors", manager, requireStorageType(dtype));
    }

    /**
     * Loads a SAT checkpoint (the SAT trainer's DeepSpeed output) in FLOAT32. See
     * {@link #load(Path, CogVideoXConfig, NDManager, DataType)}.
     *
     * @param satCheckpoint the checkpoint folder (with {@code latest}), an iteration folder, or the
     *     {@code mp_rank_00_model_states.pt} file
     * @param config the model's Diffusers config ({@link CogVideoXConfig#read} of a {@code config.json}, or
     *     {@link CogVideoXConfig#released} of a release): a SAT checkpoint carries none
     * @param manager the parent of the model's own manager
     * @return the model; close it to free its weights
     * @throws IOException if a file cannot be read
     */
    public static CogVideoXTransformer load(Path satCheckpoint, CogVideoXConfig config, NDManager manager)
            throws IOException {
        return load(satCheckpoint, config, manager, DataType.FLOAT32);
    }

    /**
     * Loads a SAT checkpoint: {@code latest} picks the iteration, {@code mp_rank_00_model_states.pt} is read with the
     * allowlist {@code torch.save} reader (nothing in it is executed), the state dict is found under
     * {@code state_dict}, {@code module} or {@code model}, and its names are mapped to Diffusers names as CogVideo's
     * {@code convert_weight_sat2hf.py} does (q/k/v split, 12-chunk adaLN split into norm1/norm2, q/k layernorm lists,
     * renames, dropped position table; see {@link SatCheckpoint}). Names and shapes are checked against the config
     * before any weight is read; missing, unexpected and mismatched tensors and mapping problems are reported together
     * in one {@link WeightLoadException}. Dtypes as {@link #load(Path, NDManager, DataType)}.
     *
     * @param satCheckpoint the checkpoint folder, an iteration folder, or the {@code .pt} file
     * @param config the model's Diffusers config
     * @param manager the parent of the model's own manager
     * @param dtype FLOAT32, FLOAT16 or BFLOAT16 (bf16 storage of the Linear weights)
     * @return the model; close it to free its weights
     * @throws IOException if a file cannot be read
     * @throws io.github.cogvideox4j.core.io.TorchSaveFormatException if the {@code .pt} file is refused
     * @throws WeightLoadException if the weights do not match the config
     */
    public static CogVideoXTransformer load(Path satCheckpoint, CogVideoXConfig config, NDManager manager,
            DataType dtype) throws IOException {
        com.google.common.base.Preconditions.checkNotNull(config, "config");
        DataType storage = requireStorageType(dtype);
        try (SatCheckpoint sat = SatCheckpoint.open(satCheckpoint, config)) {
            return create(config, sat, sat.describe(), manager, storage, sat.problems());
        }
    }

    private static CogVideoXTransformer create(CogVideoXConfig config, TensorSource weights, String source,
            NDManager parent, DataType dtype) {
        return create(config, weights, source, parent, dtype, List.of());
    }

    /**
     * Checks tensor names and shapes against the config's layout.
     *
     * @param problems further problems found while mapping names (reported with the shape mismatches)
     * @throws WeightLoadException listing every missing, unexpected and mismatched tensor
     */
    static void checkWeights(CogVideoXConfig config, TensorSource weights, String source, List<String> problems) {
        ParameterLayout layout = ParameterLayout.of(config);
        List<String> missing = new ArrayList<>();
        List<String> mismatched = new ArrayList<>(problems);
        for (Map.Entry<String, Shape> e : layout.shapes().entrySet()) {
            if (!weights.names().contains(e.getKey())) {
                missing.add(e.getKey());
            } else {
                Shape actual = weights.info(e.getKey()).djlShape();
                if (!actual.equals(e.getValue())) {
                    mismatched.add(e.getKey() + ": expected " + e.getValue() + ", got " + actual);
                }
            }
        }
        List<String> unexpected = new ArrayList<>();
        for (String name : weights.names()) {
            if (!layout.shapes().containsKey(name)) {
                unexpected.add(name);
            }
        }
        if (!missing.isEmpty() || !unexpected.isEmpty() || !mismatched.isEmpty()) {
            throw new WeightLoadException(source + " (" + config.variant() + ")", missing, unexpected, mismatched);
        }
    }

    private static CogVideoXTransformer create(CogVideoXConfig config, TensorSource weights, String source,
            NDManager parent, DataType dtype, List<String> problems) {
        checkWeights(config, weights, source, problems);
        ParameterLayout layout = ParameterLayout.of(config);
        NDManager own = parent.newSubManager();
        KernelPack pack = KernelPack.load();
        try {
            boolean bf16 = dtype == DataType.BFLOAT16;
            DataType read = bf16 ? DataType.FLOAT32 : dtype;
            Set<String> bf16Names = bf16 ? linearWeightNames(config) : Set.of();
            Map<String, NDArray> state = new LinkedHashMap<>();
            for (String name : layout.shapes().keySet()) {
                // bf16 storage: a view of a mapped BF16 file, else read as FLOAT32 and cast by the pack
                NDArray a = bf16Names.contains(name) ? weights.readBf16(name, own, pack) : weights.read(name, own, read);
                a.setName(name);
                state.put(name, a);
            }
            LOG.debug("loaded {} ({} tensors{}) from {}", config.variant(), state.size(),
                    bf16 ? ", " + bf16Names.size() + " Linear weights in bf16" : "", source);
            return new CogVideoXTransformer(config, own, read, state, pack, bf16);
        } catch (RuntimeException e) {
            pack.close();
            own.close();
            throw e;
        }
    }

    /**
     * A model with random weights of the config's shapes (normal(0, 0.02) for projections, ones/zeros for norms),
     * for demos, benchmarks and shape tests. Deterministic for a seed. FLOAT32 storage; see
     * {@link #random(CogVideoXConfig, NDManager, long, DataType)}.
     *
     * @param config the model config
     * @param manager the parent of the model's own manager
     * @param seed the random seed
     * @return the model
     */
    public static CogVideoXTransformer random(CogVideoXConfig config, NDManager manager, long seed) {
        return random(config, manager, seed, DataType.FLOAT32);
    }

    /**
     * A model with random weights, as {@link #random(CogVideoXConfig, NDManager, long)}, held as {@code storage}.
     * With BFLOAT16 every Linear weight is rounded to bf16 storage as it is made (as
     * {@link #load(Path, NDManager, DataType)} does), so the peak is the bf16 model plus one FLOAT32 tensor: a
     * real-size model for memory and speed measurements needs no FLOAT32 copy of itself. The values are the FLOAT32
     * model's for the same seed, rounded.
     *
     * @param config the model config
     * @param manager the parent of the model's own manager
     * @param seed the random seed
     * @param storage FLOAT32 or BFLOAT16
     * @return the model; close it to free its weights
     * @throws IllegalArgumentException for another storage type
     */
    public static CogVideoXTransformer random(CogVideoXConfig config, NDManager manager, long seed,
            DataType storage) {
        com.google.common.base.Preconditions.checkArgument(
                storage == DataType.FLOAT32 || storage == DataType.BFLOAT16,
                "random weights are held as FLOAT32 or BFLOAT16, not %s", storage);
        ParameterLayout layout = ParameterLayout.of(config);
        SplittableRandom random = new SplittableRandom(seed);
        boolean bf16 = storage == DataType.BFLOAT16;
        Set<String> bf16Names = bf16 ? linearWeightNames(config) : Set.of();
        NDManager own = manager.newSubManager();
        KernelPack pack = KernelPack.load();
        try {
            Map<String, NDArray> state = new LinkedHashMap<>();
            for (Map.Entry<String, Shape> e : layout.shapes().entrySet()) {
                String name = e.getKey();
                Shape shape = e.getValue();
                float[] values = new float[Math.toIntExact(shape.size())];
                boolean isNorm = name.contains("norm") && !name.contains(".linear.");
                if (isNorm && name.endsWith(".weight")) {
                    java.util.Arrays.fill(values, 1f);
                } else if (!isNorm) {
                    for (int i = 0; i < values.length; i++) {
                        values[i] = (float) (0.02 * random.nextGaussian());
                    }
                }
                NDArray a = EngineArrays.create(own, values, shape);
                if (bf16Names.contains(name)) {
                    try (NDArray wide = a) {
                        a = pack.toBf16(wide); // a copy in `own`; the FLOAT32 tensor is freed at once
                    }
                }
                a.setName(name);
                state.put(name, a);
            }
            return new CogVideoXTransformer(config, own, DataType.FLOAT32, state, pack, bf16);
        } catch (RuntimeException e) {
            pack.close();
            own.close();
            throw e;
        }
    }

    private static DataType requireStorageType(DataType dtype) {
        com.google.common.base.Preconditions.checkNotNull(dtype, "dtype");
        if (dtype == DataType.BFLOAT16) {
            return dtype; // never passed to DJL: weights are read as FLOAT32 and cast inside the kernel pack
        }
        DTypeGuard.requireSupported(dtype, "weight dtype");
        if (dtype != DataType.FLOAT32 && dtype != DataType.FLOAT16) {
            throw new CogVideoXException("weights can be held as FLOAT32, FLOAT16 or BFLOAT16 (bf16 storage of the "
                    + "Linear weights through the kernel pack), not " + dtype);
        }
        return dtype;
    }

    /**
     * The Diffusers module names of every {@link Linear} the model builds for a config (the keys of
     * {@link #namedLinears()}), in construction order.
     *
     * @param config the model config
     * @return the module names, e.g. {@code transformer_blocks.0.attn1.to_q}
     */
    public static Set<String> linearNames(CogVideoXConfig config) {
        Set<String> names = new LinkedHashSet<>();
        if (config.patchSizeT() != null) {
            names.add("patch_embed.proj"); // 1.5: a Linear over patch vectors (1.0: a Conv2d, not listed)
        }
        names.add("patch_embed.text_proj");
        names.add("time_embedding.linear_1");
        names.add("time_embedding.linear_2");
        if (config.ofsEmbedDim() != null) {
            names.add("ofs_embedding.linear_1");
            names.add("ofs_embedding.linear_2");
        }
        for (int i = 0; i < config.numLayers(); i++) {
            String b = "transformer_blocks." + i;
            for (String m : new String[] {".norm1.linear", ".attn1.to_q", ".attn1.to_k", ".attn1.to_v",
                    ".attn1.to_out.0", ".norm2.linear", ".ff.net.0.proj", ".ff.net.2"}) {
                names.add(b + m);
            }
        }
        names.add("norm_out.linear");
        names.add("proj_out");
        return Collections.unmodifiableSet(names);
    }

    private static Set<String> linearWeightNames(CogVideoXConfig config) {
        Set<String> names = new LinkedHashSet<>();
        for (String m : linearNames(config)) {
            names.add(m + ".weight");
        }
        return names;
    }

    private static Path resolveFolder(Path dir) throws IOException {
        if (Files.isRegularFile(dir.resolve("config.json"))) {
            return dir;
        }
        if (Files.isRegularFile(dir.resolve("transformer").resolve("config.json"))) {
            return dir.resolve("transformer");
        }
        throw new java.io.FileNotFoundException(dir + ": neither " + dir.resolve("config.json") + " nor "
                + dir.resolve("transformer/config.json") + " exists (expected a Diffusers transformer folder or a "
                + "pipeline root)");
    }

    // ------------------------------------------------------------------------------------------------ accessors

    /** @return the config this model was built from */
    public CogVideoXConfig config() {
        return config;
    }

    /**
     * @return the device the weights live on (the device of the manager the model was loaded into); inputs of
     *     {@link #forward} must be on it, and callers create their arrays there
     */
    public Device device() {
        return manager.getDevice();
    }

    /**
     * @return the dtype of the activations and of the weights: FLOAT32 or FLOAT16; FLOAT32 for a model loaded with
     *     bf16 storage, whose Linear weights alone are bf16 (see {@link #hasBf16Storage()})
     */
    public DataType dataType() {
        return dtype;
    }

    /**
     * @return whether the Linear weights are held in bf16 storage (loaded with {@code DataType.BFLOAT16}); they are
     *     then frozen, absent from {@link #namedParameters()} and reachable only through {@link Linear}'s safe
     *     accessors
     */
    public boolean hasBf16Storage() {
        return bf16Storage;
    }

    /**
     * @return the bytes the weights occupy: every parameter and buffer at its dtype's width, bf16-stored Linear
     *     weights at 2 bytes per element (the norms' constant ones/zeros of non-affine configs are not counted)
     */
    public long weightBytes() {
        long bytes = 0;
        for (NDArray a : parameters.values()) {
            bytes += a.getShape().size() * a.getDataType().getNumOfBytes();
        }
        for (NDArray a : buffers.values()) {
            bytes += a.getShape().size() * a.getDataType().getNumOfBytes();
        }
        for (Linear l : linears.values()) {
            if (l.hasBf16Weight() || l.hasInt8Weight()) {
                bytes += l.weightStorageBytes();
            }
        }
        return bytes;
    }

    /**
     * Holds every frozen base Linear weight (the names of {@link #linearNames}) as symmetric int8 codes with one
     * FLOAT32 scale per output channel, {@code s = max|w_row| / 127}, codes {@code round_half_even(w / s)}; each GEMM
     * dequantises {@code q s} inside the kernel pack for the call, in the model's {@link ComputePrecision}. The
     * weights then take 1 byte per element (plus 4 bytes per output channel) and each element is off by at most
     * {@code s / 2}. The quantised weights leave {@link #namedParameters()}, and the model stays frozen
     * ({@link #setRequiresGradient} refuses {@code true}); adapters (LoRA) stay float32. Works on FLOAT32 and on
     * bf16-storage models (the latter quantise the bf16 values). Each layer's previous weight is freed as soon as
     * its codes exist. Calling it again does nothing.
     *
     * @throws IllegalStateException if a Linear weight requires a gradient (a full fine-tune cannot use an int8
     *     base: freeze with {@code setRequiresGradient(false)} and train a LoRA), or the model is FLOAT16
     */
    public void quantizeBaseWeightsToInt8() {
        if (dtype != DataType.FLOAT32) {
            throw new IllegalStateException(config.variant().displayName() + ": int8 base weights need a FLOAT32 "
                    + "model (float32 activations), but it is held in " + dtype);
        }
        for (Linear l : linears.values()) {
            NDArray w = mutableParameters.get(l.name() + ".weight");
            if (w != null && w.hasGradient()) {
                throw new IllegalStateException(config.variant().displayName() + ": " + l.name() + ".weight "
                        + "requires a gradient; int8 base weights are for a frozen base (LoRA). A full fine-tune "
                        + "cannot train int8 weights: use base_precision fp32 (or mixed_precision bf16), or freeze "
                        + "the base with setRequiresGradient(false) first");
            }
        }
        for (Linear l : linears.values()) {
            l.quantizeToInt8();
            mutableParameters.remove(l.name() + ".weight");
        }
        int8Base = true;
        LOG.info("{}: {} Linear weights held in int8 with per-channel scales ({} weight bytes)",
                config.variant().displayName(), linears.size(), weightBytes());
    }

    /** @return whether the Linear weights are held in int8 ({@link #quantizeBaseWeightsToInt8()}) */
    public boolean hasInt8Base() {
        return int8Base;
    }

    /**
     * @return every parameter ({@code nn.Parameter} in Diffusers), ordered as the Diffusers state dict, under the
     *     Diffusers keys; the arrays belong to the model (do not close them). With bf16 storage
     *     ({@link #hasBf16Storage()}) the bf16 Linear weights are left out, so that every listed array is safe for
     *     any DJL call; reach those through {@link #namedLinears()} ({@link Linear#weightShape()},
     *     {@link Linear#weightAsFloat32}, {@link Linear#addToWeight})
     */
    public Map<String, NDArray> namedParameters() {
        return parameters;
    }

    /** @return persistent buffers (the learned positional table of 5b-I2V), owned by the model */
    public Map<String, NDArray> namedBuffers() {
        return buffers;
    }

    /**
     * @return every Linear layer under its Diffusers module name (e.g. {@code transformer_blocks.0.attn1.to_q}),
     *     in construction order; LoRA attaches to these (see {@link Linear#addAdapter})
     */
    public Map<String, Linear> namedLinears() {
        return Collections.unmodifiableMap(linears);
    }

    /** @return the transformer blocks, in order */
    public List<CogVideoXBlock> transformerBlocks() {
        return transformerBlocks;
    }

    /**
     * Turns gradient recording on or off for every parameter (buffers never record).
     *
     * @param requiresGradient whether backward should compute parameter gradients
     * @throws io.github.cogvideox4j.core.kernel.UnsupportedDTypeException if {@code true} is asked of a model with
     *     bf16 storage: its base weights are frozen (their gradients would be bf16 arrays that abort the JVM in DJL
     *     calls); train adapters on it, or load FLOAT32 to train the base weights
     */
    public void setRequiresGradient(boolean requiresGradient) {
        if (requiresGradient && int8Base) {
            throw new io.github.cogvideox4j.core.kernel.UnsupportedDTypeException(config.variant().displayName()
                    + ": the Linear weights are held in int8 and are frozen; int8 codes cannot be trained. Train "
                    + "adapters (LoRA) on this model, or keep the base in FLOAT32 to train the base weights");
        }
        if (requiresGradient && bf16Storage) {
            throw new io.github.cogvideox4j.core.kernel.UnsupportedDTypeException(config.variant().displayName()
                    + ": the Linear weights are held in bf16 storage and are frozen; gradients for them would be bf16 "
                    + "arrays that abort the JVM in DJL calls. Train adapters (LoRA) on this model, or load it with "
                    + "DataType.FLOAT32 (optionally with setComputePrecision(BF16)) to train the base weights");
        }
        for (NDArray p : parameters.values()) {
            p.setRequiresGradient(requiresGradient);
        }
    }

    /**
     * Chooses the attention and GELU implementation; {@link KernelMode#FUSED} by default.
     *
     * @param mode the implementation
     */
    public void setKernelMode(KernelMode mode) {
        kernels.setMode(mode);
    }

    /** @return the current kernel implementation */
    public KernelMode kernelMode() {
        return kernels.mode();
    }

    /**
     * Chooses the precision of every Linear's GEMM (attention projections, feed-forward, the norms' modulation
     * Linears, time/OFS embeddings, the text projection, {@code proj_out}); {@link ComputePrecision#FP32} by default.
     * With {@link ComputePrecision#BF16} each Linear casts its float32 input and weight to bf16 inside the kernel pack
     * and returns float32: weights, LoRA parameters, gradients and optimizer state stay float32 (mixed precision with
     * fp32 master weights). Attention, norms and the conv patch embedding stay float32. Errors against FP32 are
     * measured in docs/mixed-precision.md.
     *
     * @param precision the GEMM precision
     * @throws CogVideoXException if BF16 is asked of a FLOAT16 model (bf16 compute takes float32 activations)
     */
    public void setComputePrecision(ComputePrecision precision) {
        com.google.common.base.Preconditions.checkNotNull(precision, "precision");
        if (precision == ComputePrecision.BF16 && dtype != DataType.FLOAT32) {
            throw new CogVideoXException(config.variant().displayName() + ": BF16 compute needs FLOAT32 activations, "
                    + "but the model is held in " + dtype + "; load it with DataType.FLOAT32 or DataType.BFLOAT16");
        }
        boolean slowBf16 = !device().isGpu() && !CpuFeatures.hasNativeBf16Gemm().orElse(true);
        if (precision == ComputePrecision.BF16 && slowBf16 && SLOW_BF16_WARNED.compareAndSet(false, true)) {
            LOG.warn("BF16 compute on a CPU without a native bf16 dot product (no avx512_bf16 or amx_bf16 flag in "
                    + "/proc/cpuinfo): libtorch then runs bf16 GEMMs as a plain loop, several times slower than "
                    + "FP32 (about 10 against 80 GFLOP/s, and far slower in the backward, measured on an AVX2-only "
                    + "AMD EPYC). bf16 weight storage (load with DataType.BFLOAT16) still saves memory with FP32 "
                    + "compute; see docs/mixed-precision.md");
        }
        kernels.setPrecision(precision);
    }

    /** @return the current GEMM precision of the Linear layers */
    public ComputePrecision computePrecision() {
        return kernels.precision();
    }

    // ------------------------------------------------------------------------------------------------ forward

    /**
     * Runs the transformer. See {@link #forward(TransformerInput, ForwardProbe)}.
     *
     * @param in the inputs
     * @return the v-prediction {@code [B, F, C_out, H, W]} in the manager of {@code in.hiddenStates()}
     */
    public NDArray forward(TransformerInput in) {
        return forward(in, ForwardProbe.NONE);
    }

    /**
     * Runs the transformer and shows named intermediates to a probe.
     *
     * @param in the inputs (validated first: shapes, dtypes, OFS, frame count, text length, table sizes)
     * @param probe receives the intermediates named as the Diffusers modules
     * @return the v-prediction {@code [B, F, C_out, H, W]} in the manager of {@code in.hiddenStates()}
     * @throws CogVideoXException for an input the model cannot take (the message says which and why)
     */
    public NDArray forward(TransformerInput in, ForwardProbe probe) {
        Shape shape = validate(in);
        NDManager owner = in.hiddenStates().getManager();
        return Scopes.run(owner, scope -> {
                    // 1-3. Time (and OFS) embedding, patch embedding with positions, RoPE table
                    Stem stem = stem(in, shape, scope, probe);
                    // 4. Transformer blocks, each in its own scope so its intermediates are freed at once; a
                    //    block's output is freed once the next block has used it (autograd keeps natively what it
                    //    saved), so the pass holds one block's hidden states, not every block's
                    NDArray v = stem.video();                                              // [B, N, D]
                    NDArray c = stem.text();                                               // [B, L, D]
                    for (CogVideoXBlock block : transformerBlocks) {
                        NDList out = runBlock(block, scope, v, c, stem, probe);
                        if (v != stem.video()) {
                            v.close();
                            c.close();
                        }
                        v = out.get(0);
                        c = out.get(1);
                    }
                    // 5-6. Output head and unpatchify
                    return new NDList(head(v, stem.emb(), shape, probe));                  // [B, F, C_out, H, W]
                }, in.hiddenStates(), in.encoderHiddenStates(), in.timestep(), in.ofs()).singletonOrThrow();
    }

    /**
     * Forward and backward with activation checkpointing per block: {@link #forwardBackwardWithRecompute(
     * TransformerInput, Function, int)} with a segment of one block (the Diffusers way: every block's input is kept).
     *
     * @param in the inputs (validated as for {@link #forward})
     * @param lossOfSample maps the sample {@code [B, F, C_out, H, W]} to a scalar loss in the sample's manager
     * @return the loss, detached, in the manager of {@code in.hiddenStates()}
     * @throws IllegalStateException if called while a gradient collector is recording on this thread
     */
    public NDArray forwardBackwardWithRecompute(TransformerInput in, Function<NDArray, NDArray> lossOfSample) {
        return forwardBackwardWithRecompute(in, lossOfSample, 1);
    }

    /**
     * Forward and backward with activation checkpointing in segments of blocks: the blocks run once without
     * recording, keeping only the input of the first block of each segment (blocks 0, k, 2k, ... for a segment of
     * {@code k}), then backward goes through the segments in reverse. For each segment it first recomputes, without
     * recording, the inputs of the segment's other blocks from the segment's checkpoint; then it recomputes the blocks
     * one at a time in reverse, each under its own {@code GradientCollector} (DJL allows one at a time). Gradients
     * accumulate into every parameter that requires them, and into the inputs that require them, exactly as a plain
     * forward + backward of {@code lossOfSample(forward(in))} would leave them.
     *
     * <p>Memory holds one block's activations plus {@code ceil(n / k)} checkpoints and at most {@code k - 1} inputs
     * of the segment being gone back through ({@code [B, N + L, D]} each), instead of every block's activations; the
     * price is {@code n - ceil(n / k)} more block forwards per step. A segment of one block keeps every block's input
     * and recomputes nothing twice; about {@code sqrt(n)} keeps the fewest inputs (Chen et al., "Training Deep Nets
     * with Sublinear Memory Cost", 2016). In FLOAT32 compute the result does not depend on the segment, bit for bit.
     * In BF16 compute the checkpoints are bf16 copies, and the inputs recomputed inside a segment come from the
     * widened checkpoint: each block's recompute then starts from one rounding of its input, as with a segment of
     * one, plus the checkpoint's rounding carried through the blocks before it in its segment.
     *
     * <p>Call it outside any {@code GradientCollector}: it opens its own.
     *
     * @param in the inputs (validated as for {@link #forward})
     * @param lossOfSample maps the sample {@code [B, F, C_out, H, W]} to a scalar loss in the sample's manager (it runs
     *     under a collector; ops on the sample are recorded)
     * @param segment blocks per checkpoint, at least 1 (a segment longer than the model is one segment)
     * @return the loss, detached, in the manager of {@code in.hiddenStates()}
     * @throws IllegalArgumentException if {@code segment < 1}
     * @throws IllegalStateException if called while a gradient collector is recording on this thread
     */
    public NDArray forwardBackwardWithRecompute(TransformerInput in, Function<NDArray, NDArray> lossOfSample,
            int segment) {
        return forwardBackwardWithRecompute(in, lossOfSample, segment, 1);
    }

    /**
     * {@link #forwardBackwardWithRecompute(TransformerInput, Function, int)} whose blocks go back in token chunks:
     * each block's keys and values are computed for all tokens first, then its whole recompute (the attention's
     * queries against all keys and values) is recorded and gone back through one chunk of {@code 1/chunks} of the
     * tokens at a time, then the keys and values are gone back through chunk by chunk. So a block's backward holds
     * the keys, the values and their gradients plus one chunk of the rest instead of all of its saved tensors at
     * once, and reads its (bf16) checkpoint one chunk at a time. The unrecorded forwards (the checkpoint pass, a
     * segment's refill) run in the same chunks. The price is each block's k and v projections computed once more.
     * Gradients are those of the plain backward up to the order of the float sums over the tokens (so not bit for
     * bit, unlike the segment). One chunk is {@link #forwardBackwardWithRecompute(TransformerInput, Function, int)} itself.
     *
     * @param in the inputs (validated as for {@link #forward})
     * @param lossOfSample maps the sample to a scalar loss, as for the three-argument method
     * @param segment blocks per checkpoint, at least 1
     * @param chunks token chunks per block backward, at least 1 (at most the text length is used)
     * @return the loss, detached, in the manager of {@code in.hiddenStates()}
     * @throws IllegalArgumentException if {@code segment < 1} or {@code chunks < 1}
     * @throws IllegalStateException if called while a gradient collector is recording on this thread
     */
    public NDArray forwardBackwardWithRecompute(TransformerInput in, Function<NDArray, NDArray> lossOfSample,
            int segment, int chunks) {
        com.google.common.base.Preconditions.checkArgument(segment >= 1,
                "segment: blocks per checkpoint must be >= 1, got %s", segment);
        com.google.common.base.Preconditions.checkArgument(chunks >= 1,
                "chunks: token chunks per block backward must be >= 1, got %s", chunks);
        if (JniUtils.isGradMode()) {
            throw new IllegalStateException("forwardBackwardWithRecompute opens its own GradientCollector per block: "
                    + "call it outside a GradientCollector (grad mode is on in this thread)");
        }
        Shape shape = validate(in);
        NDManager owner = in.hiddenStates().getManager();
        Engine engine = Engine.getInstance();
        return Scopes.run(owner, scope -> {
                    // 1. Stem, recorded: its graph stays alive until the last backward (step 5)
                    Stem stem;
                    try (GradientCollector gc = engine.newGradientCollector()) {
                        stem = stem(in, shape, scope, ForwardProbe.NONE);
                    }
                    // 2. Blocks without recording, keeping the input of each segment's first block (bf16 copies in
                    //    bf16 compute); the other entries stay null until their segment's backward
                    boolean bf16 = kernels.precision() == ComputePrecision.BF16;
                    boolean stemBackward = stemNeedsBackward(in);
                    NDArray emb = stem.emb().stopGradient();                               // [B, T]
                    NDArray v = stem.video().stopGradient();                               // [B, N, D]
                    NDArray c = stem.text().stopGradient();                                // [B, L, D]
                    Stem conditioning = new Stem(emb, null, null, stem.cos(), stem.sin());
                    List<NDList> blockInputs = new ArrayList<>();
                    for (int i = 0; i < transformerBlocks.size(); i++) {
                        boolean checkpoint = i % segment == 0;
                        blockInputs.add(checkpoint ? keepInput(v, c, bf16) : null);
                        NDList out = runUnrecorded(transformerBlocks.get(i), scope, v, c, conditioning, chunks);
                        if (bf16 || !checkpoint) {
                            v.close();
                            c.close();
                        }
                        v = out.get(0);
                        c = out.get(1);
                    }
                    if (!stemBackward) {
                        // nothing goes back through the stem: its outputs live on only as the first checkpoint
                        stem.video().close();
                        stem.text().close();
                    }
                    // 3. Head and loss, recorded in a scope of their own; backward gives the head's gradients and
                    //    dL/dv (and dL/demb when the stem goes back), and everything else of the head is freed
                    //    before the blocks' backward. Without a stem backward the conditioning needs no gradient,
                    //    so nothing is recorded (or saved) for one.
                    NDArray headV = v;                    // the last block's output: no checkpoint holds it
                    NDArray headEmb = emb.duplicate();    // emb stays the blocks' input
                    NDArray gradC = c.zerosLike();                                         // the head ignores text
                    c.close();
                    NDList headOut = Scopes.run(scope, s -> {
                        headV.attach(s);
                        headEmb.attach(s);
                        headV.setRequiresGradient(true);
                        headEmb.setRequiresGradient(stemBackward);
                        try (GradientCollector gc = engine.newGradientCollector()) {
                            NDArray l = lossOfSample.apply(head(headV, headEmb, shape, ForwardProbe.NONE));
                            gc.backward(l);
                            return stemBackward ? new NDList(l.stopGradient(), headV.getGradient(),
                                    headEmb.getGradient()) : new NDList(l.stopGradient(), headV.getGradient());
                        }
                    });
                    NDArray loss = headOut.get(0);
                    NDArray gradV = headOut.get(1);                                        // [B, N, D]
                    NDArray gradEmb = stemBackward ? headOut.get(2) : null;                // [B, T]
                    // 4. Blocks in reverse: recompute under a collector, backward with the upstream gradients.
                    //    The recompute runs in its own scope, so only what autograd saved outlives it, and each
                    //    upstream gradient is freed once the block below has used it. The conditioning is a leaf
                    //    that requires a gradient only when the stem goes back: otherwise autograd saves nothing
                    //    for one (the LayerNorm outputs the modulations multiply, the outputs the gates multiply).
                    for (int i = transformerBlocks.size() - 1; i >= 0; i--) {
                        if (blockInputs.get(i) == null) {
                            recomputeSegmentInputs(blockInputs, i - i % segment, i, scope, conditioning, bf16,
                                    chunks);
                        }
                        NDList upstream;
                        try (NDManager blockScope = scope.newSubManager()) {
                            NDList kept = blockInputs.set(i, null);
                            kept.attach(blockScope);
                            NDArray xe = stemBackward ? emb.duplicate() : emb;
                            if (stemBackward) {
                                xe.attach(blockScope);
                                xe.setRequiresGradient(true);
                            }
                            CogVideoXBlock block = transformerBlocks.get(i);
                            NDArray gv = gradV;
                            NDArray gt = gradC;
                            if (chunks > 1) {
                                // in token chunks, each widened from the kept input on its own; the block writes
                                // its input's gradients over the upstream gradients
                                UnaryOperator<NDArray> widen = bf16 ? kernels.pack()::toFloat32 : NDArray::duplicate;
                                upstream = block.backwardInTokenChunks(kept.get(0), kept.get(1), widen, xe,
                                        stem.cos(), stem.sin(), gv, gt, chunks);
                            } else {
                                NDArray xv = bf16 ? kernels.pack().toFloat32(kept.get(0)) : kept.get(0).duplicate();
                                NDArray xc = bf16 ? kernels.pack().toFloat32(kept.get(1)) : kept.get(1).duplicate();
                                kept.close();
                                for (NDArray a : new NDArray[] {xv, xc}) {
                                    a.attach(blockScope);
                                    a.setRequiresGradient(true);
                                }
                                try (GradientCollector gc = engine.newGradientCollector()) {
                                    // the block's outputs and their products with the upstream gradients are freed
                                    // before the backward: autograd needs neither, only the scalar
                                    NDArray l = Scopes.single(blockScope, s -> {
                                        NDList out = block.forward(xv, xc, xe, stem.cos(), stem.sin(),
                                                ForwardProbe.NONE);
                                        return out.get(0).mul(gv).sum().add(out.get(1).mul(gt).sum());
                                    }, xv, xc, xe);
                                    gc.backward(l);
                                }
                                upstream = new NDList(xv.getGradient(), xc.getGradient());
                            }
                            if (stemBackward) {
                                upstream.add(gradEmb.add(xe.getGradient()));
                            }
                            upstream.attach(scope);
                        }
                        for (NDArray g : new NDArray[] {gradV, gradC}) {
                            if (g != upstream.get(0) && g != upstream.get(1)) {
                                g.close();                   // a chunked block backward reuses them for its own
                            }
                        }
                        if (gradEmb != null) {
                            gradEmb.close();
                        }
                        gradV = upstream.get(0);
                        gradC = upstream.get(1);
                        gradEmb = stemBackward ? upstream.get(2) : null;
                    }
                    // 5. Through the stem's recorded graph into the embeddings and the inputs; a frozen stem whose
                    //    inputs need no gradient (adapters in the blocks only) recorded nothing to go through
                    if (stemBackward) {
                        try (GradientCollector gc = engine.newGradientCollector()) {
                            gc.backward(stem.video().mul(gradV).sum().add(stem.text().mul(gradC).sum())
                                    .add(stem.emb().mul(gradEmb).sum()));
                        }
                    }
                    return new NDList(loss);
                }, in.hiddenStates(), in.encoderHiddenStates(), in.timestep(), in.ofs()).singletonOrThrow();
    }

    /** A block's input as {@link #forwardBackwardWithRecompute} keeps it: bf16 copies in bf16 compute, else itself. */
    private NDList keepInput(NDArray v, NDArray c, boolean bf16) {
        return bf16 ? new NDList(kernels.pack().toBf16(v), kernels.pack().toBf16(c)) : new NDList(v, c);
    }

    /**
     * Fills {@code blockInputs[start + 1 .. last]} by running blocks {@code start .. last - 1} without recording
     * from the checkpoint {@code blockInputs[start]}. In bf16 compute the chain runs on float32 values (the widened
     * checkpoint, then each block's float32 output) and keeps bf16 copies, so the only rounding carried along it is
     * the checkpoint's.
     */
    private void recomputeSegmentInputs(List<NDList> blockInputs, int start, int last, NDManager scope,
            Stem conditioning, boolean bf16, int chunks) {
        NDList from = blockInputs.get(start);
        NDArray v = bf16 ? kernels.pack().toFloat32(from.get(0)) : from.get(0);                 // [B, N, D]
        NDArray c = bf16 ? kernels.pack().toFloat32(from.get(1)) : from.get(1);                 // [B, L, D]
        for (int j = start; j < last; j++) {
            NDList out = runUnrecorded(transformerBlocks.get(j), scope, v, c, conditioning, chunks);
            if (bf16) {
                // the checkpoint's widening, or the float32 output whose bf16 copy the previous step kept
                v.close();
                c.close();
            }
            v = out.get(0);
            c = out.get(1);
            blockInputs.set(j + 1, keepInput(v, c, bf16));
        }
        if (bf16) {
            v.close();
            c.close();
        }
    }

    /**
     * Whether the stem recorded a graph: an input or a stem parameter requires a gradient, or a stem Linear carries
     * an adapter (whose own parameters may). False for a frozen model with adapters in the blocks only.
     */
    private boolean stemNeedsBackward(TransformerInput in) {
        if (in.hiddenStates().hasGradient() || in.encoderHiddenStates().hasGradient()) {
            return true;
        }
        for (Map.Entry<String, NDArray> e : parameters.entrySet()) {
            if (isStem(e.getKey()) && e.getValue().hasGradient()) {
                return true;
            }
        }
        for (Linear l : linears.values()) {
            if (isStem(l.name()) && !l.adapters().isEmpty()) {
                return true;
            }
        }
        return false;
    }

    /**
     * Whether a parameter or module belongs to the stem (the patch, time and OFS embeddings), the part before the
     * blocks that {@link #forwardBackwardWithRecompute} records once and goes back through last.
     *
     * @param name a Diffusers parameter or module name, e.g. {@code patch_embed.text_proj}
     * @return whether it starts with {@code patch_embed.}, {@code time_embedding.} or {@code ofs_embedding.}
     */
    public static boolean isStem(String name) {
        return name.startsWith("patch_embed.") || name.startsWith("time_embedding.")
                || name.startsWith("ofs_embedding.");
    }

    /** What the blocks need: the conditioning, the two token streams and the RoPE table (or nulls). */
    private record Stem(NDArray emb, NDArray text, NDArray video, NDArray cos, NDArray sin) {}

    /** Steps 1-3 of the forward pass: time/OFS embedding, patch embedding with positions, the RoPE table. */
    private Stem stem(TransformerInput in, Shape shape, NDManager scope, ForwardProbe probe) {
        long f = shape.get(1), h = shape.get(3), w = shape.get(4);
        NDArray x = castToModel(in.hiddenStates());
        NDArray text = castToModel(in.encoderHiddenStates());
        // 1. Time embedding (and OFS for 1.5-I2V)
        NDArray tProj = Timesteps.sinusoid(in.timestep(), config.innerDim(), config.flipSinToCos(),
                config.freqShift());                                                       // [B, D]
        probe.accept("time_proj", tProj);
        NDArray emb = timeEmbedding.forward(castToModel(tProj));                           // [B, T]
        probe.accept("time_embedding", emb);
        if (ofsEmbedding != null) {
            NDArray ofsProj = Timesteps.sinusoid(in.ofs(), config.ofsEmbedDim(), config.flipSinToCos(),
                    config.freqShift());                                                   // [1 or B, T]
            probe.accept("ofs_proj", ofsProj);
            NDArray ofsEmb = ofsEmbedding.forward(castToModel(ofsProj));
            probe.accept("ofs_embedding", ofsEmb);
            emb = emb.add(ofsEmb);                                                         // [B, T]
        }
        probe.accept("emb", emb);
        // 2. Patch embedding: [text; video] tokens, plus the positional table where the release has one
        NDArray tokens = patchEmbed.forward(text, x);                                      // [B, L + N, D]
        NDArray table = positionalTable(scope, f, h, w);
        if (table != null) {
            tokens = tokens.add(table);                                                    // [B, L + N, D]
        }
        probe.accept("patch_embed", tokens);
        NDList split = tokens.split(new long[] {text.getShape().get(1)}, 1);
        // 3. RoPE table for the video tokens
        NDList rope = rotaryTable(in, scope, f, h, w);
        return new Stem(emb, split.get(0), split.get(1),                                   // [B, L, D], [B, N, D]
                rope == null ? null : rope.get(0), rope == null ? null : rope.get(1));      // [N, hd] each
    }

    /** Step 4 for one block, in its own scope; results join {@code scope}. */
    private NDList runBlock(CogVideoXBlock block, NDManager scope, NDArray v, NDArray c, Stem stem,
            ForwardProbe probe) {
        NDList out = Scopes.run(scope, s -> block.forward(v, c, stem.emb(), stem.cos(), stem.sin(), probe), v, c,
                stem.emb());
        probe.accept(block.name() + ".hidden_states", out.get(0));
        probe.accept(block.name() + ".encoder_hidden_states", out.get(1));
        return out;
    }

    /** A block's forward without recording for the recompute: in token chunks when {@code chunks > 1}. */
    private NDList runUnrecorded(CogVideoXBlock block, NDManager scope, NDArray v, NDArray c, Stem stem, int chunks) {
        return chunks == 1 ? runBlock(block, scope, v, c, stem, ForwardProbe.NONE)
                : Scopes.run(scope, s -> block.forwardInTokenChunks(v, c, stem.emb(), stem.cos(), stem.sin(), chunks),
                        v, c, stem.emb());
    }

    /** Steps 5-6: norm_final, norm_out (AdaLN), proj_out on the video tokens, then unpatchify. */
    private NDArray head(NDArray v, NDArray emb, Shape shape, ForwardProbe probe) {
        // 5. Output head on the video tokens
        v = normFinal.forward(v);                                                          // [B, N, D]
        probe.accept("norm_final", v);
        v = normOut.forward(v, emb);                                                       // [B, N, D]
        probe.accept("norm_out", v);
        v = projOut.forward(v);                                                            // [B, N, p*p*pt*C]
        probe.accept("proj_out", v);
        // 6. Unpatchify
        return unpatchify(v, shape.get(0), shape.get(1), shape.get(3), shape.get(4));      // [B, F, C_out, H, W]
    }

    private NDArray unpatchify(NDArray v, long b, long f, long h, long w) {
        long p = config.patchSize();
        long c = config.outChannels();
        if (config.patchSizeT() == null) {
            // 1.0: patch vectors ordered (c, ph, pw)
            return v.reshape(new Shape(b, f, h / p, w / p, c, p, p))
                    .transpose(0, 1, 4, 2, 5, 3, 6)                        // [B, F, C, H', p, W', p]
                    .reshape(b, f, c, h, w);
        }
        // 1.5: patch vectors ordered (c, pt, ph, pw); frame = pt * t' + t
        long pt = config.patchSizeT();
        return v.reshape(new Shape(b, f / pt, h / p, w / p, c, pt, p, p))
                .transpose(0, 1, 5, 4, 2, 6, 3, 7)                         // [B, F', pt, C, H', p, W', p]
                .reshape(b, f, c, h, w);
    }

    private NDArray castToModel(NDArray a) {
        return a.getDataType() == dtype ? a : a.toType(dtype, false);
    }

    /** The additive positional table [1, L + N, D] (text rows zero) or null for rotary-only releases. */
    private NDArray positionalTable(NDManager scope, long f, long h, long w) {
        if (!config.usesPositionalTable()) {
            return null;
        }
        boolean sampleSize = h == config.sampleHeight() && w == config.sampleWidth();
        long pixelFrames = (f - 1) * config.temporalCompressionRatio() + 1;
        if (config.useLearnedPositionalEmbeddings()) {
            if (sampleSize && pixelFrames == config.sampleFrames()) {
                return learnedPositions;
            }
            if (sampleSize && !warnedLearnedFallback) {
                // the reference silently substitutes the sincos table here
                LOG.warn("{}: {} latent frames differ from the learned table's {} ({} pixel frames); using the 3D "
                        + "sincos table instead, as the reference does", config.variant(), f,
                        config.sampleLatentFrames(), config.sampleFrames());
                warnedLearnedFallback = true;
            }
        }
        int gh = (int) (h / config.patchSize());
        int gw = (int) (w / config.patchSize());
        int frames = (int) f;
        float[] video = sincosCache.computeIfAbsent(List.of(frames, gh, gw),
                k -> SinCosPositionalEmbedding3d.compute(config.innerDim(), gh, gw, frames,
                        config.spatialInterpolationScale(), config.temporalInterpolationScale()));
        int d = config.innerDim();
        int textLen = config.maxTextSeqLength();
        float[] joint = new float[(textLen + video.length / d) * d];
        System.arraycopy(video, 0, joint, textLen * d, video.length);
        return EngineArrays.create(scope, joint, new Shape(1, textLen + video.length / d, d)).toType(dtype, false);
    }

    /** The RoPE (cos, sin) tables [N, hd] or null for the 2b release. */
    private NDList rotaryTable(TransformerInput in, NDManager scope, long f, long h, long w) {
        if (!config.useRotaryPositionalEmbeddings()) {
            return null;
        }
        if (in.rotaryCos() != null) {
            return new NDList(in.rotaryCos(), in.rotarySin());
        }
        RopeGrid grid = RopeGrid.forPipeline(config, (int) f, (int) h, (int) w);
        return ropeCache.computeIfAbsent(grid, g -> RotaryPositionalEmbedding3d.compute(g, config.attentionHeadDim()))
                .toNDList(scope);
    }

    private Shape validate(TransformerInput in) {
        String v = config.variant().displayName();
        DTypeGuard.requireSupported(in.hiddenStates(), "hiddenStates");
        DTypeGuard.requireSupported(in.encoderHiddenStates(), "encoderHiddenStates");
        DTypeGuard.requireSupported(in.timestep(), "timestep");
        Shape s = in.hiddenStates().getShape();
        if (s.dimension() != 5) {
            throw new CogVideoXException("hiddenStates must be [B, F, C, H, W], got " + s);
        }
        long b = s.get(0), f = s.get(1), c = s.get(2), h = s.get(3), w = s.get(4);
        requireFloat(in.hiddenStates(), "hiddenStates");
        requireFloat(in.encoderHiddenStates(), "encoderHiddenStates");
        if (c != config.inChannels()) {
            throw new CogVideoXException(v + ": hiddenStates has " + c + " channels, the model expects in_channels = "
                    + config.inChannels() + (config.isImageToVideo() ? " (noisy latents then image latents)" : ""));
        }
        int p = config.patchSize();
        if (h % p != 0 || w % p != 0) {
            throw new CogVideoXException(v + ": latent height and width must be multiples of patch_size " + p
                    + ", got " + h + "x" + w);
        }
        if (config.patchSizeT() != null && f % config.patchSizeT() != 0) {
            throw new CogVideoXException(v + ": " + f + " latent frames is not a multiple of patch_size_t = "
                    + config.patchSizeT() + ". Padding is not the model's job: the training objective prepends a copy "
                    + "of latent frame 0 and the sampler pads at inference (diffusers: 81 frames -> 21 latents -> 22)");
        }
        Shape es = in.encoderHiddenStates().getShape();
        if (es.dimension() != 3 || es.get(0) != b || es.get(2) != config.textEmbedDim()) {
            throw new CogVideoXException(v + ": encoderHiddenStates must be [B=" + b + ", L, text_embed_dim="
                    + config.textEmbedDim() + "], got " + es);
        }
        if (config.usesPositionalTable() && es.get(1) != config.maxTextSeqLength()) {
            throw new CogVideoXException(v + ": the positional table has " + config.maxTextSeqLength()
                    + " text rows (max_text_seq_length), so the text length must be " + config.maxTextSeqLength()
                    + ", got " + es.get(1));
        }
        requireBatchVector(in.timestep(), b, "timestep");
        if (config.ofsEmbedDim() != null) {
            if (in.ofs() == null) {
                throw new CogVideoXException(v + " has an OFS embedding: pass the OFS value with "
                        + "TransformerInput.withOfs (the reference pipeline and trainers pass 2.0)");
            }
            DTypeGuard.requireSupported(in.ofs(), "ofs");
            requireBatchVector(in.ofs(), b, "ofs");
        } else if (in.ofs() != null) {
            throw new CogVideoXException(v + " has no OFS embedding (ofs_embed_dim is null); OFS is for "
                    + "CogVideoX1.5-5B-I2V only");
        }
        if (config.useLearnedPositionalEmbeddings() && !in.sincosAtUntrainedSize()
                && (h != config.sampleHeight() || w != config.sampleWidth())) {
            throw new CogVideoXException(v + ": the learned positional table covers only latent "
                    + config.sampleHeight() + "x" + config.sampleWidth() + " (" + config.sampleHeight() * 8 + "x"
                    + config.sampleWidth() * 8 + " px), got " + h + "x" + w + ", as in the reference. To train at "
                    + "other sizes use TransformerInput.withSincosAtUntrainedSize() (the 3D sincos table; a "
                    + "documented departure from the reference)");
        }
        if (in.rotaryCos() != null) {
            if (!config.useRotaryPositionalEmbeddings()) {
                throw new CogVideoXException(v + " does not use rotary embeddings, but a RoPE table was given");
            }
            DTypeGuard.requireSupported(in.rotaryCos(), "rotaryCos");
            DTypeGuard.requireSupported(in.rotarySin(), "rotarySin");
            long pt = config.patchSizeT() == null ? 1 : config.patchSizeT();
            long n = (f / pt) * (h / p) * (w / p);
            Shape expected = new Shape(n, config.attentionHeadDim());
            if (!in.rotaryCos().getShape().equals(expected) || !in.rotarySin().getShape().equals(expected)) {
                throw new CogVideoXException(v + ": RoPE tables must be [N_video_tokens, head_dim] = " + expected
                        + ", got cos " + in.rotaryCos().getShape() + ", sin " + in.rotarySin().getShape());
            }
        }
        return s;
    }

    private static void requireFloat(NDArray a, String what) {
        if (!a.getDataType().isFloating()) {
            throw new CogVideoXException(what + " must be floating point, got " + a.getDataType());
        }
    }

    private static void requireBatchVector(NDArray a, long batch, String what) {
        Shape s = a.getShape();
        if (s.dimension() != 1 || (s.get(0) != batch && s.get(0) != 1)) {
            throw new CogVideoXException(what + " must be [B=" + batch + "] or [1], got " + s);
        }
    }

    /** Frees the weights and the kernel pack. */
    @Override
    public void close() {
        kernels.close();
        manager.close();
    }
}
