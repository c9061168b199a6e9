package io.github.cogvideox4j.core.embed;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.github.cogvideox4j.core.config.CogVideoXConfig;
import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

class SinCosPositionalEmbedding3dTest {
    private static final Logger LOG = LoggerFactory.getLogger(SinCosPositionalEmbedding3dTest.class);

    @Test
    void smallTableMatchesTheHandComputedFormula() {
        // D = 16: temporal 4 (omega 1, 0.01), w 6 and h 6 (omega 1, 10000^(-1/3), 10000^(-2/3)); grid 1x2, 2 frames
        float[] table = SinCosPositionalEmbedding3d.compute(16, 1, 2, 2, 1.875, 1.0);
        assertThat(table).hasSize(4 * 16);
        // token (t=1, h=0, w=1) is row (1*1 + 0)*2 + 1 = 3; w position 1/1.875 = 0.5333..., h position 0
        float[] expected = {
            0.841470985f, 0.009999833f, 0.540302306f, 0.999950000f, // temporal t = 1: sin(1), sin(.01), cos(1), cos(.01)
            0.508406551f, 0.024752612f, 0.001149032f, 0.861117169f, 0.999693607f, 0.999999340f, // w = 0.5333
            0f, 0f, 0f, 1f, 1f, 1f}; // h = 0
        for (int c = 0; c < 16; c++) {
            assertThat(table[3 * 16 + c]).as("column %s", c).isCloseTo(expected[c], within(1e-6f));
        }
    }

    @Test
    void rowsAreTimeMajorThenHeightThenWidth() {
        // grid 2x3, 2 frames, D 16: row (t*2 + h)*3 + w; w part at columns 4..9, h part at 10..15
        float[] table = SinCosPositionalEmbedding3d.compute(16, 2, 3, 2, 1.0, 1.0);
        for (int t = 0; t < 2; t++) {
            for (int h = 0; h < 2; h++) {
                for (int w = 0; w < 3; w++) {
                    int row = ((t * 2 + h) * 3 + w) * 16;
                    assertThat(table[row]).isCloseTo((float) Math.sin(t), within(1e-7f));
                    assertThat(table[row + 4]).isCloseTo((float) Math.sin(w), within(1e-7f));
                    assertThat(table[row + 10]).isCloseTo((float) Math.sin(h), within(1e-7f));
                    assertThat(table[row + 7]).isCloseTo((float) Math.cos(w), within(1e-7f));
                    assertThat(table[row + 13]).isCloseTo((float) Math.cos(h), within(1e-7f));
                }
            }
        }
    }

    @Test
    void temporalScaleDividesTheFramePosition() {
        float[] table = SinCosPositionalEmbedding3d.compute(16, 1, 1, 2, 1.875, 2.0);
        assertThat(table[16]).isCloseTo((float) Math.sin(0.5), within(1e-7f));
    }

    /**
     * End to end against the CogVideoX-2b structure golden (case a): the image rows of {@code patch_embed} are the
     * Conv2d patch projection of the input plus the sincos table, so {@code patch_embed - conv(x)} must equal our
     * table (config 8x12 latent, 3 frames: grid 4x6, D 32). Tolerance of the transformer intermediates:
     * {@code 1e-5 + 1e-4*|ref|}.
     */
    @Test
    void tableEqualsPatchEmbedMinusProjectionInTheTwoBGolden() throws IOException {
        Path dir = GoldenTensors.goldenDir().resolve("transformer/a_cogvideox_2b_sincos");
        CogVideoXConfig config = CogVideoXConfig.read(dir.resolve("config.json"));
        GoldenTensors inputs = GoldenTensors.open(dir.resolve("inputs.safetensors"));
        GoldenTensors weights = GoldenTensors.open(dir.resolve("diffusion_pytorch_model.safetensors"));
        GoldenTensors outputs = GoldenTensors.open(dir.resolve("outputs.safetensors"));
        long[] s = inputs.shape("hidden_states"); // [B, F, C, H, W]
        int batch = (int) s[0];
        int frames = (int) s[1];
        int channels = (int) s[2];
        int height = (int) s[3];
        int width = (int) s[4];
        int p = config.patchSize();
        int gh = height / p;
        int gw = width / p;
        int d = config.innerDim();
        int text = config.maxTextSeqLength();
        float[] x = inputs.f32("hidden_states");
        float[] kernel = weights.f32("patch_embed.proj.weight"); // [D, C, p, p]
        float[] bias = weights.f32("patch_embed.proj.bias");
        float[] patchEmbed = outputs.f32("patch_embed"); // [B, text + F*gh*gw, D]
        int seq = text + frames * gh * gw;

        float[] table = SinCosPositionalEmbedding3d.compute(d, gh, gw, config.sampleLatentFrames(),
                config.spatialInterpolationScale(), config.temporalInterpolationScale());
        assertThat(table).hasSize(frames * gh * gw * d);

        double worst = Double.NEGATIVE_INFINITY;
        double maxErr = 0;
        for (int b = 0; b < batch; b++) {
            for (int f = 0; f < frames; f++) {
                for (int i = 0; i < gh; i++) {
                    for (int j = 0; j < gw; j++) {
                        int token = (f * gh + i) * gw + j;
                        for (int o = 0; o < d; o++) {
                            double conv = bias[o];
                            for (int c = 0; c < channels; c++) {
                                for (int ki = 0; ki < p; ki++) {
                                    for (int kj = 0; kj < p; kj++) {
                                        conv += (double) kernel[((o * channels + c) * p + ki) * p + kj]
                                                * x[(((b * frames + f) * channels + c) * height + i * p + ki) * width
                                                        + j * p + kj];
                                    }
                                }
                            }
                            double ref = patchEmbed[(b * seq + text + token) * d + o];
                            double err = Math.abs(conv + table[token * d + o] - ref);
                            maxErr = Math.max(maxErr, err);
                            worst = Math.max(worst, err - (1e-5 + 1e-4 * Math.abs(ref)));
                        }
                    }
                }
            }
        }
        LOG.info("2B sincos table vs patch_embed - conv: max abs error {}, worst excess over 1e-5 + 1e-4|ref|: {}",
                maxErr, worst);
        assertThat(worst).isLessThanOrEqualTo(0.0);
    }

    @Test
    void rejectsAWidthThatIsNotAMultipleOf16() {
        assertThatThrownBy(() -> SinCosPositionalEmbedding3d.compute(24, 1, 1, 1, 1.875, 1.0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("24");
    }
}
