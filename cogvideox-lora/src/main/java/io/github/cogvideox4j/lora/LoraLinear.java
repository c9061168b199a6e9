package io.github.cogvideox4j.lora;

import io.github.cogvideox4j.core.EngineArrays;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import io.github.cogvideox4j.core.model.LinearAdapter;

/**
 * The LoRA branch of one Linear (PEFT {@code lora.Linear}): {@code scaling · B(A(dropout(x)))} added to the base
 * layer's output, with {@code scaling = scale · alpha / rank}. Merging adds {@code scaling · B @ A} to the base
 * weight and detaches the branch; unmerging subtracts it and re-attaches the branch.
 *
 * <p>Shapes: {@code A} {@code [r, in]}, {@code B} {@code [out, r]} (FLOAT32, owned by the {@link LoraAdapter});
 * input {@code [..., in]} → output {@code [..., out]} in the input's manager. An FP16 input is computed in FP32 and
 * the result cast back.
 *
 * <p>Not thread-safe: confined with its model to one thread.
 */
public final class LoraLinear implements LinearAdapter {
    private final String module;
    private final io.github.cogvideox4j.core.model.Linear base;
    private final NDArray loraA;
    private final NDArray loraB;
    private final double dropout;
    private double scaling;
    private boolean training;
    private boolean merged;

    LoraLinear(String module, io.github.cogvideox4j.core.model.Linear base, NDArray loraA, NDArray loraB,
            double scaling, double dropout) {
        this.module = module;
        this.base = base;
        this.loraA = loraA;
        this.loraB = loraB;
        this.scaling = scaling;
        this.dropout = dropout;
    }

    /** @return the Diffusers module name, e.g. {@code transformer_blocks.0.attn1.to_q} */
    public String module() {
        return module;
    }

    /** @return {@code A} {@code [r, in]}, owned by the adapter */
    public NDArray loraA() {
        return loraA;
    }

    /** @return {@code B} {@code [out, r]}, owned by the adapter */
    public NDArray loraB() {
        return loraB;
    }

    /** @return the factor on {@code B(A x)} */
    public double scaling() {
        return scaling;
    }

    /** @return whether the branch is folded into the base weight */
    public boolean isMerged() {
        return merged;
    }

    void setScaling(double scaling) {
        this.scaling = scaling;
    }

    void setTraining(boolean training) {
        this.training = training;
    }

    @Override
    public NDArray forward(NDArray x) {
        DataType type = x.getDataType();
        NDArray in = type == loraA.getDataType() ? x : x.toType(loraA.getDataType(), false);
        if (training && dropout > 0) {
            in = Dropout.dropout(in, (float) dropout, true).singletonOrThrow();
        }
        NDArray down = Linear.linear(in, loraA).singletonOrThrow();                      // [..., r]
        NDArray up = Linear.linear(down, loraB).singletonOrThrow();                      // [..., out]
        NDArray out = EngineArrays.mul(up, scaling); // engine-owned scalar: autograd keeps it (EngineArrays)
        return out.getDataType() == type ? out : out.toType(type, false);
    }

    /** Adds {@code scaling · B @ A} to the base weight and detaches the branch. */
    void merge() {
        applyDelta(1);
        base.removeAdapter(this);
        merged = true;
    }

    /** Subtracts {@code scaling · B @ A} from the base weight and re-attaches the branch. */
    void unmerge() {
        applyDelta(-1);
        base.addAdapter(this);
        merged = false;
    }

    /** Removes the branch from the base layer's forward. */
    void detach() {
        base.removeAdapter(this);
    }

    private void applyDelta(int sign) {
        try (NDManager scope = loraB.getManager().newSubManager()) {
            NDArray delta;
            try (NoGrad ignored = NoGrad.enter()) {
                NDArray product = loraB.matMul(loraA);                                   // [out, in]
                product.attach(scope);
                delta = EngineArrays.mul(product, sign * scaling);
            }
            base.addToWeight(delta);                                                     // any storage, rounds once
        }
    }
}
