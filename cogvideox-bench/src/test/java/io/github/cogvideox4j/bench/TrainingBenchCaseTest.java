package io.github.cogvideox4j.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.config.CogVideoXVariant;
import org.junit.jupiter.api.Test;

class TrainingBenchCaseTest {
    @Test
    void smallCaseHas1474Tokens() {
        assertThat(TrainingBenchCase.benchSmall().videoTokens()).isEqualTo(1_248);
        assertThat(TrainingBenchCase.benchSmall().tokens()).isEqualTo(1_474);
    }

    @Test
    void largerCaseHas5218Tokens() {
        assertThat(TrainingBenchCase.bench().videoTokens()).isEqualTo(4_992);
        assertThat(TrainingBenchCase.bench().tokens()).isEqualTo(5_218);
    }

    @Test
    void benchModelIsThe5bConfigWithTwoBlocksOfEightHeadsAndA32By48Sample() {
        CogVideoXConfig released = CogVideoXConfig.released(CogVideoXVariant.COGVIDEOX_5B);
        CogVideoXConfig bench = TrainingBenchCase.benchModel();
        assertThat(bench.variant()).isEqualTo(CogVideoXVariant.COGVIDEOX_5B);
        assertThat(bench.innerDim()).isEqualTo(512);
        assertThat(bench.numLayers()).isEqualTo(2);
        assertThat(bench.sampleHeight()).isEqualTo(32);
        assertThat(bench.sampleWidth()).isEqualTo(48);
        assertThat(bench).usingRecursiveComparison()
                .ignoringFields("numAttentionHeads", "numLayers", "sampleHeight", "sampleWidth")
                .isEqualTo(released);
    }

    @Test
    void rejectsAnUnknownCaseName() {
        assertThatThrownBy(() -> TrainingBenchCase.named("bench-5b-l3")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("bench-5b-l2-small");
    }
}
