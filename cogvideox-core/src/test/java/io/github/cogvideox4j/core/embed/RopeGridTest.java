package io.github.cogvideox4j.core.embed;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.embed.RopeGrid.CropRegion;
import io.github.cogvideox4j.core.embed.RopeGrid.GridType;
import java.io.IOException;
import org.junit.jupiter.api.Test;

class RopeGridTest {

    private static CogVideoXConfig released(String name) throws IOException {
        return CogVideoXConfig.read(GoldenTensors.goldenDir().resolve("configs").resolve(name)
                .resolve("transformer/config.json"));
    }

    @Test
    void roundHalfEvenRoundsTiesToEvenLikePython() {
        assertThat(RopeGrid.roundHalfEven(0.5)).isZero();
        assertThat(RopeGrid.roundHalfEven(1.5)).isEqualTo(2);
        assertThat(RopeGrid.roundHalfEven(2.5)).isEqualTo(2);
        assertThat(RopeGrid.roundHalfEven(3.5)).isEqualTo(4);
        assertThat(RopeGrid.roundHalfEven(25.41)).isEqualTo(25);
        assertThat(RopeGrid.roundHalfEven(24.75)).isEqualTo(25);
    }

    @Test
    void cropRegionAt768x1360IsRows2To27OfTheWholeWidth() {
        // grid 48x85 against base 30x45: width-limited, height round(45/85*48) = 25, top round(2.5) = 2
        assertThat(CropRegion.of(48, 85, 30, 45)).isEqualTo(new CropRegion(2, 0, 27, 45));
    }

    @Test
    void cropRegionAt768x768IsColumns8To38OfTheWholeHeight() {
        // grid 48x48: height-limited, width 30, left round(7.5) = 8
        assertThat(CropRegion.of(48, 48, 30, 45)).isEqualTo(new CropRegion(0, 8, 30, 38));
    }

    @Test
    void cropRegionAtTheNativeSizeIsTheWholeBase() {
        assertThat(CropRegion.of(30, 45, 30, 45)).isEqualTo(new CropRegion(0, 0, 30, 45));
    }

    @Test
    void linspacePositionsAt768x1360ScaleTheStopCoordinate() {
        RopeGrid grid = RopeGrid.linspace(13, 48, 85, 30, 45);
        float[] h = grid.heightPositions();
        float[] w = grid.widthPositions();
        assertThat(h).hasSize(48);
        assertThat(w).hasSize(85);
        // h = linspace(2, 27*47/48, 48): 2.00, 2.52, 3.04, ... 26.44
        assertThat(h[0]).isEqualTo(2.0f);
        assertThat(h[1]).isCloseTo(2.52f, within(0.005f));
        assertThat(h[2]).isCloseTo(3.04f, within(0.005f));
        assertThat(h[47]).isEqualTo((float) (27.0 * 47 / 48));
        // w = linspace(0, 45*84/85, 85): 0, 0.529, 1.059, ... 44.47
        assertThat(w[0]).isZero();
        assertThat(w[1]).isCloseTo(0.529f, within(0.0005f));
        assertThat(w[2]).isCloseTo(1.059f, within(0.0005f));
        assertThat(w[84]).isEqualTo((float) (45.0 * 84 / 85));
    }

    @Test
    void linspacePositionsAt768x768AreOffsetByTheCropLeft() {
        RopeGrid grid = RopeGrid.linspace(13, 48, 48, 30, 45);
        float[] h = grid.heightPositions();
        float[] w = grid.widthPositions();
        assertThat(h[0]).isZero();
        assertThat(h[1]).isEqualTo(0.625f);
        assertThat(w[0]).isEqualTo(8.0f);
        assertThat(w[1]).isCloseTo(8.62f, within(0.005f));
        assertThat(w[47]).isCloseTo(37.2f, within(0.01f));
    }

    @Test
    void linspacePositionsAtTheNativeSizeAreTheIntegers() {
        RopeGrid grid = RopeGrid.linspace(13, 30, 45, 30, 45);
        for (int i = 0; i < 30; i++) {
            assertThat(grid.heightPositions()[i]).isEqualTo(i);
        }
        for (int i = 0; i < 45; i++) {
            assertThat(grid.widthPositions()[i]).isEqualTo(i);
        }
        for (int i = 0; i < 13; i++) {
            assertThat(grid.framePositions()[i]).isEqualTo(i);
        }
    }

    @Test
    void singleStepLinspaceIsItsStart() {
        RopeGrid grid = RopeGrid.linspace(1, 1, 1, 30, 45);
        assertThat(grid.framePositions()).containsExactly(0f);
        assertThat(grid.heightPositions()).containsExactly((float) grid.cropRegion().top());
        assertThat(grid.widthPositions()).containsExactly((float) grid.cropRegion().left());
    }

    @Test
    void slicePositionsAreTheIntegers() {
        RopeGrid grid = RopeGrid.slice(3, 4, 6, 150, 150);
        assertThat(grid.framePositions()).containsExactly(0f, 1f, 2f);
        assertThat(grid.heightPositions()).containsExactly(0f, 1f, 2f, 3f);
        assertThat(grid.widthPositions()).containsExactly(0f, 1f, 2f, 3f, 4f, 5f);
    }

    @Test
    void forPipelineUsesTheLinspaceGridAgainstTheSampleSizeFor5b() throws IOException {
        RopeGrid grid = RopeGrid.forPipeline(released("cogvideox-5b"), 13, 60, 90);
        assertThat(grid).isEqualTo(new RopeGrid(13, 30, 45, GridType.LINSPACE, 30, 45));
        assertThat(grid.tokens()).isEqualTo(17_550);
    }

    @Test
    void forPipelineUsesTheSliceGridWithTemporalPatchesFor15() throws IOException {
        RopeGrid grid = RopeGrid.forPipeline(released("cogvideox1.5-5b"), 22, 96, 170);
        assertThat(grid).isEqualTo(new RopeGrid(11, 48, 85, GridType.SLICE, 150, 150));
        assertThat(grid.tokens()).isEqualTo(44_880);
    }

    @Test
    void forPipelineRoundsAnOddLatentFrameCountUp() throws IOException {
        assertThat(RopeGrid.forPipeline(released("cogvideox1.5-5b-i2v"), 21, 96, 170).frames()).isEqualTo(11);
    }

    @Test
    void forPipelineRejectsAModelWithoutRope() throws IOException {
        CogVideoXConfig twoB = released("cogvideox-2b");
        assertThatThrownBy(() -> RopeGrid.forPipeline(twoB, 13, 60, 90))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("use_rotary_positional_embeddings=false");
    }

    @Test
    void forPipelineRejectsALatentSizeThatIsNotAMultipleOfThePatch() throws IOException {
        CogVideoXConfig fiveB = released("cogvideox-5b");
        assertThatThrownBy(() -> RopeGrid.forPipeline(fiveB, 13, 61, 90))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("latent height")
                .hasMessageContaining("61");
    }

    @Test
    void sliceRejectsAGridLargerThanItsMaximum() {
        assertThatThrownBy(() -> RopeGrid.slice(1, 151, 10, 150, 150))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("151x10")
                .hasMessageContaining("150x150");
    }

    @Test
    void cropRegionIsUndefinedForASliceGrid() {
        assertThatThrownBy(() -> RopeGrid.slice(1, 2, 2, 4, 4).cropRegion())
                .isInstanceOf(IllegalStateException.class);
    }

    @Test
    void rejectsNonPositiveSizes() {
        assertThatThrownBy(() -> RopeGrid.linspace(0, 2, 2, 4, 4)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("frames");
    }
}
