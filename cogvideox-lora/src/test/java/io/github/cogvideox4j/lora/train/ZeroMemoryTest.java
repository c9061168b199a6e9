package io.github.cogvideox4j.lora.train;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.cogvideox4j.core.testing.Ranks;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Per-rank optimizer memory of ZeRO-1 at W = 1, 2 and 4 ranks ({@link ZeroMemoryRank}) for 2^24 FP32 parameters
 * (64 MiB; three buckets of at most 25 MiB, each divisible by 4): each rank keeps {@code 8 · N / W} bytes of AdamW
 * moments. The resident-set growth is logged next to it (it also holds the gradient shards and two reused bucket
 * buffers, and depends on the allocator, so it is reported, not asserted).
 */
class ZeroMemoryTest {
    private static final Logger LOG = LoggerFactory.getLogger(ZeroMemoryTest.class);
    private static final long N = 1L << 24;

    @Test
    void eachRankKeepsItsShareOfTheMomentsAtOneTwoAndFourRanks() {
        for (int world : new int[] {1, 2, 4}) {
            try (Ranks ranks = Ranks.start(ZeroMemoryRank.class, world, Map.of(), List.of("-Xmx256m"),
                    List.of(Long.toString(N)))) {
                List<Ranks.Outcome> outcomes = ranks.await(Duration.ofMinutes(3));
                assertThat(outcomes).as(Ranks.describe(outcomes)).allSatisfy(o -> assertThat(o.exitCode()).isZero());
                for (Ranks.Outcome o : outcomes) {
                    Map<String, String> r = Ranks.keyValues(o.output(), "RESULT ");
                    LOG.info("W={} rank {}: moments {} MiB, gradient shards {} MiB; RSS +{} MiB params and grads, +{}"
                            + " MiB sharded optimizer", world, o.rank(), mib(r.get("moment_bytes")),
                            mib(r.get("gradient_shard_bytes")), Long.parseLong(r.get("rss_params_and_grads_kb")) / 1024,
                            Long.parseLong(r.get("rss_sharded_optimizer_kb")) / 1024);
                    assertThat(Long.parseLong(r.get("moment_bytes"))).isEqualTo(8 * N / world);
                    assertThat(Long.parseLong(r.get("gradient_shard_bytes"))).isEqualTo(4 * N / world);
                    // every gradient is 1: the reduced squared norm is N on every rank
                    assertThat(Double.parseDouble(r.get("grad_norm_squared"))).isEqualTo((double) N);
                }
            }
        }
    }

    private static long mib(String bytes) {
        return Long.parseLong(bytes) >> 20;
    }
}
