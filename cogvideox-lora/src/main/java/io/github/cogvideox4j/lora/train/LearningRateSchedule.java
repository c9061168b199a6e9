package io.github.cogvideox4j.lora.train;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import java.util.Locale;

/**
 * Learning-rate schedules with the formulas of Diffusers' {@code get_scheduler} ({@code diffusers.optimization}),
 * which every CogVideoX trainer uses: a {@code LambdaLR} multiplier on the base rate, evaluated at the number of
 * optimizer steps already taken ({@code step = 0} for the first update, as {@code LambdaLR.last_epoch}).
 *
 * <ul>
 *   <li>{@code constant}: 1
 *   <li>{@code constant_with_warmup}: {@code step / max(1, warmup)} while {@code step < warmup}, then 1
 *   <li>{@code linear}: warmup, then {@code max(0, (total - step) / max(1, total - warmup))}
 *   <li>{@code cosine}: warmup, then {@code max(0, 0.5 (1 + cos(π · cycles · 2 · progress)))}, cycles 0.5 by default
 *   <li>{@code cosine_with_restarts}: warmup, then 0 once {@code progress >= 1}, else
 *       {@code max(0, 0.5 (1 + cos(π · ((cycles · progress) mod 1))))}, cycles 1 by default
 * </ul>
 * with {@code progress = (step - warmup) / max(1, total - warmup)}. (The Diffusers scripts pass warmup and total
 * multiplied by the number of processes; pass the numbers you mean.)
 *
 * <p>Immutable and thread-safe.
 *
 * @param kind the schedule
 * @param baseLearningRate the optimizer's learning rate
 * @param warmupSteps warm-up steps (ignored by {@code CONSTANT}, as in Diffusers)
 * @param totalSteps training steps (used by the decaying schedules)
 * @param numCycles cosine cycles (0.5 for {@code cosine}, 1 for {@code cosine_with_restarts} by default)
 */
public record LearningRateSchedule(Kind kind, double baseLearningRate, int warmupSteps, int totalSteps,
        double numCycles) {
    /** The Diffusers schedule names. */
    public enum Kind {
        /** {@code constant}. */
        CONSTANT("constant"),
        /** {@code constant_with_warmup}. */
        CONSTANT_WITH_WARMUP("constant_with_warmup"),
        /** {@code linear}. */
        LINEAR("linear"),
        /** {@code cosine}. */
        COSINE("cosine"),
        /** {@code cosine_with_restarts}. */
        COSINE_WITH_RESTARTS("cosine_with_restarts");

        private final String diffusersName;

        Kind(String diffusersName) {
            this.diffusersName = diffusersName;
        }

        /** @return the name {@code get_scheduler} takes */
        public String diffusersName() {
            return diffusersName;
        }

        /**
         * @param name a {@code get_scheduler} name, e.g. {@code cosine_with_restarts}
         * @return the kind
         * @throws IllegalArgumentException for other names (polynomial and piecewise are not implemented)
         */
        public static Kind fromDiffusersName(String name) {
            checkNotNull(name, "name");
            for (Kind k : values()) {
                if (k.diffusersName.equals(name.toLowerCase(Locale.ROOT))) {
                    return k;
                }
            }
            throw new IllegalArgumentException("unknown learning-rate schedule '" + name + "'; supported: constant, "
                    + "constant_with_warmup, linear, cosine, cosine_with_restarts");
        }
    }

    /** Validates the arguments. */
    public LearningRateSchedule {
        checkNotNull(kind, "kind");
        checkArgument(baseLearningRate >= 0 && Double.isFinite(baseLearningRate),
                "base learning rate must be finite and >= 0, got %s", baseLearningRate);
        checkArgument(warmupSteps >= 0, "warmup steps must be >= 0, got %s", warmupSteps);
        checkArgument(totalSteps >= 0, "total steps must be >= 0, got %s", totalSteps);
        checkArgument(numCycles > 0 && Double.isFinite(numCycles), "cycles must be positive, got %s", numCycles);
    }

    /**
     * @param lr base learning rate
     * @return {@code constant}
     */
    public static LearningRateSchedule constant(double lr) {
        return new LearningRateSchedule(Kind.CONSTANT, lr, 0, 0, 1);
    }

    /**
     * @param lr base learning rate
     * @param warmup warm-up steps
     * @return {@code constant_with_warmup}
     */
    public static LearningRateSchedule constantWithWarmup(double lr, int warmup) {
        return new LearningRateSchedule(Kind.CONSTANT_WITH_WARMUP, lr, warmup, 0, 1);
    }

    /**
     * @param lr base learning rate
     * @param warmup warm-up steps
     * @param total training steps
     * @return {@code linear}
     */
    public static LearningRateSchedule linear(double lr, int warmup, int total) {
        return new LearningRateSchedule(Kind.LINEAR, lr, warmup, total, 1);
    }

    /**
     * @param lr base learning rate
     * @param warmup warm-up steps
     * @param total training steps
     * @return {@code cosine} with half a cycle (decay to 0)
     */
    public static LearningRateSchedule cosine(double lr, int warmup, int total) {
        return new LearningRateSchedule(Kind.COSINE, lr, warmup, total, 0.5);
    }

    /**
     * @param lr base learning rate
     * @param warmup warm-up steps
     * @param total training steps
     * @param cycles hard restarts
     * @return {@code cosine_with_restarts}
     */
    public static LearningRateSchedule cosineWithRestarts(double lr, int warmup, int total, int cycles) {
        return new LearningRateSchedule(Kind.COSINE_WITH_RESTARTS, lr, warmup, total, cycles);
    }

    /**
     * @param name a Diffusers name
     * @param lr base learning rate
     * @param warmup warm-up steps
     * @param total training steps
     * @param cycles {@code num_cycles}; {@code get_scheduler} passes it to {@code cosine_with_restarts} only
     *     ({@code cosine} keeps its default 0.5)
     * @return the schedule: {@code cosine} with 0.5 cycles, {@code cosine_with_restarts} with {@code cycles}
     */
    public static LearningRateSchedule of(String name, double lr, int warmup, int total, int cycles) {
        Kind kind = Kind.fromDiffusersName(name);
        return new LearningRateSchedule(kind, lr, warmup, total, kind == Kind.COSINE ? 0.5 : Math.max(1, cycles));
    }

    /**
     * @param step optimizer steps already taken (0 for the first update)
     * @return the multiplier on the base rate
     */
    public double multiplier(long step) {
        checkArgument(step >= 0, "step must be >= 0, got %s", step);
        if (kind == Kind.CONSTANT) {
            return 1.0;
        }
        if (step < warmupSteps) {
            return (double) step / Math.max(1, warmupSteps);
        }
        double progress = (double) (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
        switch (kind) {
            case CONSTANT_WITH_WARMUP:
                return 1.0;
            case LINEAR:
                return Math.max(0.0, (double) (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
            case COSINE:
                return Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * numCycles * 2.0 * progress)));
            case COSINE_WITH_RESTARTS:
                if (progress >= 1.0) {
                    return 0.0;
                }
                return Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * ((numCycles * progress) % 1.0))));
            default:
                throw new AssertionError(kind);
        }
    }

    /**
     * @param step optimizer steps already taken (0 for the first update)
     * @return the learning rate of the next update
     */
    public double learningRate(long step) {
        return baseLearningRate * multiplier(step);
    }
}
