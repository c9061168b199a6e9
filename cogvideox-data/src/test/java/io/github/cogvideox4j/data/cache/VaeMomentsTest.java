package io.github.cogvideox4j.data.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class VaeMomentsTest {
    /** [2C=4, 10000]: mean 1.5 / -0.5 on the two channels, logvar ln(0.25) -> std 0.5. */
    private static NDArray moments(NDManager m) {
        NDArray mean = m.full(new Shape(1, 10000), 1.5f).concat(m.full(new Shape(1, 10000), -0.5f), 0);
        NDArray logvar = m.full(new Shape(2, 10000), (float) Math.log(0.25));
        return mean.concat(logvar, 0);
    }

    @Test
    void samplesMeanPlusStdTimesNoiseScaled() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray z = VaeMoments.sample(moments(m), 0.7f, new SplittableRandom(3), m);

            assertThat(z.getShape()).isEqualTo(new Shape(2, 10000));
            NDArray c0 = z.get(0);
            assertThat(c0.mean().getFloat()).isCloseTo(1.5f * 0.7f, offset(0.02f));
            float std = c0.sub(c0.mean()).square().mean().sqrt().getFloat();
            assertThat(std).isCloseTo(0.5f * 0.7f, offset(0.01f));
            assertThat(z.get(1).mean().getFloat()).isCloseTo(-0.5f * 0.7f, offset(0.02f));
        }
    }

    @Test
    void theSameSeedDrawsTheSameLatent() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray mo = moments(m);
            float[] a = VaeMoments.sample(mo, 0.7f, new SplittableRandom(9), m).toFloatArray();
            float[] b = VaeMoments.sample(mo, 0.7f, new SplittableRandom(9), m).toFloatArray();
            float[] c = VaeMoments.sample(mo, 0.7f, new SplittableRandom(10), m).toFloatArray();

            assertThat(a).containsExactly(b);
            assertThat(a).isNotEqualTo(c);
        }
    }

    @Test
    void modeIsTheScaledMeanAndLeavesTheMomentsOpen() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray mo = moments(m);
            NDArray z = VaeMoments.mode(mo, 2f, m);

            assertThat(z.get(0, 0).getFloat()).isEqualTo(3f);
            assertThat(mo.get(0, 0).getFloat()).isEqualTo(1.5f);
        }
    }
}
