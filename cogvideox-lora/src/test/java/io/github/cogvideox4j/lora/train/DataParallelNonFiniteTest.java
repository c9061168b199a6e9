package io.github.cogvideox4j.lora.train;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.cogvideox4j.core.testing.Ranks;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A NaN on one rank decides the step on every rank ({@link NonFiniteRank}, two ranks over Gloo): the loss and the
 * squared gradient norm are reduced over the ranks, so every rank sees the same non-finite value and skips (or
 * stops at) the same step, and the ranks' weights stay identical.
 */
class DataParallelNonFiniteTest {
    private static List<Map<String, String>> run(String policy) {
        try (Ranks ranks = Ranks.start(NonFiniteRank.class, 2, Map.of(), List.of(policy))) {
            List<Ranks.Outcome> outcomes = ranks.await(Duration.ofMinutes(2));
            assertThat(outcomes).as(Ranks.describe(outcomes)).allSatisfy(o -> assertThat(o.exitCode()).isZero());
            return outcomes.stream().map(o -> Ranks.keyValues(o.output(), "RESULT ")).toList();
        }
    }

    @Test
    void aNanOnOneRankSkipsTheStepOnEveryRankAndTheWeightsStayTheSame() {
        List<Map<String, String>> results = run("skip");
        assertThat(results).allSatisfy(r -> assertThat(r.get("skipped")).isEqualTo("false,true,false"));
        assertThat(results.get(1).get("weights")).isEqualTo(results.get(0).get("weights"));
    }

    @Test
    void aNanOnOneRankStopsEveryRankAtTheSameStep() {
        assertThat(run("stop")).allSatisfy(r -> assertThat(r.get("stopped_at")).isEqualTo("2"));
    }
}
