package io.github.cogvideox4j.bench;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.cogvideox4j.core.vae.VaeConfig;
import java.util.List;
import org.junit.jupiter.api.Test;

class VaeFlopsTest {
    private static final VaeConfig RELEASED = new VaeConfig(3, 3, List.of(128, 256, 256, 512), 16, 3, 1e-6, 32, 4,
            480, 720, 0.7, false, false, false);

    @Test
    void chunkLengthsFollowTheModelsFrameBatching() {
        assertThat(VaeFlops.chunkLengths(49, 8)).containsExactly(9, 8, 8, 8, 8, 8);
        assertThat(VaeFlops.chunkLengths(13, 2)).containsExactly(3, 2, 2, 2, 2, 2);
        assertThat(VaeFlops.chunkLengths(9, 8)).containsExactly(9);
    }

    @Test
    void defaultTilesOfA480x720ClipFormAThreeByThreeGrid() {
        assertThat(VaeFlops.tileSizes(480, (int) (240 * (1 - 1.0 / 6)), 240)).containsExactly(240, 240, 80);
        assertThat(VaeFlops.tileSizes(720, (int) (360 * (1 - 1.0 / 5)), 360)).containsExactly(360, 360, 144);
    }

    @Test
    void singleBlockEncoderCountsEveryConvAtItsResolution() {
        VaeConfig tiny = new VaeConfig(3, 3, List.of(32), 16, 1, 1e-6, 32, 1, 8, 8, 1.0, false, false, false);
        // conv_in 3->32, one resnet (2 convs 32->32), mid (2 resnets = 4 convs), conv_out 32->32; 1 frame of 8x8
        double expected = 2.0 * 27 * 64 * (3 * 32 + 2 * 32 * 32 + 4 * 32 * 32 + 32 * 32);
        assertThat(VaeFlops.encode(tiny, 1, 8, 8, null)).isEqualTo(expected);
    }

    @Test
    void tilingWithATileCoveringTheClipCostsTheSameAsNone() {
        VaeFlops.Tiling big = new VaeFlops.Tiling(480, 720, 1.0 / 6, 1.0 / 5);
        assertThat(VaeFlops.encode(RELEASED, 9, 240, 360, big)).isEqualTo(VaeFlops.encode(RELEASED, 9, 240, 360, null));
        assertThat(VaeFlops.decode(RELEASED, 3, 30, 45, big)).isEqualTo(VaeFlops.decode(RELEASED, 3, 30, 45, null));
    }

    @Test
    void defaultTilingOfTheFullClipCostsTheTilesOverlapMore() {
        VaeFlops.Tiling tiles = new VaeFlops.Tiling(240, 360, 1.0 / 6, 1.0 / 5);
        double ratio = VaeFlops.decode(RELEASED, 13, 60, 90, tiles) / VaeFlops.decode(RELEASED, 13, 60, 90, null);
        // tiles cover (240+240+80)/480 x (360+360+144)/720 = 1.1667 x 1.2 of the area
        assertThat(ratio).isCloseTo(1.4, org.assertj.core.api.Assertions.within(1e-9));
    }
}
