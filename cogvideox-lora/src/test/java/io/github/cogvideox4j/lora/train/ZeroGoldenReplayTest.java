package io.github.cogvideox4j.lora.train;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.cogvideox4j.core.testing.Ranks;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The golden {@code full_t2v_2b} training case (golden/train) replayed with ZeRO-1 on two ranks over Gloo on
 * loopback: each rank takes its half of the golden batch of 2 with the golden's stored draws; after each step the
 * all-gathered parameters are within the golden tolerances, and after the last step so are the AdamW moments that
 * the ranks hold in shards ({@link ZeroGoldenRank} does the checks on each rank). Two bucket sizes: one bucket for all
 * 15,376 elements, and buckets of 4,096 (parameters span buckets, the last bucket is padded).
 */
class ZeroGoldenReplayTest {
    private static final Logger LOG = LoggerFactory.getLogger(ZeroGoldenReplayTest.class);

    @ParameterizedTest(name = "bucket elements {0}")
    @ValueSource(longs = {FlatLayout.DEFAULT_BUCKET_ELEMENTS, 4096})
    void everyGoldenStepIsReproducedWithTheOptimizerStateShardedOverTwoRanks(long bucketElements) {
        try (Ranks ranks = Ranks.start(ZeroGoldenRank.class, 2, Map.of(), List.of(Long.toString(bucketElements)))) {
            List<Ranks.Outcome> outcomes = ranks.await(Duration.ofMinutes(4));
            assertThat(outcomes).as(Ranks.describe(outcomes)).allSatisfy(o -> assertThat(o.exitCode()).isZero());
            for (Ranks.Outcome o : outcomes) {
                Map<String, String> result = Ranks.keyValues(o.output(), "RESULT ");
                LOG.info("rank {} (buckets of {}): {}", o.rank(), bucketElements, result);
                // each rank holds the moments of half the elements (15,376 is even; the 4,096 buckets pad nothing)
                assertThat(Long.parseLong(result.get("moment_bytes")))
                        .isEqualTo(2L * Float.BYTES * Long.parseLong(result.get("trainable_elements")) / 2);
            }
        }
    }
}
