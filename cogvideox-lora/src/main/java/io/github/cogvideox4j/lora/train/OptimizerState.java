package io.github.cogvideox4j.lora.train;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A host copy of {@link AdamW}'s state, for checkpoints: the number of steps taken and, per parameter name, the
 * first and second moments ({@code exp_avg}, {@code exp_avg_sq} in PyTorch) row-major with their shape.
 *
 * @param step the number of updates taken (PyTorch's {@code state['step']})
 * @param moments parameter name to its moments, in parameter order
 */
public record OptimizerState(long step, Map<String, Moments> moments) {
    /** Copies the map. */
    public OptimizerState {
        checkArgument(step >= 0, "step must be >= 0, got %s", step);
        checkNotNull(moments, "moments");
        moments = Collections.unmodifiableMap(new LinkedHashMap<>(moments));
    }

    /**
     * The moments of one parameter.
     *
     * @param shape the parameter's shape
     * @param expAvg first moment, row-major
     * @param expAvgSq second moment, row-major
     */
    public record Moments(long[] shape, float[] expAvg, float[] expAvgSq) {
        /** Checks the sizes agree. */
        public Moments {
            checkNotNull(shape, "shape");
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            checkArgument(expAvg.length == n && expAvgSq.length == n, "moments of shape %s need %s values, got %s "
                    + "and %s", java.util.Arrays.toString(shape), n, expAvg.length, expAvgSq.length);
            shape = shape.clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }
    }
}
