package io.github.cogvideox4j.lora.train;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.lora.NoGrad;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * AdamW with PyTorch's semantics ({@code torch.optim.AdamW}, single-tensor path, amsgrad off), state readable and
 * restorable for checkpoints. Per parameter, at step {@code t} (1-based, shared by all parameters):
 *
 * <pre>
 * p  *= 1 - lr * weight_decay                       (decoupled weight decay)
 * m   = beta1 * m + (1 - beta1) * g
 * v   = beta2 * v + (1 - beta2) * g * g
 * denom = sqrt(v) / sqrt(1 - beta2^t) + eps         (bias corrections in double, as Python floats)
 * p  += -(lr / (1 - beta1^t)) * m / denom
 * </pre>
 *
 * then the gradient is cleared by filling it with zeros. Moments are FP32 arrays in the optimizer's own manager
 * (created lazily on the parameters' device, freed by {@link #close()}); every temporary of an update lives in a
 * per-call manager, so the parameters' manager does not grow. Updates run under no-grad, so {@link #step} may be
 * called inside or outside a {@code GradientCollector}.
 *
 * <pre>{@code
 * AdamW adamW = AdamW.builder().learningRate(1e-3).betas(0.9, 0.95).epsilon(1e-8).weightDecay(1e-4).build();
 * adamW.step(trainable);   // after backward (and clipping)
 * }</pre>
 *
 * <p>Not thread-safe: confine to the training thread.
 */
public final class AdamW implements AutoCloseable {
    private final double beta1;
    private final double beta2;
    private final double epsilon;
    private final double weightDecay;
    private double learningRate;
    private long step;
    private NDManager stateManager;
    private final Map<String, NDArray[]> moments = new LinkedHashMap<>();

    private AdamW(Builder b) {
        this.learningRate = b.learningRate;
        this.beta1 = b.beta1;
        this.beta2 = b.beta2;
        this.epsilon = b.epsilon;
        this.weightDecay = b.weightDecay;
    }

    /** @return a builder with PyTorch's defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 1e-2 */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Updates every parameter in place from its gradient, then clears the gradients.
     *
     * @param parameters name to parameter (arrays that require gradients); the same names every step
     * @throws IllegalArgumentException if a parameter does not require gradients or changed shape
     */
    public void step(Map<String, NDArray> parameters) {
        checkNotNull(parameters, "parameters");
        if (parameters.isEmpty()) {
            return;
        }
        for (Map.Entry<String, NDArray> e : parameters.entrySet()) {
            checkArgument(e.getValue().hasGradient(), "parameter %s does not require gradients", e.getKey());
        }
        long t = beginStep();
        try (NoGrad ignored = NoGrad.enter()) {
            for (Map.Entry<String, NDArray> e : parameters.entrySet()) {
                NDArray p = e.getValue();
                NDArray[] mv = momentsOf(e.getKey(), p);
                try (NDManager scope = stateManager.newSubManager()) {
                    update(p, Gradients.of(p, scope), mv[0], mv[1], t, scope);
                }
                Gradients.clear(p);
            }
        }
    }

    /** Counts one more step (shared by every parameter, or by every shard of a sharded state). */
    long beginStep() {
        return ++step;
    }

    /**
     * The element-wise update of one array at step {@code t}, in place on {@code p}, {@code m} and {@code v} — the
     * only implementation of the math, used for whole parameters here and for flat shards by {@link ShardedAdamW}.
     * Call under no-grad.
     *
     * @param p the parameter (or a flat shard of parameters)
     * @param g its gradient, same shape (widened to FLOAT32 when it is not)
     * @param m the first moment, FLOAT32, same shape
     * @param v the second moment, FLOAT32, same shape
     * @param t the 1-based step
     * @param scope owns the temporaries
     */
    void update(NDArray p, NDArray g, NDArray m, NDArray v, long t, NDManager scope) {
        double bc1 = 1 - Math.pow(beta1, t);
        double bc2 = 1 - Math.pow(beta2, t);
        double stepSize = learningRate / bc1;
        double bc2Sqrt = Math.sqrt(bc2);
        if (g.getDataType() != DataType.FLOAT32) {
            g = scoped(g.toType(DataType.FLOAT32, false), scope);
        }
        // 1. decoupled weight decay
        p.muli((float) (1 - learningRate * weightDecay));
        // 2. moments: m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g g
        m.muli((float) beta1).addi(scoped(g.mul((float) (1 - beta1)), scope));
        v.muli((float) beta2).addi(scoped(scoped(g.mul((float) (1 - beta2)), scope).mul(g), scope));
        // 3. p += -(lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)
        NDArray denom = scoped(scoped(scoped(v.sqrt(), scope).div((float) bc2Sqrt), scope).add((float) epsilon),
                scope);
        NDArray update = scoped(scoped(m.div(denom), scope).mul((float) -stepSize), scope);
        p.addi(update.getDataType() == p.getDataType() ? update
                : scoped(update.toType(p.getDataType(), false), scope));
    }

    private static NDArray scoped(NDArray a, NDManager scope) {
        a.attach(scope);
        return a;
    }

    private NDArray[] momentsOf(String name, NDArray p) {
        if (stateManager == null) {
            stateManager = NDManager.newBaseManager(p.getDevice());
        }
        NDArray[] mv = moments.get(name);
        if (mv == null) {
            mv = new NDArray[] {stateManager.zeros(p.getShape(), DataType.FLOAT32),
                stateManager.zeros(p.getShape(), DataType.FLOAT32)};
            moments.put(name, mv);
        }
        checkArgument(mv[0].getShape().equals(p.getShape()), "parameter %s has shape %s, its optimizer state %s",
                name, p.getShape(), mv[0].getShape());
        return mv;
    }

    /** @return the learning rate of the next step */
    public double learningRate() {
        return learningRate;
    }

    /**
     * Sets the learning rate for the next steps (a {@link LearningRateSchedule} drives this).
     *
     * @param lr the learning rate (&gt;= 0)
     */
    public void setLearningRate(double lr) {
        checkArgument(lr >= 0 && Double.isFinite(lr), "learning rate must be finite and >= 0, got %s", lr);
        this.learningRate = lr;
    }

    /** @return the number of steps taken */
    public long stepCount() {
        return step;
    }

    /** @return {@code (beta1, beta2)} */
    public double[] betas() {
        return new double[] {beta1, beta2};
    }

    /** @return epsilon */
    public double epsilon() {
        return epsilon;
    }

    /** @return the decoupled weight decay */
    public double weightDecay() {
        return weightDecay;
    }

    /**
     * @return a host copy of the step count and moments (parameters that never stepped have none)
     */
    public OptimizerState state() {
        Map<String, OptimizerState.Moments> out = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray[]> e : moments.entrySet()) {
            out.put(e.getKey(), new OptimizerState.Moments(e.getValue()[0].getShape().getShape(),
                    e.getValue()[0].toFloatArray(), e.getValue()[1].toFloatArray()));
        }
        return new OptimizerState(step, out);
    }

    /**
     * Replaces the state (resume): step count and moments; the next {@link #step} continues exactly where the saved
     * optimizer stopped.
     *
     * @param state a state from {@link #state()}
     * @param device where the moments are made: the device of the parameters the optimizer steps
     */
    public void loadState(OptimizerState state, Device device) {
        checkNotNull(state, "state");
        checkNotNull(device, "device");
        for (NDArray[] mv : moments.values()) {
            mv[0].close();
            mv[1].close();
        }
        moments.clear();
        if (stateManager != null && !stateManager.getDevice().equals(device)) {
            stateManager.close();
            stateManager = null;
        }
        if (stateManager == null) {
            stateManager = NDManager.newBaseManager(device);
        }
        for (Map.Entry<String, OptimizerState.Moments> e : state.moments().entrySet()) {
            Shape shape = new Shape(e.getValue().shape());
            moments.put(e.getKey(), new NDArray[] {stateManager.create(e.getValue().expAvg(), shape),
                stateManager.create(e.getValue().expAvgSq(), shape)});
        }
        this.step = state.step();
    }

    /** Frees the moments. */
    @Override
    public void close() {
        if (stateManager != null) {
            stateManager.close();
            stateManager = null;
        }
        moments.clear();
    }

    /** Builds an {@link AdamW}. Defaults are PyTorch's. */
    public static final class Builder {
        private double learningRate = 1e-3;
        private double beta1 = 0.9;
        private double beta2 = 0.999;
        private double epsilon = 1e-8;
        private double weightDecay = 1e-2;

        private Builder() {}

        /**
         * @param lr learning rate (&gt;= 0)
         * @return this builder
         */
        public Builder learningRate(double lr) {
            checkArgument(lr >= 0 && Double.isFinite(lr), "learning rate must be finite and >= 0, got %s", lr);
            this.learningRate = lr;
            return this;
        }

        /**
         * @param b1 first-moment decay in [0, 1)
         * @param b2 second-moment decay in [0, 1)
         * @return this builder
         */
        public Builder betas(double b1, double b2) {
            checkArgument(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1, "betas must be in [0, 1), got (%s, %s)", b1, b2);
            this.beta1 = b1;
            this.beta2 = b2;
            return this;
        }

        /**
         * @param eps added to the denominator (&gt;= 0)
         * @return this builder
         */
        public Builder epsilon(double eps) {
            checkArgument(eps >= 0, "epsilon must be >= 0, got %s", eps);
            this.epsilon = eps;
            return this;
        }

        /**
         * @param wd decoupled weight decay (&gt;= 0)
         * @return this builder
         */
        public Builder weightDecay(double wd) {
            checkArgument(wd >= 0, "weight decay must be >= 0, got %s", wd);
            this.weightDecay = wd;
            return this;
        }

        /** @return the optimizer */
        public AdamW build() {
            return new AdamW(this);
        }
    }
}
