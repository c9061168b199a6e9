package io.github.cogvideox4j.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import com.google.common.base.Preconditions;
import io.github.cogvideox4j.core.kernel.DTypeGuard;
import io.github.cogvideox4j.core.kernel.UnsupportedDTypeException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * {@code torch.nn.Linear}: {@code y = x W^T + b} over the last axis, plus the terms of any attached
 * {@link LinearAdapter}s (how LoRA hooks in).
 *
 * <p>Shapes: weight {@code [out, in]}, bias {@code [out]} or absent; input {@code [..., in]} → output
 * {@code [..., out]}. The output belongs to the input's {@code NDManager}. The weights belong to the model.
 *
 * <p><b>Precision.</b> The GEMM runs in the model's {@link ComputePrecision} (see
 * {@link CogVideoXTransformer#setComputePrecision}); adapters always run on the float32 input.
 *
 * <p><b>bf16 storage.</b> In a model loaded with {@code DataType.BFLOAT16} the weight is a bfloat16 tensor made inside
 * the TorchScript kernel pack, which DJL reports as {@code UNKNOWN} and on which most DJL calls abort the JVM. Such a
 * weight never leaves this class: {@link #weight()} refuses it, and {@link #weightShape()}, {@link #weightAsFloat32}
 * and {@link #addToWeight} are the safe accessors (they work for every storage). The bias stays float32.
 *
 * <p><b>int8 storage.</b> After {@link CogVideoXTransformer#quantizeBaseWeightsToInt8()} the weight is held as
 * {@code [out, in]} INT8 codes {@code q} with {@code [out, 1]} FLOAT32 per-output-channel scales {@code s}
 * ({@code w ≈ q s}); the GEMM dequantises inside the kernel pack per call. {@link #weight()} refuses it as well;
 * the same safe accessors work.
 *
 * <p>Thread safety: the weights are shared, mutable native arrays (merging a LoRA writes them); the adapter list is
 * safe to change between forwards, not during one.
 */
public final class Linear {
    private final String name;
    private NDArray weight;
    private NDArray int8Scale;
    private final NDArray bias;
    private final Kernels kernels;
    private boolean bf16Weight;
    private final List<LinearAdapter> adapters = new CopyOnWriteArrayList<>();

    Linear(String name, NDArray weight, NDArray bias, Kernels kernels, boolean bf16Weight) {
        Preconditions.checkArgument(weight.getShape().dimension() == 2, "%s.weight must be 2-D, got %s", name,
                weight.getShape());
        Preconditions.checkArgument(bf16Weight == (weight.getDataType() == DataType.UNKNOWN),
                "%s.weight: bf16 storage flag %s does not match the array's data type %s", name, bf16Weight,
                weight.getDataType());
        this.name = name;
        this.weight = weight;
        this.bias = bias;
        this.kernels = Preconditions.checkNotNull(kernels, "kernels");
        this.bf16Weight = bf16Weight;
    }

    /** @return the Diffusers key prefix, e.g. {@code transformer_blocks.0.attn1.to_q} */
    public String name() {
        return name;
    }

    /**
     * The weight array itself (shared, not a copy).
     *
     * @return {@code [out, in]} weight, owned by the model
     * @throws UnsupportedDTypeException if the weight is held in bf16 storage ({@link #hasBf16Weight()}): that array
     *     aborts the JVM in most DJL calls, so it is not handed out; use {@link #weightShape()},
     *     {@link #weightAsFloat32} or {@link #addToWeight} instead
     */
    public NDArray weight() {
        if (int8Scale != null) {
            throw new UnsupportedDTypeException(name + ".weight is held as int8 codes with per-output-channel scales "
                    + "(base_precision int8); the raw codes are not the weight. Use Linear.weightShape()/inFeatures()/"
                    + "outFeatures() for its shape, weightAsFloat32(manager) for the dequantised FLOAT32 copy and "
                    + "addToWeight(delta) to merge an update");
        }
        if (bf16Weight) {
            throw new UnsupportedDTypeException(name + ".weight is held in bf16 storage (model loaded with "
                    + "DataType.BFLOAT16); the raw array reports UNKNOWN and aborts the JVM in most DJL calls, so it "
                    + "is not handed out. Use Linear.weightShape()/inFeatures()/outFeatures() for its shape, "
                    + "weightAsFloat32(manager) for a FLOAT32 copy and addToWeight(delta) to merge an update");
        }
        return weight;
    }

    /** @return whether the weight is held in bf16 storage (then {@link #weight()} refuses it) */
    public boolean hasBf16Weight() {
        return bf16Weight;
    }

    /** @return whether the weight is held as int8 codes with per-output-channel scales */
    public boolean hasInt8Weight() {
        return int8Scale != null;
    }

    /**
     * @return the dtype the weight is stored in: FLOAT32 or FLOAT16, BFLOAT16 for bf16 storage (the array itself
     *     reports UNKNOWN), INT8 for int8 storage
     */
    public DataType weightStorageType() {
        if (int8Scale != null) {
            return DataType.INT8;
        }
        return bf16Weight ? DataType.BFLOAT16 : weight.getDataType();
    }

    /** @return the bytes the stored weight occupies (for int8: 1 per element plus 4 per output-channel scale) */
    public long weightStorageBytes() {
        long elements = weight.getShape().size();
        if (int8Scale != null) {
            return elements + int8Scale.getShape().size() * 4L;
        }
        return elements * (bf16Weight ? 2 : weight.getDataType().getNumOfBytes());
    }

    /**
     * Replaces the stored weight by symmetric int8 codes with per-output-channel scales {@code max|w_row| / 127}
     * (round half to even), made inside the kernel pack; the previous weight array is closed. Grad mode is off for
     * the conversion.
     *
     * @throws IllegalStateException if the weight requires a gradient (a trainable weight cannot be int8)
     */
    void quantizeToInt8() {
        if (int8Scale != null) {
            return;
        }
        if (!bf16Weight && weight.hasGradient()) {
            throw new IllegalStateException(name + ".weight requires a gradient: only frozen base weights can be "
                    + "held in int8; freeze the base (setRequiresGradient(false)) and train an adapter (LoRA)");
        }
        boolean wasGrad = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try {
            NDArray old = weight;
            NDArray scale = kernels.pack().int8Scale(old);
            NDArray codes = kernels.pack().quantizeInt8(old, scale);
            this.weight = codes;
            this.int8Scale = scale;
            this.bf16Weight = false;
            old.close();
        } finally {
            JniUtils.setGradMode(wasGrad);
        }
    }

    /** @return the weight's shape {@code [out, in]}, for any storage */
    public Shape weightShape() {
        return weight.getShape();
    }

    /** @return the input width {@code in} */
    public long inFeatures() {
        return weight.getShape().get(1);
    }

    /** @return the output width {@code out} */
    public long outFeatures() {
        return weight.getShape().get(0);
    }

    /** @return the bias {@code [out]} or {@code null}, owned by the model (FLOAT32 or FLOAT16, never bf16) */
    public NDArray bias() {
        return bias;
    }

    /**
     * A FLOAT32 copy of the weight, detached from autograd, for any storage (bf16 is widened exactly inside the
     * kernel pack).
     *
     * @param manager the manager that will own the copy
     * @return a new {@code [out, in]} FLOAT32 array owned by {@code manager}; the caller closes it
     */
    public NDArray weightAsFloat32(NDManager manager) {
        Preconditions.checkNotNull(manager, "manager");
        boolean wasGrad = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try {
            NDArray copy;
            if (int8Scale != null) {
                copy = kernels.pack().dequantizeInt8(weight, int8Scale);
            } else if (bf16Weight) {
                copy = kernels.pack().toFloat32(weight);
            } else if (weight.getDataType() == DataType.FLOAT32) {
                try (NDArray detached = weight.stopGradient()) {
                    copy = detached.duplicate();
                }
            } else {
                copy = weight.toType(DataType.FLOAT32, true);
            }
            copy.attach(manager);
            return copy;
        } finally {
            JniUtils.setGradMode(wasGrad);
        }
    }

    /**
     * In place {@code W += delta} (e.g. merging {@code scale · B A} of a LoRA), for any storage, with grad mode off
     * for the update (as {@code torch.no_grad()}). A bf16-stored weight is updated as
     * {@code W = bf16(float32(W) + delta)}: one bf16 rounding per call, as merging into a bf16 model in PyTorch. An
     * int8-stored weight is dequantised, updated and quantised again with new per-channel scales.
     *
     * @param delta {@code [out, in]}, FLOAT32 (or the weight's dtype); not modified, not closed
     * @throws UnsupportedDTypeException if {@code delta} is BFLOAT16 or UNKNOWN
     * @throws IllegalArgumentException if the shape differs from the weight's
     */
    public void addToWeight(NDArray delta) {
        DTypeGuard.requireSupported(delta, name + ".weight delta");
        Preconditions.checkArgument(delta.getShape().equals(weight.getShape()), "%s.weight delta: expected %s, got %s",
                name, weight.getShape(), delta.getShape());
        boolean wasGrad = JniUtils.isGradMode();
        JniUtils.setGradMode(false);
        try {
            if (int8Scale != null) {
                NDArray wide = kernels.pack().dequantizeInt8(weight, int8Scale);
                try (NDArray cast = delta.getDataType() == DataType.FLOAT32 ? null
                        : delta.toType(DataType.FLOAT32, true)) {
                    wide.addi(cast == null ? delta : cast);
                }
                NDArray scale = kernels.pack().int8Scale(wide);
                NDArray codes = kernels.pack().quantizeInt8(wide, scale);
                wide.close();
                weight.close();
                int8Scale.close();
                weight = codes;
                int8Scale = scale;
            } else if (bf16Weight) {
                if (delta.getDataType() == DataType.FLOAT32) {
                    kernels.pack().addIntoBf16(weight, delta);
                } else {
                    try (NDArray wide = delta.toType(DataType.FLOAT32, true)) {
                        kernels.pack().addIntoBf16(weight, wide);
                    }
                }
            } else if (delta.getDataType() == weight.getDataType()) {
                weight.addi(delta);
            } else {
                try (NDArray cast = delta.toType(weight.getDataType(), true)) {
                    weight.addi(cast);
                }
            }
        } finally {
            JniUtils.setGradMode(wasGrad);
        }
    }

    /**
     * @param x {@code [..., in]}
     * @return {@code [..., out]} in {@code x}'s manager
     */
    public NDArray forward(NDArray x) {
        NDArray y = kernels.linear(x, weight, int8Scale, bias, bf16Weight);
        for (LinearAdapter adapter : adapters) {
            y = y.add(adapter.forward(x));
        }
        return y;
    }

    /**
     * Adds a term to this layer's output on every later forward.
     *
     * @param adapter the term, e.g. a LoRA branch
     */
    public void addAdapter(LinearAdapter adapter) {
        adapters.add(Preconditions.checkNotNull(adapter, "adapter"));
    }

    /**
     * @param adapter an adapter added before
     * @return whether it was attached
     */
    public boolean removeAdapter(LinearAdapter adapter) {
        return adapters.remove(adapter);
    }

    /** @return the attached adapters, in the order they are applied (a snapshot) */
    public List<LinearAdapter> adapters() {
        return List.copyOf(adapters);
    }

    /** The stored weight in any storage (FLOAT32, bf16 reported UNKNOWN, or INT8 codes): for the kernel pack only. */
    NDArray storedWeight() {
        return weight;
    }

    /** @return the {@code [out, 1]} int8 scales, or {@code null} unless the weight is held as int8 codes */
    NDArray int8Scale() {
        return int8Scale;
    }

    /** @return whether an adapter is attached (a fused kernel would skip its term) */
    boolean hasAdapters() {
        return !adapters.isEmpty();
    }
}
