package io.github.cogvideox4j.lora;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The SAT key parser on partition numbers (a finding of {@link LoraKeysFuzzTest}). */
class LoraKeysTest {
    private static final String QKV = "transformer.layers.0.attention.query_key_value.matrix_A.";

    @Test
    void aSatPartitionPastTheIntRangeIsNotASatLoraNameRatherThanAnError() {
        assertThat(LoraKeys.parseSat(QKV + "7867337154066740831")).isEmpty();
        assertThat(LoraKeys.parseSat(QKV + "99999999999999999999")).isEmpty();
    }

    @Test
    void aSatPartitionWithLeadingZerosIsThePartitionItSpells() {
        assertThat(LoraKeys.parseSat(QKV + "002")).contains(new LoraKeys.Slot("transformer_blocks.0.attn1.to_v", true));
        assertThat(LoraKeys.parseSat(QKV + "0003")).isEmpty();
    }
}
