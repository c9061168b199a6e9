package io.github.cogvideox4j.core.text;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.cogvideox4j.core.text.SentencePieceModelWriter.Piece;
import io.github.cogvideox4j.core.text.SentencePieceModelWriter.PieceType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The hand-serialised SentencePiece model: what DJL's SentencePiece loads, and what it refuses to write. */
class SentencePieceModelWriterTest {
    @TempDir
    Path tmp;

    @Test
    void writtenModelLoadsThroughDjlWithEveryPieceCounted() throws Exception {
        List<Piece> pieces = SentencePieceModelWriter.t5Vocabulary(List.of("a green square"));
        Path file = tmp.resolve("spiece.model");
        SentencePieceModelWriter.write(file, pieces);
        try (T5Tokenizer tok = T5Tokenizer.fromModel(file, 0)) {
            assertThat(tok.pieceCount()).isEqualTo(pieces.size());
            int green = pieces.indexOf(new Piece(SentencePieceModelWriter.WORD_START + "green", -1f,
                    PieceType.NORMAL));
            assertThat(tok.tokenize("  green  ")).containsExactly(green);
        }
    }

    @Test
    void vocabularyStartsWithT5sSpecialIds() {
        List<Piece> pieces = SentencePieceModelWriter.t5Vocabulary(List.of());
        assertThat(pieces.get(T5Tokenizer.PAD_ID).text()).isEqualTo("<pad>");
        assertThat(pieces.get(T5Tokenizer.EOS_ID).text()).isEqualTo("</s>");
        assertThat(pieces.get(T5Tokenizer.UNK_ID).type()).isEqualTo(PieceType.UNKNOWN);
    }

    @Test
    void refusesAVocabularyWithoutT5sSpecialIds() {
        List<Piece> pieces = new ArrayList<>(SentencePieceModelWriter.t5Vocabulary(List.of()));
        pieces.set(1, new Piece("<s>", 0f, PieceType.CONTROL));
        assertThatThrownBy(() -> SentencePieceModelWriter.serialize(pieces))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("id 1 must be </s>");
    }

    @Test
    void refusesARepeatedPiece() {
        List<Piece> pieces = new ArrayList<>(SentencePieceModelWriter.t5Vocabulary(List.of()));
        pieces.add(pieces.get(5));
        assertThatThrownBy(() -> SentencePieceModelWriter.serialize(pieces))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("appears twice");
    }
}
