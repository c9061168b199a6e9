package io.github.cogvideox4j.lora.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The flat layout of parameters: buckets, shards, padding, pieces, and its JSON form in checkpoints. */
class FlatLayoutTest {
    /** Parameters of 5, 0, 7 and 3 elements (15 in all) in buckets of 6: [0, 6), [6, 12), [12, 15). */
    private static FlatLayout layout(int world) {
        return FlatLayout.of(List.of("a", "empty", "b", "c"), new long[] {5, 0, 7, 3}, 6, world);
    }

    @Test
    void bucketsCutTheFlatSpaceIndependentlyOfTheWorldSize() {
        for (int world : new int[] {1, 2, 4}) {
            FlatLayout l = layout(world);
            assertThat(l.totalElements()).isEqualTo(15);
            assertThat(l.bucketCount()).isEqualTo(3);
            assertThat(List.of(l.bucketStart(0), l.bucketStart(1), l.bucketStart(2))).containsExactly(0L, 6L, 12L);
            assertThat(List.of(l.bucketLength(0), l.bucketLength(1), l.bucketLength(2))).containsExactly(6L, 6L, 3L);
        }
    }

    @Test
    void eachBucketIsPaddedToAMultipleOfTheWorldSizeAndTheLastRanksHoldThePadding() {
        FlatLayout l = layout(4);
        // bucket 0: 6 elements -> shards of 2, padded to 8; rank 3's shard is all padding
        assertThat(l.shardLength(0)).isEqualTo(2);
        assertThat(l.paddedLength(0)).isEqualTo(8);
        assertThat(List.of(l.shardRealLength(0, 0), l.shardRealLength(0, 1), l.shardRealLength(0, 2),
                l.shardRealLength(0, 3))).containsExactly(2L, 2L, 2L, 0L);
        // bucket 2: 3 elements -> shards of 1, padded to 4
        assertThat(l.shardStart(2, 2)).isEqualTo(14);
        assertThat(l.shardRealLength(2, 3)).isZero();
        assertThat(l.shardElements()).isEqualTo(2 + 2 + 1);
    }

    @Test
    void theRanksShardsCoverEveryElementExactlyOnce() {
        for (int world : new int[] {1, 2, 3, 4, 7}) {
            FlatLayout l = layout(world);
            List<Long> covered = new ArrayList<>();
            for (int k = 0; k < l.bucketCount(); k++) {
                for (int r = 0; r < world; r++) {
                    for (long i = 0; i < l.shardRealLength(k, r); i++) {
                        covered.add(l.shardStart(k, r) + i);
                    }
                }
            }
            assertThat(covered).as("world %s", world).hasSize(15).doesNotHaveDuplicates()
                    .allSatisfy(i -> assertThat(i).isBetween(0L, 14L));
        }
    }

    @Test
    void piecesNameEveryParameterRunInsideAFlatRange() {
        List<String> pieces = new ArrayList<>();
        layout(1).forEachPiece(3, 14, (p, pOff, fOff, len) -> pieces.add(p + "@" + pOff + "+" + len + "=" + fOff));
        // a[3..5), b[0..7), c[0..2); the empty parameter has no piece
        assertThat(pieces).containsExactly("0@3+2=3", "2@0+7=5", "3@0+2=12");
    }

    @Test
    void theJsonFormRoundTripsAndRecordsEachRanksFlatRanges() throws Exception {
        FlatLayout l = layout(2);
        ObjectNode json = (ObjectNode) new ObjectMapper().readTree(l.toJson().toString());
        FlatLayout back = FlatLayout.fromJson(json, "test");
        assertThat(back.sameParameters(l)).isTrue();
        assertThat(back.worldSize()).isEqualTo(2);
        assertThat(json.get("buckets").get(2).get("ranks").toString()).isEqualTo("[[12,14],[14,15]]");
        assertThat(json.get("parameters").get(2).get("offset").asLong()).isEqualTo(5);
    }

    @Test
    void aStoredLayoutWhoseRangesDoNotFollowFromItsSizesIsRefused() throws Exception {
        ObjectNode json = (ObjectNode) new ObjectMapper().readTree(layout(2).toJson().toString());
        ((ObjectNode) json.get("parameters").get(0)).put("numel", 6);
        assertThatThrownBy(() -> FlatLayout.fromJson(json, "ckpt/manifest.json"))
                .isInstanceOf(CheckpointException.class).hasMessageContaining("ckpt/manifest.json")
                .hasMessageContaining("inconsistent");
        ObjectNode noWorld = (ObjectNode) new ObjectMapper().readTree(layout(2).toJson().toString());
        noWorld.remove("world_size");
        assertThatThrownBy(() -> FlatLayout.fromJson(noWorld, "m")).isInstanceOf(CheckpointException.class)
                .hasMessageContaining("'world_size'");
    }
}
