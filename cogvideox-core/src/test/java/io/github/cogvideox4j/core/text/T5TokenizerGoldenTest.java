package io.github.cogvideox4j.core.text;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.cogvideox4j.core.testing.Golden;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** T5Tokenizer against transformers' T5Tokenizer(legacy=True) (shared/golden/t5/tokenizer/tokens.json). */
class T5TokenizerGoldenTest {

    private static JsonNode cases() throws Exception {
        JsonNode cases = new ObjectMapper().readTree(Golden.path("t5", "tokenizer", "tokens.json").toFile())
                .get("cases");
        assertThat(cases.size()).isEqualTo(51);
        return cases;
    }

    private static T5Tokenizer tokenizer() throws Exception {
        return T5Tokenizer.fromModel(Golden.path("t5", "tokenizer", "spiece.model"), 100);
    }

    @Test
    void all51PromptsGiveTheReferenceIdsAndMasksExactly() throws Exception {
        List<String> failures = new ArrayList<>();
        try (T5Tokenizer tok = tokenizer()) {
            for (JsonNode c : cases()) {
                String prompt = c.get("prompt").asText();
                TokenizedPrompt t = tok.encode(prompt, 226);
                long[] expected = new long[226];
                for (int i = 0; i < 226; i++) {
                    expected[i] = c.get("input_ids").get(i).asLong();
                }
                long maskSum = java.util.Arrays.stream(t.attentionMask()).sum();
                if (!java.util.Arrays.equals(t.inputIds(), expected)
                        || maskSum != c.get("attention_mask_sum").asLong()
                        || t.untruncatedLength() != c.get("untruncated_len(incl EOS)").asInt()) {
                    failures.add(String.format("%s: got %s (mask %d, len %d), expected %s (mask %s, len %s)",
                            prompt.length() > 40 ? prompt.substring(0, 40) : prompt, str(t.inputIds()), maskSum,
                            t.untruncatedLength(), str(expected), c.get("attention_mask_sum"),
                            c.get("untruncated_len(incl EOS)")));
                }
            }
        }
        assertThat(failures).isEmpty();
    }

    @Test
    void rawSentencePieceIdsMatchForPromptsWithoutSpecialTokens() throws Exception {
        try (T5Tokenizer tok = tokenizer()) {
            for (JsonNode c : cases()) {
                String prompt = c.get("prompt").asText();
                if (prompt.contains("<") || prompt.length() > 300) {
                    continue;
                }
                JsonNode raw = c.get("sp_encode_ids(raw sentencepiece, no EOS)");
                int[] expected = new int[raw.size()];
                for (int i = 0; i < expected.length; i++) {
                    expected[i] = raw.get(i).asInt();
                }
                assertThat(tok.tokenize(prompt)).as("prompt %s", prompt).containsExactly(expected);
            }
        }
    }

    @Test
    void vocabularyHas200PiecesPlus100ExtraIds() throws Exception {
        try (T5Tokenizer tok = tokenizer()) {
            assertThat(tok.pieceCount()).isEqualTo(200);
            assertThat(tok.size()).isEqualTo(300);
            assertThat(tok.tokenize("<extra_id_0><extra_id_99><extra_id_10>")).containsExactly(299, 200, 289);
        }
    }

    private static String str(long[] ids) {
        int n = ids.length;
        while (n > 1 && ids[n - 1] == 0) {
            n--;
        }
        return java.util.Arrays.toString(java.util.Arrays.copyOf(ids, n));
    }
}
