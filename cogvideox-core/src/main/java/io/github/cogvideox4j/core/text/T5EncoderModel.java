package io.github.cogvideox4j.core.text;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.common.base.Preconditions;
import io.github.cogvideox4j.core.CogVideoXException;
import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.core.Scopes;
import io.github.cogvideox4j.core.io.SafetensorsFiles;
import io.github.cogvideox4j.core.io.TensorSource;
import io.github.cogvideox4j.core.kernel.KernelPack;
import io.github.cogvideox4j.core.model.ComputePrecision;
import io.github.cogvideox4j.core.model.WeightLoadException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The T5 v1.1 encoder stack ({@code transformers.T5EncoderModel}) that turns CogVideoX prompt tokens into
 * {@code prompt_embeds}.
 *
 * <p>Per block: {@code x += o(attn(RMS(x)))}, {@code x += wo(gelu_new(wi_0 h) * wi_1 h)} with {@code h = RMS(x)};
 * then a final RMS norm. Attention scores are {@code q kᵀ + position_bias (+ mask)} with <b>no</b>
 * {@code 1/√d} scaling; the position bias comes from block 0's relative bucket table and is reused by every block.
 * No biases, no embedding scaling, dropout off.
 *
 * <p><b>Storage.</b> {@link DataType#FLOAT32}, or {@link DataType#BFLOAT16}: every projection weight is cast to
 * bf16 inside the TorchScript {@link KernelPack} (reported as UNKNOWN, never handed to a DJL op that could abort) and
 * the GEMMs widen it inside the pack; the embedding table is held as bf16 bits on the Java heap and widened per looked
 * up row; norms and the bucket table stay float32. XXL: 9.5 GB instead of 19 GB. <b>Compute</b>
 * ({@link #setComputePrecision}): every GEMM in float32 (default) or in bf16 through the pack (float32 results);
 * norms, softmax and residuals are always float32.
 *
 * <p>Inference only (no gradients are defined for bf16 storage). Thread safety: a forward only reads the weights, but
 * DJL managers are confined to one thread; do not change the precision during a forward. Close the model to free its
 * weights.
 */
public final class T5EncoderModel implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(T5EncoderModel.class);
    private static final String TIED = "encoder.embed_tokens.weight";
    private static final String SHARED = "shared.weight";
    private static final String BIAS_TABLE = "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight";

    private final T5Config config;
    private final NDManager own;
    private final KernelPack pack;
    private final Map<String, NDArray> weights;
    private final boolean bf16Storage;
    private final NDArray embedding; // FLOAT32 storage
    private final short[] embeddingBf16; // BFLOAT16 storage
    private final float[] biasTable;
    private volatile ComputePrecision precision = ComputePrecision.FP32;

    private T5EncoderModel(T5Config config, NDManager own, KernelPack pack, Map<String, NDArray> weights,
            boolean bf16Storage, NDArray embedding, short[] embeddingBf16, float[] biasTable) {
        this.config = config;
        this.own = own;
        this.pack = pack;
        this.weights = weights;
        this.bf16Storage = bf16Storage;
        this.embedding = embedding;
        this.embeddingBf16 = embeddingBf16;
        this.biasTable = biasTable;
    }

    /**
     * Loads a transformers {@code text_encoder/} folder: {@code config.json} and {@code model.safetensors} or the
     * sharded {@code model.safetensors.index.json}. Every floating-point dtype in the files is accepted.
     *
     * @param dir the folder
     * @param manager the parent of the model's own manager
     * @param storage {@link DataType#FLOAT32} or {@link DataType#BFLOAT16} (see the class comment)
     * @return the model; the caller closes it
     * @throws IOException if reading fails
     * @throws WeightLoadException listing missing, unexpected and mis-shaped tensors
     * @throws IllegalArgumentException if {@code storage} is another type
     */
    public static T5EncoderModel load(Path dir, NDManager manager, DataType storage) throws IOException {
        T5Config config = T5Config.read(dir.resolve("config.json"));
        try (TensorSource source = SafetensorsFiles.openModelWeights(dir, "model")) {
            return load(config, source, manager, storage, dir.toString());
        }
    }

    /**
     * Loads the encoder from any tensor source.
     *
     * @param config the config
     * @param source the weights as transformers names them ({@code encoder.embed_tokens.weight} may stand in for,
     *     or duplicate, {@code shared.weight})
     * @param manager the parent of the model's own manager
     * @param storage {@link DataType#FLOAT32} or {@link DataType#BFLOAT16}
     * @param what the source's name for messages
     * @return the model; the caller closes it
     * @throws WeightLoadException listing missing, unexpected and mis-shaped tensors
     */
    public static T5EncoderModel load(T5Config config, TensorSource source, NDManager manager, DataType storage,
            String what) {
        Preconditions.checkArgument(storage == DataType.FLOAT32 || storage == DataType.BFLOAT16,
                "T5 weights can be held as FLOAT32 or BFLOAT16, not %s", storage);
        Map<String, Shape> layout = config.parameterShapes();
        String embedName = source.contains(SHARED) ? SHARED : TIED;
        List<String> missing = new ArrayList<>();
        List<String> mismatched = new ArrayList<>();
        for (Map.Entry<String, Shape> e : layout.entrySet()) {
            String name = e.getKey().equals(SHARED) ? embedName : e.getKey();
            if (!source.contains(name)) {
                missing.add(e.getKey());
            } else if (!source.info(name).djlShape().equals(e.getValue())) {
                mismatched.add(name + ": expected " + e.getValue() + ", got " + source.info(name).djlShape());
            }
        }
        List<String> unexpected = new ArrayList<>();
        for (String name : source.names()) {
            if (!layout.containsKey(name) && !name.equals(TIED)) {
                unexpected.add(name);
            }
        }
        if (!missing.isEmpty() || !unexpected.isEmpty() || !mismatched.isEmpty()) {
            throw new WeightLoadException(what + " (T5 encoder)", missing, unexpected, mismatched);
        }
        boolean bf16 = storage == DataType.BFLOAT16;
        NDManager own = manager.newSubManager();
        KernelPack pack = KernelPack.load();
        try {
            Map<String, NDArray> w = new HashMap<>();
            NDArray embedding = null;
            short[] embeddingBf16 = null;
            if (bf16) {
                float[] table = source.readFloats(embedName);
                embeddingBf16 = new short[table.length];
                for (int i = 0; i < table.length; i++) {
                    embeddingBf16[i] = toBf16Bits(table[i]);
                }
            } else {
                embedding = source.read(embedName, own);
            }
            for (String name : layout.keySet()) {
                if (name.equals(SHARED) || name.equals(BIAS_TABLE)) {
                    continue;
                }
                // bf16 storage of the projections: a view of a mapped BF16 file, else read and cast by the pack
                NDArray a = bf16 && layout.get(name).dimension() == 2 ? source.readBf16(name, own, pack)
                        : source.read(name, own);
                w.put(name, a);
            }
            float[] biasTable = source.readFloats(BIAS_TABLE);
            LOG.debug("loaded T5 encoder ({} layers, d_model {}, {} storage) from {}", config.numLayers(),
                    config.dModel(), storage, what);
            return new T5EncoderModel(config, own, pack, w, bf16, embedding, embeddingBf16, biasTable);
        } catch (RuntimeException e) {
            pack.close();
            own.close();
            throw e;
        }
    }

    /**
     * A model with random weights of the config's shapes, those of {@link #randomWeights}. For benchmarks and shape
     * tests; deterministic for a seed.
     *
     * @param config the config
     * @param manager the parent of the model's own manager
     * @param seed the random seed
     * @param storage {@link DataType#FLOAT32} or {@link DataType#BFLOAT16}
     * @return the model; the caller closes it
     */
    public static T5EncoderModel random(T5Config config, NDManager manager, long seed, DataType storage) {
        Preconditions.checkArgument(storage == DataType.FLOAT32 || storage == DataType.BFLOAT16,
                "T5 weights can be held as FLOAT32 or BFLOAT16, not %s", storage);
        boolean bf16 = storage == DataType.BFLOAT16;
        Map<String, float[]> drawn = randomWeights(config, seed);
        NDManager own = manager.newSubManager();
        KernelPack pack = KernelPack.load();
        try {
            Map<String, NDArray> w = new HashMap<>();
            NDArray embedding = null;
            short[] embeddingBf16 = null;
            float[] biasTable = null;
            for (Map.Entry<String, Shape> e : config.parameterShapes().entrySet()) {
                String name = e.getKey();
                Shape shape = e.getValue();
                float[] values = drawn.get(name);
                boolean norm = shape.dimension() == 1;
                if (name.equals(BIAS_TABLE)) {
                    biasTable = values;
                } else if (name.equals(SHARED) && bf16) {
                    embeddingBf16 = new short[values.length];
                    for (int i = 0; i < values.length; i++) {
                        embeddingBf16[i] = toBf16Bits(values[i]);
                    }
                } else {
                    NDArray a = EngineArrays.create(own, values, shape);
                    if (bf16 && !norm && !name.equals(SHARED)) {
                        try (NDArray wide = a) {
                            a = pack.toBf16(wide);
                        }
                    }
                    if (name.equals(SHARED)) {
                        embedding = a;
                    } else {
                        w.put(name, a);
                    }
                }
            }
            return new T5EncoderModel(config, own, pack, w, bf16, embedding, embeddingBf16, biasTable);
        } catch (RuntimeException e) {
            pack.close();
            own.close();
            throw e;
        }
    }

    /**
     * Random weights of the config's shapes, drawn as transformers' {@code T5PreTrainedModel._init_weights} does
     * (normal with std {@code (d_model·d_kv)^-½} for q, {@code d_model^-½} for k, v, wi_0, wi_1 and the bucket table,
     * {@code (heads·d_kv)^-½} for o, {@code d_ff^-½} for wo, 1 for the embedding; unit norms), so that the attention
     * logits have unit scale as in a trained model. Deterministic for a seed; allocates nothing native.
     *
     * @param config the config
     * @param seed the random seed
     * @return name → row-major values, in {@link T5Config#parameterShapes()} order (unmodifiable map; the arrays are
     *     the caller's)
     */
    public static Map<String, float[]> randomWeights(T5Config config, long seed) {
        java.util.SplittableRandom random = new java.util.SplittableRandom(seed);
        Map<String, float[]> out = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, Shape> e : config.parameterShapes().entrySet()) {
            String name = e.getKey();
            Shape shape = e.getValue();
            float[] values = new float[Math.toIntExact(shape.size())];
            boolean norm = shape.dimension() == 1;
            double std = initStd(config, name);
            for (int i = 0; i < values.length; i++) {
                values[i] = norm ? 1f : (float) (std * random.nextGaussian());
            }
            out.put(name, values);
        }
        return java.util.Collections.unmodifiableMap(out);
    }

    private static double initStd(T5Config c, String name) {
        if (name.equals(SHARED)) {
            return 1.0;
        } else if (name.endsWith(".q.weight")) {
            return 1 / Math.sqrt((double) c.dModel() * c.dKv());
        } else if (name.endsWith(".o.weight")) {
            return 1 / Math.sqrt(c.innerDim());
        } else if (name.endsWith(".wo.weight")) {
            return 1 / Math.sqrt(c.dFf());
        }
        return 1 / Math.sqrt(c.dModel()); // k, v, wi_0, wi_1, relative_attention_bias
    }

    /** float32 → bfloat16 bits, round to nearest even (as {@code tensor.to(torch.bfloat16)}); NaN stays NaN. */
    static short toBf16Bits(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) {
            return (short) ((bits >>> 16) | 0x40);
        }
        int rounding = 0x7FFF + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    /** @return the config */
    public T5Config config() {
        return config;
    }

    /** @return whether the weights are held in bf16 storage */
    public boolean hasBf16Storage() {
        return bf16Storage;
    }

    /** @return the GEMM precision */
    public ComputePrecision computePrecision() {
        return precision;
    }

    /**
     * @param precision FP32 (default) or BF16 GEMMs (bf16 operands inside the kernel pack, float32 results)
     */
    public void setComputePrecision(ComputePrecision precision) {
        this.precision = Preconditions.checkNotNull(precision, "precision");
    }

    /**
     * {@code text_encoder(input_ids)[0]} without an attention mask, as the CogVideoX pipelines call it.
     *
     * @param inputIds {@code [B, S]} INT64 (or INT32) token ids in {@code [0, vocab)}
     * @return {@code last_hidden_state} {@code [B, S, d_model]} FLOAT32, owned by {@code inputIds}' manager
     */
    public NDArray forward(NDArray inputIds) {
        return forward(inputIds, null);
    }

    /**
     * @param inputIds {@code [B, S]} token ids
     * @param attentionMask {@code [B, S]} 1 = attend, 0 = masked (added as {@code finfo(float32).min} to the scores of
     *     masked keys), or {@code null} for none
     * @return {@code last_hidden_state} {@code [B, S, d_model]} FLOAT32, owned by {@code inputIds}' manager
     */
    public NDArray forward(NDArray inputIds, NDArray attentionMask) {
        NDList all = run(inputIds, attentionMask, false);
        return all.singletonOrThrow();
    }

    /**
     * All hidden states as transformers' {@code output_hidden_states=True} gives them.
     *
     * @param inputIds {@code [B, S]} token ids
     * @param attentionMask {@code [B, S]} or {@code null}
     * @return {@code numLayers + 1} arrays {@code [B, S, d_model]}: the embedding lookup, the output of blocks
     *     {@code 0..L-2}, and the final-normed output of the last block (= {@code last_hidden_state}); owned by
     *     {@code inputIds}' manager
     */
    public NDList forwardWithHiddenStates(NDArray inputIds, NDArray attentionMask) {
        return run(inputIds, attentionMask, true);
    }

    private NDList run(NDArray inputIds, NDArray attentionMask, boolean keepAll) {
        Preconditions.checkArgument(inputIds.getShape().dimension() == 2, "input_ids must be [B, S], got %s",
                inputIds.getShape());
        int batch = Math.toIntExact(inputIds.getShape().get(0));
        int length = Math.toIntExact(inputIds.getShape().get(1));
        long[] ids = longs(inputIds);
        for (long id : ids) {
            if (id < 0 || id >= config.vocabSize()) {
                throw new CogVideoXException("input_ids: token id " + id + " outside [0, " + config.vocabSize() + ")");
            }
        }
        float[] maskAdd = null;
        if (attentionMask != null) {
            Preconditions.checkArgument(attentionMask.getShape().equals(inputIds.getShape()),
                    "attention_mask %s must match input_ids %s", attentionMask.getShape(), inputIds.getShape());
            long[] m = longs(attentionMask);
            maskAdd = new float[m.length];
            for (int i = 0; i < m.length; i++) {
                maskAdd[i] = (1 - m[i]) * -Float.MAX_VALUE;
            }
        }
        float[] mask = maskAdd;
        return Scopes.run(inputIds.getManager(), scope -> {
            NDList out = new NDList();
            NDArray x = embed(scope, ids, batch, length);
            if (keepAll) {
                out.add(x);
            }
            NDArray bias = EngineArrays.create(scope, T5RelativePosition.bias(biasTable, config.numHeads(), length,
                    config.relativeAttentionNumBuckets(), config.relativeAttentionMaxDistance()),
                    new Shape(1, config.numHeads(), length, length));
            if (mask != null) {
                try (NDArray m = EngineArrays.create(scope, mask, new Shape(batch, 1, 1, length));
                        NDArray b = bias) {
                    bias = b.add(m);
                }
            }
            NDArray eps = EngineArrays.scalar(scope, config.layerNormEpsilon(), DataType.FLOAT32);
            NDArray positionBias = bias;
            for (int i = 0; i < config.numLayers(); i++) {
                int layer = i;
                NDArray in = x;
                NDArray next = Scopes.single(scope, s -> block(layer, in, positionBias, eps), in);
                if (!keepAll) {
                    in.close();
                }
                x = next;
                if (keepAll && i < config.numLayers() - 1) {
                    out.add(x);
                }
            }
            NDArray last = x;
            NDArray result = Scopes.single(scope, s -> rms(last, "encoder.final_layer_norm.weight", eps), last);
            out.add(result);
            return out;
        });
    }

    private static long[] longs(NDArray a) {
        if (a.getDataType() == DataType.INT64) {
            return a.toLongArray();
        }
        try (NDArray wide = a.toType(DataType.INT64, true)) {
            return wide.toLongArray();
        }
    }

    private NDArray embed(NDManager scope, long[] ids, int batch, int length) {
        int d = config.dModel();
        if (embeddingBf16 != null) {
            float[] rows = new float[Math.multiplyExact(ids.length, d)];
            for (int t = 0; t < ids.length; t++) {
                int base = Math.toIntExact(ids[t] * d);
                for (int c = 0; c < d; c++) {
                    rows[t * d + c] = Float.intBitsToFloat(embeddingBf16[base + c] << 16);
                }
            }
            return EngineArrays.create(scope, rows, new Shape(batch, length, d));
        }
        try (NDArray idx = EngineArrays.create(scope, ids, new Shape(ids.length))) {
            NDArray rows = embedding.get(new NDIndex("{}", idx));
            rows.attach(scope);
            try (rows) {
                return rows.reshape(batch, length, d);
            }
        }
    }

    private NDArray block(int i, NDArray x, NDArray positionBias, NDArray eps) {
        String p = "encoder.block." + i + ".layer.";
        long batch = x.getShape().get(0);
        long length = x.getShape().get(1);
        int heads = config.numHeads();
        int dkv = config.dKv();
        NDArray h = rms(x, p + "0.layer_norm.weight", eps);
        String a = p + "0.SelfAttention.";
        NDArray q = linear(h, a + "q.weight").reshape(batch, length, heads, dkv).transpose(0, 2, 1, 3);
        NDArray k = linear(h, a + "k.weight").reshape(batch, length, heads, dkv).transpose(0, 2, 3, 1);
        NDArray v = linear(h, a + "v.weight").reshape(batch, length, heads, dkv).transpose(0, 2, 1, 3);
        NDArray scores = q.matMul(k).add(positionBias); // no 1/sqrt(d) scaling in T5
        NDArray attn = scores.softmax(-1).matMul(v).transpose(0, 2, 1, 3).reshape(batch, length, heads * dkv);
        NDArray x1 = x.add(linear(attn, a + "o.weight"));
        NDArray h2 = rms(x1, p + "1.layer_norm.weight", eps);
        String f = p + "1.DenseReluDense.";
        NDArray gate = pack.geluTanh(linear(h2, f + "wi_0.weight"));
        NDArray ff = linear(gate.mul(linear(h2, f + "wi_1.weight")), f + "wo.weight");
        return x1.add(ff);
    }

    /** T5LayerNorm: {@code x / sqrt(mean(x²) + eps) * w}, no mean subtraction, no bias. */
    private NDArray rms(NDArray x, String weightName, NDArray eps) {
        NDArray variance = x.square().mean(new int[] {-1}, true);
        return x.div(variance.add(eps).sqrt()).mul(weights.get(weightName));
    }

    private NDArray linear(NDArray x, String name) {
        NDArray w = weights.get(name);
        if (precision == ComputePrecision.BF16) {
            return pack.linearBf16(x, w, null);
        }
        if (bf16Storage) {
            return pack.linearWiden(x, w, null);
        }
        return ai.djl.nn.core.Linear.linear(x, w, null).singletonOrThrow();
    }

    /** @return the bytes the weights occupy (bf16-stored projections and embedding at 2 bytes) */
    public long weightBytes() {
        long total = biasTable.length * 4L;
        total += embeddingBf16 != null ? embeddingBf16.length * 2L : embedding.size() * 4L;
        for (Map.Entry<String, NDArray> e : weights.entrySet()) {
            Shape s = e.getValue().getShape();
            total += s.size() * (bf16Storage && s.dimension() == 2 ? 2L : 4L);
        }
        return total;
    }

    /** @return the names of the loaded tensors (the tied embedding under {@code shared.weight}) */
    public Set<String> parameterNames() {
        return config.parameterShapes().keySet();
    }

    /** Frees the weights and the kernel pack. Idempotent. */
    @Override
    public void close() {
        pack.close();
        own.close();
    }
}
