package io.github.cogvideox4j.core.embed;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.testing.TestDevice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

class TimestepsTest {
    private static final Logger LOG = LoggerFactory.getLogger(TimestepsTest.class);

    private static GoldenTensors golden() {
        return GoldenTensors.open(GoldenTensors.goldenDir().resolve("scheduler/timestep_embedding.safetensors"));
    }

    /** Golden README: atol 1e-5 for dim <= 64, 1e-4 for dim >= 512 (float32 exp ulps times t up to 999). */
    private static double tolerance(int dim) {
        return dim <= 64 ? 1e-5 : 1e-4;
    }

    private static double maxAbsDiff(float[] actual, float[] expected) {
        assertThat(actual).hasSameSizeAs(expected);
        double max = 0;
        for (int i = 0; i < actual.length; i++) {
            max = Math.max(max, Math.abs((double) actual[i] - expected[i]));
        }
        return max;
    }

    @ParameterizedTest
    @ValueSource(ints = {32, 64, 512, 1920, 3072})
    void int64TimestepsMatchDiffusersAtEachWidth(int dim) {
        GoldenTensors g = golden();
        try (NDManager manager = NDManager.newBaseManager(TestDevice.get())) {
            NDArray t = manager.create(g.i64("timesteps"));
            NDArray emb = Timesteps.sinusoid(t, dim, true, 0);
            assertThat(emb.getShape()).isEqualTo(new Shape(7, dim));
            assertThat(emb.getDataType()).isEqualTo(DataType.FLOAT32);
            double diff = maxAbsDiff(emb.toFloatArray(), g.f32("emb_dim" + dim));
            LOG.info("timestep embedding dim {}: max abs diff {}", dim, diff);
            assertThat(diff).isLessThanOrEqualTo(tolerance(dim));
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {32, 512})
    void float32OfsValueMatchesDiffusers(int dim) {
        GoldenTensors g = golden();
        try (NDManager manager = NDManager.newBaseManager(TestDevice.get())) {
            NDArray ofs = manager.create(g.f32("ofs"));
            NDArray emb = Timesteps.sinusoid(ofs, dim, true, 0);
            assertThat(emb.getShape()).isEqualTo(new Shape(1, dim));
            double diff = maxAbsDiff(emb.toFloatArray(), g.f32("ofs_emb_dim" + dim));
            LOG.info("ofs embedding dim {}: max abs diff {}", dim, diff);
            assertThat(diff).isLessThanOrEqualTo(tolerance(dim));
        }
    }

    @Test
    void flipSinToCosPutsCosineFirst() {
        try (NDManager manager = NDManager.newBaseManager(TestDevice.get())) {
            NDArray t = manager.create(new long[] {3});
            float[] flipped = Timesteps.sinusoid(t, 4, true, 0).toFloatArray();
            float[] plain = Timesteps.sinusoid(t, 4, false, 0).toFloatArray();
            // half 2: freqs 1, 10000^(-1/2) = 0.01
            assertThat(flipped).containsExactly(new float[] {(float) Math.cos(3), (float) Math.cos(0.03),
                (float) Math.sin(3), (float) Math.sin(0.03)}, within(1e-6f));
            assertThat(plain).containsExactly(new float[] {flipped[2], flipped[3], flipped[0], flipped[1]});
        }
    }

    @Test
    void freqShiftDividesTheExponentByHalfMinusShift() {
        try (NDManager manager = NDManager.newBaseManager(TestDevice.get())) {
            NDArray t = manager.create(new float[] {1f});
            // dim 4, shift 1: exponent_i = -ln(1e4) * i / 1 -> freqs 1, 1e-4
            float[] emb = Timesteps.sinusoid(t, 4, false, 1).toFloatArray();
            assertThat(emb).containsExactly(new float[] {(float) Math.sin(1), (float) Math.sin(1e-4),
                (float) Math.cos(1), (float) Math.cos(1e-4)}, within(1e-6f));
        }
    }

    @Test
    void oddWidthIsZeroPaddedAtTheEnd() {
        try (NDManager manager = NDManager.newBaseManager(TestDevice.get())) {
            NDArray t = manager.create(new long[] {5, 7});
            NDArray odd = Timesteps.sinusoid(t, 5, true, 0);
            NDArray even = Timesteps.sinusoid(t, 4, true, 0);
            assertThat(odd.getShape()).isEqualTo(new Shape(2, 5));
            float[] o = odd.toFloatArray();
            float[] e = even.toFloatArray();
            for (int b = 0; b < 2; b++) {
                for (int c = 0; c < 4; c++) {
                    assertThat(o[b * 5 + c]).isEqualTo(e[b * 4 + c]);
                }
                assertThat(o[b * 5 + 4]).isZero();
            }
        }
    }

    @Test
    void resultBelongsToTheManagerOfTheTimesteps() {
        try (NDManager manager = NDManager.newBaseManager(TestDevice.get())) {
            NDArray t = manager.create(new long[] {1, 2});
            NDArray emb = Timesteps.sinusoid(t, 8, true, 0);
            assertThat(emb.getManager()).isSameAs(manager);
            assertThat(t.isReleased()).isFalse();
            assertThat(t.getDataType()).isEqualTo(DataType.INT64);
        }
    }

    @Test
    void rejectsTimestepsThatAreNotOneDimensional() {
        try (NDManager manager = NDManager.newBaseManager(TestDevice.get())) {
            NDArray t = manager.create(new long[] {1, 2}, new Shape(1, 2));
            assertThatThrownBy(() -> Timesteps.sinusoid(t, 8, true, 0))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("1-D");
        }
    }
}
