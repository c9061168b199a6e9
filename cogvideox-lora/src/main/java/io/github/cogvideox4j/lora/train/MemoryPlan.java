package io.github.cogvideox4j.lora.train;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.model.BasePrecision;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.model.ComputePrecision;
import io.github.cogvideox4j.core.model.ParameterLayout;
import io.github.cogvideox4j.data.Bucket;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The planned peak resident memory of one training step, by component, from the configuration, the model's shapes
 * and the latent buckets (no tensor is created). The activation terms are a per-token model of what one CogVideoX block
 * keeps, in values of width D ({@code inner_dim}) or F ({@code 4·D}, the feed-forward's inner width), whose
 * coefficients were fitted to measured peaks; docs/training-cost.md ("Memory plan") gives the model, the fit and its
 * residuals.
 *
 * <ul>
 *   <li>{@link Component#WEIGHTS}: every parameter and buffer; Linear weights ({@code [out, in]}) at the run's
 *       {@code base_precision} (4, 2 or 1 byte per element, int8 with one fp32 scale per row), everything else fp32.
 *   <li>{@link Component#TRAINABLE_STATE}: LoRA A and B (fp32) plus, per trainable value, its gradient and the two
 *       AdamW moments (fp32); for a full fine-tune the gradients and moments of every parameter.
 *   <li>{@link Component#BLOCK_CHECKPOINTS}: with gradient checkpointing, the most block inputs held at once
 *       ({@link #heldBlockInputs}: every block's for a segment of 1), bf16 under {@code mixed_precision: bf16}, plus
 *       the upstream gradients and the recompute's input copies; without, every block's saved tensors and weight
 *       copies.
 *   <li>{@link Component#STEM_AND_HEAD}: the patch embedding's and the output head's activations.
 *   <li>{@link Component#BLOCK_WORKING_SET}: with checkpointing, the recomputed block's saved tensors and weight copies
 *       plus the backward's transient gradients; without, nothing beyond the checkpoints line.
 *   <li>{@link Component#ATTENTION}: the fused attention kernel's backward buffers (dq, dk, dv and the row
 *       log-sum-exp) for the largest bucket.
 *   <li>{@link Component#RUNTIME_OVERHEAD}: a fixed allowance for libtorch, the JVM and its heap.
 * </ul>
 *
 * <p>The largest bucket is the one with the most tokens (video tokens after patching plus
 * {@code max_text_seq_length}).
 *
 * <p>Thread safety: immutable.
 */
public final class MemoryPlan {
    /** The components of the plan, in the order {@link #format()} prints them. */
    public enum Component {
        /** Model parameters and buffers at their storage dtype. */
        WEIGHTS("weights"),
        /** LoRA parameters, gradients and AdamW moments (or a full fine-tune's gradients and moments). */
        TRAINABLE_STATE("trainable state + AdamW"),
        /** Hidden states between blocks (checkpointing) or every block's saved activations. */
        BLOCK_CHECKPOINTS("block checkpoints"),
        /** Activations of the patch embedding and the output head. */
        STEM_AND_HEAD("stem + head activations"),
        /** The largest block's recompute and backward. */
        BLOCK_WORKING_SET("largest block working set"),
        /** The fused attention kernel's backward buffers. */
        ATTENTION("attention kernel"),
        /** libtorch, the JVM and its heap. */
        RUNTIME_OVERHEAD("runtime overhead");

        private final String label;

        Component(String label) {
            this.label = label;
        }

        /** @return the name printed by {@link MemoryPlan#format()} */
        public String label() {
            return label;
        }
    }

    /** Bytes of one fp32 value. */
    static final int FP32 = 4;
    /** Bytes of one bf16 value. */
    static final int BF16 = 2;
    /** Fixed allowance for libtorch, the JVM and its heap: 512 MiB. */
    static final long RUNTIME_OVERHEAD_BYTES = 512L << 20;

    // Per token, per block, in values of width D (or F = 4D, or per adapted Linear), fitted to the bench's measured
    // peaks (TrainingStepBench, two token counts per mode); docs/training-cost.md lists the fit and its residuals.
    /** Tensors of width D one block keeps for its backward (norms, q/k/v, RoPE, attention, gates): fitted, fp32. */
    static final int SAVED_D = 13;
    /**
     * With checkpointing, of {@link #SAVED_D}: what the recompute saves only for the conditioning's gradient (the
     * LayerNorm outputs the modulations multiply, the outputs the gates multiply); a run whose stem records nothing
     * (adapters in the blocks only) records no gradient for the conditioning and keeps none of it. Fitted to the
     * real-size step (1.07·D measured) rather than the bench (2-3.8·D), so the plan errs on the safe side there.
     */
    static final int CONDITIONING_SAVED_D = 1;
    /** Tensors of width F one block keeps: GELU's input (fp32, or bf16 in the fused bf16 feed-forward). */
    static final int SAVED_F = 1;
    /** A full fine-tune also keeps the inputs of its trainable feed-forward Linears: one of width D, one of width F. */
    static final int FULL_SAVED_D = 1;
    /** See {@link #FULL_SAVED_D}: the down projection's input, width F. */
    static final int FULL_SAVED_F = 1;
    /**
     * The backward's transient gradients of width F, on top of a recomputed block's saved tensors (2 bytes each under
     * the fused bf16 feed-forward, whose backward runs in bf16, else 4).
     */
    static final int BACKWARD_F = 2;
    /** Checkpointing extras of width D: upstream gradients (current and new) and the recompute's input copies. */
    static final int CHECKPOINT_EXTRA_D = 3;
    /**
     * Activations of the stem and the head, width D, without checkpointing: embeddings, their concat, the head's norm
     * and modulation. With checkpointing the head runs and is freed before the blocks' backward, and the stem's output
     * is the first block checkpoint, so nothing of them is left at the peak but {@link #STEM_KEPT_D}.
     */
    static final int STEM_HEAD_D = 6;
    /**
     * With checkpointing and bf16 checkpoints: the stem's fp32 output, kept for the last backward when the stem
     * recorded a graph (a full fine-tune, or an adapter on a stem Linear); width D.
     */
    static final int STEM_KEPT_D = 1;
    /** The attention kernel's backward: dq, dk, dv, width D each. */
    static final int ATTENTION_D = 3;
    /**
     * With token chunks ({@code gradient_checkpointing_chunks} above 1): what a block's chunked backward holds on the
     * whole sequence, beyond {@link #CHECKPOINT_EXTRA_D} and {@link #ATTENTION_D}, whatever the number of chunks (the
     * keys, the values and their gradients among it); width D, fp32. A fitted constant, not a count: fitted with
     * {@link #CHUNK_EXTRA_D} to four real-size steps (one block, r128, bf16 base and compute, the launcher's 16 MiB
     * mmap threshold for the 8-chunk steps, glibc's dynamic one for the 4-chunk steps of stop 25): 5B at 17,776 tokens
     * with 4 and 8 chunks (3.798 and 3.163 GiB, planned +1.1% and +1.1%) and 1.5-5B at 45,106 tokens with 4 and 8
     * chunks (8.012 and 6.446 GiB, planned +5.7% and +6.2%). Stop 25's single constant (4, on the whole sequence)
     * planned the 1.5-5B 8-chunk step 15% high.
     */
    static final int STAGED_D = 2;
    /**
     * With token chunks: what one chunk's recorded block holds beyond its share (1/c) of an unchunked block's saved
     * tensors and transient gradients; width D, fp32, divided by the number of chunks c. A fitted constant (see
     * {@link #STAGED_D}): in the four steps the part that shrinks with the chunks was 1.3-1.4 times that share.
     */
    static final int CHUNK_EXTRA_D = 7;
    /**
     * The most token chunks a budget suggestion offers. Measured at real size (5B, one block, 8 chunks): the plan is
     * 1.1% above the peak with glibc's mmap threshold fixed at 16 MiB, as the project's launcher sets it; with glibc's
     * dynamic threshold the peak was above the 4-chunk one, because the freed pages of tensors under it (up to 32 MB)
     * stay resident. More chunks make a 5B chunk's tensors smaller than 16 MiB.
     */
    static final int MAX_SUGGESTED_CHUNKS = 8;

    private final Map<Component, Long> bytes;
    private final Bucket largestBucket;
    private final long tokens;
    /** "held of layers" for a checkpointed run (the block inputs held at most), else null. */
    private final String heldInputs;

    private MemoryPlan(Map<Component, Long> bytes, Bucket largestBucket, long tokens, String heldInputs) {
        this.bytes = Collections.unmodifiableMap(new EnumMap<>(bytes));
        this.largestBucket = largestBucket;
        this.tokens = tokens;
        this.heldInputs = heldInputs;
    }

    /**
     * Plans one training step.
     *
     * @param cfg the run's configuration (LoRA or full fine-tune, batch size, checkpointing, precision)
     * @param model the transformer's configuration
     * @param latentBuckets the latent buckets of the data (frames x height x width, latent units), not empty
     * @return the plan
     * @throws IllegalArgumentException if {@code latentBuckets} is empty, or the run has neither a LoRA nor a full
     *     fine-tune
     */
    public static MemoryPlan of(TrainingConfig cfg, CogVideoXConfig model, List<Bucket> latentBuckets) {
        checkNotNull(cfg, "cfg");
        checkNotNull(model, "model");
        checkNotNull(latentBuckets, "latentBuckets");
        checkArgument(!latentBuckets.isEmpty(), "latentBuckets: empty; the plan needs at least one bucket");
        checkArgument(cfg.fullFinetune() || cfg.lora() != null, "the run trains neither a LoRA nor the full model");
        Bucket largest = latentBuckets.stream().max(Comparator.comparingLong(b -> tokens(model, b))).orElseThrow();
        long s = tokens(model, largest);
        long d = model.innerDim();
        long f = 4L * d;
        long batch = cfg.batchSize();
        int layers = model.numLayers();
        boolean lora = !cfg.fullFinetune();
        BasePrecision base = cfg.basePrecision();
        boolean bf16Compute = cfg.mixedPrecision() == ComputePrecision.BF16;

        ParameterLayout layout = ParameterLayout.of(model);
        long weights = 0;
        long parameters = layout.parameterElements();
        long loraParams = 0;
        long loraRankWidth = 0;  // rank x adapted Linears in one block
        long blockLinearElements = 0;  // Linear weight elements of one block
        boolean adaptsFeedForward = false;
        boolean adaptsStem = false;
        Pattern regex = lora && cfg.lora().targetRegex() != null ? Pattern.compile(cfg.lora().targetRegex()) : null;
        for (Map.Entry<String, Shape> e : layout.shapes().entrySet()) {
            Shape shape = e.getValue();
            boolean linearWeight = e.getKey().endsWith(".weight") && shape.dimension() == 2
                    && !layout.buffers().contains(e.getKey());
            weights += linearWeight ? linearWeightBytes(shape, base) : shape.size() * FP32;
            if (linearWeight && e.getKey().startsWith("transformer_blocks.0.")) {
                blockLinearElements += shape.size();
            }
            if (lora && linearWeight) {
                String module = e.getKey().substring(0, e.getKey().length() - ".weight".length());
                if (adapted(module, cfg.lora().targets(), regex)) {
                    int r = cfg.lora().rank();
                    loraParams += (long) r * (shape.get(0) + shape.get(1));
                    adaptsStem |= CogVideoXTransformer.isStem(module);
                    if (module.startsWith("transformer_blocks.0.")) {
                        loraRankWidth += r;
                        adaptsFeedForward |= module.contains(".ff.");
                    }
                }
            }
        }
        // LoRA: A, B + gradients + m + v; full: gradients + m + v (the parameters are in the weights)
        long trainable = lora ? 4L * FP32 * loraParams : 3L * FP32 * parameters;

        long tokenValues = batch * s;                              // values per unit of width
        // BF16 compute keeps the block checkpoints in bf16; the fused bf16 feed-forward (no adapter on ff.net.*)
        // keeps its F-wide tensors (and a full fine-tune's ff inputs) in bf16
        boolean fusedFeedForward = bf16Compute && !adaptsFeedForward;
        long ffBytes = fusedFeedForward ? BF16 : FP32;
        boolean stemRecords = !lora || adaptsStem;
        long savedD = cfg.gradientCheckpointing() && !stemRecords ? SAVED_D - CONDITIONING_SAVED_D : SAVED_D;
        long savedPerBlock = tokenValues * ((savedD * d + loraRankWidth) * FP32 + SAVED_F * f * ffBytes
                + (lora ? 0 : (FULL_SAVED_D * d + FULL_SAVED_F * f) * ffBytes));
        // A Linear whose weight is not already in the GEMM's dtype saves the cast (or dequantised) copy it multiplied
        long weightCopies = blockLinearElements * weightCopyBytes(base, bf16Compute);
        int held = heldBlockInputs(layers, cfg.gradientCheckpointingSegment());
        long checkpoints = cfg.gradientCheckpointing()
                ? tokenValues * d * (held * (bf16Compute ? BF16 : FP32) + CHECKPOINT_EXTRA_D * FP32)
                : layers * (savedPerBlock + weightCopies);
        long chunks = cfg.gradientCheckpointingChunks();
        long perTokenWorking = savedPerBlock + tokenValues * BACKWARD_F * f * ffBytes;
        long working = !cfg.gradientCheckpointing() ? 0
                : chunks == 1 ? perTokenWorking + weightCopies
                : tokenValues * STAGED_D * d * FP32
                        + (tokenValues * CHUNK_EXTRA_D * d * FP32 + perTokenWorking) / chunks + weightCopies;
        long stemHead = !cfg.gradientCheckpointing() ? tokenValues * STEM_HEAD_D * d * FP32
                : bf16Compute && stemRecords ? tokenValues * STEM_KEPT_D * d * FP32 : 0;
        long attention = tokenValues * ATTENTION_D * d * FP32 + batch * model.numAttentionHeads() * s * FP32;

        Map<Component, Long> m = new EnumMap<>(Component.class);
        m.put(Component.WEIGHTS, weights);
        m.put(Component.TRAINABLE_STATE, trainable);
        m.put(Component.BLOCK_CHECKPOINTS, checkpoints);
        m.put(Component.STEM_AND_HEAD, stemHead);
        m.put(Component.BLOCK_WORKING_SET, working);
        m.put(Component.ATTENTION, attention);
        m.put(Component.RUNTIME_OVERHEAD, RUNTIME_OVERHEAD_BYTES);
        String heldInputs = cfg.gradientCheckpointing() ? held + " of " + layers
                + " (gradient_checkpointing_segment: " + cfg.gradientCheckpointingSegment()
                + (chunks > 1 ? ", gradient_checkpointing_chunks: " + chunks : "") + ")" : null;
        return new MemoryPlan(m, largest, s, heldInputs);
    }

    /**
     * The most block inputs a checkpointed step holds at once with one checkpoint per {@code segment} blocks: during
     * the backward of segment j (blocks {@code [jk, jk + len_j)}), the checkpoints of segments 0..j plus the
     * {@code len_j - 1} inputs recomputed inside segment j, that is {@code j + len_j}; the maximum is at the last
     * segment or the one before it. {@code n} for a segment of 1, about {@code 2 sqrt(n)} at best.
     *
     * @param layers the number of blocks, at least 1
     * @param segment blocks per checkpoint, at least 1 (one longer than the model counts as the model's length)
     * @return the number of {@code [B, N + L, D]} block inputs held at the peak
     * @throws IllegalArgumentException if either is below 1
     */
    public static int heldBlockInputs(int layers, int segment) {
        checkArgument(layers >= 1 && segment >= 1, "layers and segment must be >= 1, got %s and %s", layers, segment);
        int k = Math.min(segment, layers);
        int segments = (layers + k - 1) / k;
        int lastLength = layers - (segments - 1) * k;
        return segments - 1 + Math.max(lastLength, k - 1);
    }

    /**
     * The segment that holds the fewest block inputs ({@link #heldBlockInputs}); of equals, the shortest, which
     * recomputes the fewest blocks.
     *
     * @param layers the number of blocks, at least 1
     * @return blocks per checkpoint
     */
    public static int fewestInputsSegment(int layers) {
        int best = 1;
        for (int k = 2; k <= layers; k++) {
            if (heldBlockInputs(layers, k) < heldBlockInputs(layers, best)) {
                best = k;
            }
        }
        return best;
    }

    /**
     * Bytes per weight element that autograd keeps for a recorded Linear whose stored weight is not the GEMM's
     * operand: the bf16 cast of a FLOAT32 weight (BF16 compute), the FLOAT32 widening of a bf16 weight (FP32
     * compute), the dequantised int8 weight (either).
     */
    private static long weightCopyBytes(BasePrecision base, boolean bf16Compute) {
        return switch (base) {
            case FP32 -> bf16Compute ? BF16 : 0;
            case BF16 -> bf16Compute ? 0 : FP32;
            case INT8 -> bf16Compute ? BF16 : FP32;
        };
    }

    /** Bytes of one Linear weight {@code [out, in]} held as {@code base}: int8 codes carry one fp32 scale per row. */
    private static long linearWeightBytes(Shape shape, BasePrecision base) {
        return switch (base) {
            case FP32 -> shape.size() * FP32;
            case BF16 -> shape.size() * BF16;
            case INT8 -> shape.size() + shape.get(0) * FP32;
        };
    }

    /**
     * Tokens one sample of a latent bucket puts through a block: video tokens after patching plus the text.
     *
     * @param model the transformer's configuration
     * @param latentBucket frames x height x width in latent units
     * @return {@code ceil(frames / patch_size_t) * (height / patch_size) * (width / patch_size) + max_text_seq_length}
     */
    public static long tokens(CogVideoXConfig model, Bucket latentBucket) {
        int pt = model.patchSizeT() == null ? 1 : model.patchSizeT();
        long frames = (latentBucket.frames() + pt - 1) / pt;
        return frames * (latentBucket.height() / model.patchSize()) * (latentBucket.width() / model.patchSize())
                + model.maxTextSeqLength();
    }

    private static boolean adapted(String module, List<String> targets, Pattern regex) {
        if (regex != null) {
            return regex.matcher(module).matches();
        }
        for (String t : targets) {
            if (module.equals(t) || module.endsWith("." + t)) {
                return true;
            }
        }
        return false;
    }

    /**
     * @param component a component
     * @return its planned bytes
     */
    public long bytes(Component component) {
        return bytes.get(component);
    }

    /** @return every component's planned bytes, in {@link Component} order (unmodifiable) */
    public Map<Component, Long> components() {
        return bytes;
    }

    /** @return the planned peak: the sum of the components, in bytes */
    public long peakBytes() {
        return bytes.values().stream().mapToLong(Long::longValue).sum();
    }

    /** @return the planned activations of the step (everything but weights, trainable state and overhead) */
    public long activationBytes() {
        return bytes(Component.BLOCK_CHECKPOINTS) + bytes(Component.STEM_AND_HEAD)
                + bytes(Component.BLOCK_WORKING_SET) + bytes(Component.ATTENTION);
    }

    /** @return the latent bucket with the most tokens, the one the activations are planned for */
    public Bucket largestBucket() {
        return largestBucket;
    }

    /** @return tokens per sample of {@link #largestBucket()} */
    public long tokens() {
        return tokens;
    }

    /**
     * @return one line per component and the peak, in GiB and MiB, and for a checkpointed run how many block inputs
     *     are held at most
     */
    public String format() {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT,
                "memory plan (largest latent bucket %s, %,d tokens per sample):%n", largestBucket, tokens));
        for (Map.Entry<Component, Long> e : bytes.entrySet()) {
            sb.append(String.format(Locale.ROOT, "  %-27s %9.3f GiB (%,.0f MiB)%n", e.getKey().label(),
                    gib(e.getValue()), e.getValue() / (double) (1 << 20)));
        }
        sb.append(String.format(Locale.ROOT, "  %-27s %9.3f GiB%n", "planned peak", gib(peakBytes())));
        if (heldInputs != null) {
            sb.append("  block inputs held at most: ").append(heldInputs).append(String.format(Locale.ROOT, "%n"));
        }
        return sb.toString();
    }

    /**
     * A change of the configuration (or data) that makes the plan fit a budget.
     *
     * @param change what to change, in config-key form (e.g. {@code gradient_checkpointing: true})
     * @param plan the plan with the change applied
     */
    public record Suggestion(String change, MemoryPlan plan) {}

    /**
     * Plans the run with each single switch applied (checkpointing on; when checkpointing alone does not fit, the
     * shortest checkpointing segment and the fewest token chunks (a power of two up to
     * {@value #MAX_SUGGESTED_CHUNKS}) that fit; bf16, an int8 base for a LoRA, the largest LoRA
     * rank below the current one that fits, batch size 1, dropping the largest buckets, all switches together) and
     * keeps those that fit.
     *
     * @param cfg the run's configuration
     * @param model the transformer's configuration
     * @param latentBuckets the data's latent buckets
     * @param budgetBytes the budget
     * @return the switches whose plan peaks at or below the budget, each with its plan
     */
    public static List<Suggestion> suggestions(TrainingConfig cfg, CogVideoXConfig model, List<Bucket> latentBuckets,
            long budgetBytes) {
        List<Suggestion> fits = new ArrayList<>();
        TrainingConfig all = cfg;
        if (!cfg.gradientCheckpointing()) {
            TrainingConfig c = cfg.toBuilder().gradientCheckpointing(true).build();
            add(fits, "gradient_checkpointing: true", of(c, model, latentBuckets), budgetBytes);
            all = all.toBuilder().gradientCheckpointing(true).build();
        }
        boolean checkpointingFits = !fits.isEmpty();
        String checkpointingOn = cfg.gradientCheckpointing() ? "" : "gradient_checkpointing: true, ";
        int fewest = fewestInputsSegment(model.numLayers());
        if (!checkpointingFits && cfg.gradientCheckpointingSegment() < fewest) {
            // the shortest segment that fits: each block more per segment costs recompute
            for (int k = cfg.gradientCheckpointingSegment() + 1; k <= fewest; k++) {
                TrainingConfig c = cfg.toBuilder().gradientCheckpointing(true).gradientCheckpointingSegment(k).build();
                MemoryPlan p = of(c, model, latentBuckets);
                if (p.peakBytes() <= budgetBytes) {
                    fits.add(new Suggestion(checkpointingOn + "gradient_checkpointing_segment: " + k, p));
                    break;
                }
            }
            all = all.toBuilder().gradientCheckpointing(true).gradientCheckpointingSegment(fewest).build();
        }
        if (!checkpointingFits && cfg.gradientCheckpointingChunks() < MAX_SUGGESTED_CHUNKS) {
            // the fewest token chunks that fit: each chunk more makes the per-token GEMMs smaller
            for (int c = Math.max(2, 2 * cfg.gradientCheckpointingChunks()); c <= MAX_SUGGESTED_CHUNKS; c *= 2) {
                TrainingConfig t = cfg.toBuilder().gradientCheckpointing(true).gradientCheckpointingChunks(c).build();
                MemoryPlan p = of(t, model, latentBuckets);
                if (p.peakBytes() <= budgetBytes) {
                    fits.add(new Suggestion(checkpointingOn + "gradient_checkpointing_chunks: " + c, p));
                    break;
                }
            }
            all = all.toBuilder().gradientCheckpointing(true).gradientCheckpointingChunks(MAX_SUGGESTED_CHUNKS)
                    .build();
        }
        if (cfg.mixedPrecision() != ComputePrecision.BF16 && !cfg.fullFinetune()) {
            TrainingConfig c = cfg.toBuilder().mixedPrecision(ComputePrecision.BF16).build();
            add(fits, "mixed_precision: bf16", of(c, model, latentBuckets), budgetBytes);
            all = all.toBuilder().mixedPrecision(ComputePrecision.BF16).build();
        }
        if (!cfg.fullFinetune() && cfg.basePrecision() != BasePrecision.INT8) {
            TrainingConfig c = cfg.toBuilder().basePrecision(BasePrecision.INT8).build();
            add(fits, "base_precision: int8", of(c, model, latentBuckets), budgetBytes);
        }
        if (!cfg.fullFinetune()) {
            for (int r = cfg.lora().rank() / 2; r >= 1; r /= 2) {
                TrainingConfig c = withRank(cfg, r);
                MemoryPlan p = of(c, model, latentBuckets);
                if (p.peakBytes() <= budgetBytes) {
                    fits.add(new Suggestion("lora.rank: " + r, p));
                    break;
                }
            }
        }
        if (cfg.batchSize() > 1) {
            TrainingConfig c = cfg.toBuilder().batchSize(1).build();
            add(fits, "batch_size: 1", of(c, model, latentBuckets), budgetBytes);
            all = all.toBuilder().batchSize(1).build();
        }
        List<Bucket> sorted = new ArrayList<>(latentBuckets);
        sorted.sort(Comparator.comparingLong((Bucket b) -> tokens(model, b)).reversed());
        for (int drop = 1; drop < sorted.size(); drop++) {
            List<Bucket> kept = sorted.subList(drop, sorted.size());
            MemoryPlan p = of(cfg, model, kept);
            if (p.peakBytes() <= budgetBytes) {
                fits.add(new Suggestion("only buckets of at most " + p.tokens() + " tokens (drop latent "
                        + sorted.subList(0, drop) + ")", p));
                break;
            }
        }
        if (all != cfg && fits.isEmpty()) {
            add(fits, "all of: gradient_checkpointing: true, gradient_checkpointing_segment: "
                    + all.gradientCheckpointingSegment() + ", gradient_checkpointing_chunks: "
                    + all.gradientCheckpointingChunks() + ", mixed_precision: bf16 (LoRA), batch_size: 1",
                    of(all, model, latentBuckets), budgetBytes);
        }
        return fits;
    }

    private static TrainingConfig withRank(TrainingConfig cfg, int rank) {
        TrainingConfig.LoraSettings l = cfg.lora();
        return cfg.toBuilder().lora(new TrainingConfig.LoraSettings(rank, l.alpha(), l.targets(), l.targetRegex(),
                l.dropout(), l.initSeed())).build();
    }

    private static void add(List<Suggestion> fits, String change, MemoryPlan plan, long budget) {
        if (plan.peakBytes() <= budget) {
            fits.add(new Suggestion(change, plan));
        }
    }

    /**
     * Refuses a run whose plan exceeds {@code memory_budget_gb}; does nothing without a budget.
     *
     * @param cfg the run's configuration
     * @param model the transformer's configuration
     * @param latentBuckets the data's latent buckets
     * @return the plan
     * @throws MemoryBudgetException if the planned peak exceeds the budget (message: the breakdown and the
     *     switches that would fit)
     */
    public static MemoryPlan requireWithinBudget(TrainingConfig cfg, CogVideoXConfig model,
            List<Bucket> latentBuckets) {
        MemoryPlan plan = of(cfg, model, latentBuckets);
        if (cfg.memoryBudgetGb() == null) {
            return plan;
        }
        long budget = (long) (cfg.memoryBudgetGb() * (1L << 30));
        if (plan.peakBytes() <= budget) {
            return plan;
        }
        List<Suggestion> fits = suggestions(cfg, model, latentBuckets, budget);
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT,
                "memory_budget_gb: the planned peak %.3f GiB exceeds the budget of %s GiB%n", gib(plan.peakBytes()),
                cfg.memoryBudgetGb()));
        sb.append(plan.format());
        if (fits.isEmpty()) {
            sb.append("no single switch (gradient_checkpointing, gradient_checkpointing_segment, "
                    + "gradient_checkpointing_chunks, mixed_precision, base_precision, lora.rank, batch_size, buckets) "
                    + "makes it fit");
        } else {
            sb.append("switches that fit the budget:");
            for (Suggestion s : fits) {
                sb.append(String.format(Locale.ROOT, "%n  %s -> planned peak %.3f GiB", s.change(),
                        gib(s.plan().peakBytes())));
            }
        }
        throw new MemoryBudgetException(sb.toString(), plan, fits);
    }

    private static double gib(long bytes) {
        return bytes / (double) (1L << 30);
    }
}
