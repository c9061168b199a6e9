package io.github.cogvideox4j.core.text;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.cogvideox4j.core.CogVideoXException;
import io.github.cogvideox4j.core.testing.Golden;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** T5Tokenizer rules beyond the golden prompts: truncation, EOS, padding, folder loading. */
class T5TokenizerTest {

    private static T5Tokenizer tokenizer() throws Exception {
        return T5Tokenizer.load(Golden.path("pipeline", "t2v_5b", "model", "tokenizer"));
    }

    @Test
    void truncationKeepsMaxLengthMinusOneTokensAndEndsWithEos() throws Exception {
        try (T5Tokenizer tok = tokenizer()) {
            TokenizedPrompt t = tok.encode("a cat ".repeat(10), 8);
            assertThat(t.inputIds()).hasSize(8);
            assertThat(t.inputIds()[7]).isEqualTo(T5Tokenizer.EOS_ID);
            assertThat(t.attentionMask()).containsOnly(1L);
            assertThat(t.truncated()).isTrue();
            assertThat(t.inputIds()).startsWith(java.util.Arrays.stream(tok.tokenize("a cat ".repeat(10)))
                    .limit(7).asLongStream().toArray());
        }
    }

    @Test
    void shortPromptIsEosTerminatedAndZeroPadded() throws Exception {
        try (T5Tokenizer tok = tokenizer()) {
            int[] raw = tok.tokenize("a cat");
            TokenizedPrompt t = tok.encode("a cat", 226);
            assertThat(t.inputIds()[raw.length]).isEqualTo(T5Tokenizer.EOS_ID);
            assertThat(java.util.Arrays.stream(t.attentionMask()).sum()).isEqualTo(raw.length + 1);
            assertThat(java.util.Arrays.copyOfRange(t.inputIds(), raw.length + 1, 226)).containsOnly(0L);
            assertThat(t.truncated()).isFalse();
        }
    }

    @Test
    void pipelineFolderGivesExtraIdsFromTokenizerConfig() throws Exception {
        try (T5Tokenizer tok = tokenizer()) {
            assertThat(tok.size()).isEqualTo(300);
            assertThat(tok.tokenize("<extra_id_0>")).containsExactly(299);
        }
    }

    @Test
    void rejectsNonLegacyTokenizerConfig(@TempDir Path dir) throws Exception {
        Files.copy(Golden.path("t5", "tokenizer", "spiece.model"), dir.resolve("spiece.model"));
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"legacy\": false, \"extra_ids\": 100}");
        assertThatThrownBy(() -> T5Tokenizer.load(dir)).isInstanceOf(CogVideoXException.class)
                .hasMessageContaining("legacy=false");
    }

    @Test
    void rejectsAFileThatIsNotASentencePieceModel(@TempDir Path dir) throws Exception {
        Path bogus = dir.resolve("spiece.model");
        Files.writeString(bogus, "{\"not\": \"a model\"}");
        assertThatThrownBy(() -> T5Tokenizer.fromModel(bogus, 100)).isInstanceOf(CogVideoXException.class)
                .hasMessageContaining("not a SentencePiece model");
    }
}
