package io.github.cogvideox4j.core.model;

import ai.djl.ndarray.NDArray;
import com.google.common.base.Preconditions;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * {@code torch.nn.Linear}: {@code y = x W^T + b} over the last axis, plus the terms of any attached
 * {@link LinearAdapter}s (how LoRA hooks in).
 *
 * <p>Shapes: weight {@code [out, in]}, bias {@code [out]} or absent; input {@code [..., in]} → output
 * {@code [..., out]}. The output belongs to the input's {@code NDManager}. The weights belong to the model.
 *
 * <p>Thread safety: the weights are shared, mutable native arrays (merging a LoRA writes them); the adapter list is
 * safe to change between forwards, not during one.
 */
public final class Linear {
    private final String name;
    private final NDArray weight;
    private final NDArray bias;
    private final List<LinearAdapter> adapters = new CopyOnWriteArrayList<>();

    Linear(String name, NDArray weight, NDArray bias) {
        Preconditions.checkArgument(weight.getShape().dimension() == 2, "%s.weight must be 2-D, got %s", name,
                weight.getShape());
        this.name = name;
        this.weight = weight;
        this.bias = bias;
    }

    /** @return the Diffusers key prefix, e.g. {@code transformer_blocks.0.attn1.to_q} */
    public String name() {
        return name;
    }

    /** @return {@code [out, in]} weight, owned by the model */
    public NDArray weight() {
        return weight;
    }

    /** @return the bias {@code [out]} or {@code null}, owned by the model */
    public NDArray bias() {
        return bias;
    }

    /**
     * @param x {@code [..., in]}
     * @return {@code [..., out]} in {@code x}'s manager
     */
    public NDArray forward(NDArray x) {
        NDArray y = ai.djl.nn.core.Linear.linear(x, weight, bias).singletonOrThrow();
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
}
