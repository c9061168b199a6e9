package io.github.cogvideox4j.core.text;

import com.google.common.base.Preconditions;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Writes a SentencePiece unigram model file ({@code spiece.model}): the serialised {@code sentencepiece.ModelProto}
 * of sentencepiece's {@code src/sentencepiece_model.proto}, built from a list of pieces rather than trained. It lets
 * a tokenizer folder exist without a downloaded model; {@link T5Tokenizer} loads the result through DJL's
 * SentencePiece binding like any released {@code spiece.model}.
 *
 * <p>What is written: every piece ({@code pieces}, field 1: text, score, type), a {@code trainer_spec} (field 2:
 * {@code model_type} UNIGRAM, {@code vocab_size}, and T5's ids {@code pad_id} 0, {@code eos_id} 1, {@code unk_id} 2,
 * {@code bos_id} -1) and a {@code normalizer_spec} (field 3) named {@code identity} with no character map:
 * whitespace runs are collapsed and trimmed, a {@code ▁} is prefixed and spaces become {@code ▁}, but unlike T5's
 * {@code nmt_nfkc} nothing is NFKC-folded, so a character is known only if it is a piece of its own.
 *
 * <p>The protobuf bytes are written by hand (varints, length-delimited fields, little-endian fixed32 floats): the
 * project has no protobuf dependency and the message has three nesting levels.
 *
 * <p>Thread safety: stateless.
 */
public final class SentencePieceModelWriter {
    /** The word-boundary mark SentencePiece puts in place of a space (U+2581). */
    public static final String WORD_START = "\u2581";

    private static final float WORD_SCORE = -1f;
    private static final float CHARACTER_SCORE = -5f;

    private SentencePieceModelWriter() {}

    /** The type of a piece, numbered as {@code ModelProto.SentencePiece.Type}. */
    public enum PieceType {
        /** A piece the unigram model segments text into. */
        NORMAL(1),
        /** The unknown piece (exactly one per model). */
        UNKNOWN(2),
        /** A control symbol, never produced from text ({@code <pad>}, {@code </s>}). */
        CONTROL(3);

        private final int number;

        PieceType(int number) {
            this.number = number;
        }

        /** @return the enum number in the proto */
        public int number() {
            return number;
        }
    }

    /**
     * One vocabulary entry; its id is its position in the list.
     *
     * @param text the piece (UTF-8 in the file), not empty
     * @param score the unigram log-probability (higher is preferred when segmenting); finite
     * @param type the piece type
     */
    public record Piece(String text, float score, PieceType type) {
        /** Validates the entry. */
        public Piece {
            Preconditions.checkArgument(text != null && !text.isEmpty(), "a piece must not be empty");
            Preconditions.checkArgument(Float.isFinite(score), "piece '%s': score %s is not finite", text, score);
            Preconditions.checkNotNull(type, "type");
        }
    }

    /**
     * A T5-style vocabulary for the given texts: {@code <pad>} 0, {@code </s>} 1, {@code <unk>} 2 (T5's ids), then
     * {@code ▁}, then every single character of {@code a-z A-Z 0-9 . , ' - ! ?} and of the texts (whitespace
     * excluded), sorted by code point, then {@code ▁word} for every distinct whitespace-separated word of the texts in
     * first-seen order. Whole words score -1, single characters -5, so a
     * word of the texts is one piece ({@code ▁word}) and any other word of known characters is spelled out as
     * {@code ▁} followed by its characters; other characters become {@code <unk>}.
     *
     * @param texts the texts whose words get pieces of their own (the captions a tiny model will see)
     * @return the pieces, in id order
     */
    public static List<Piece> t5Vocabulary(Collection<String> texts) {
        Preconditions.checkNotNull(texts, "texts");
        List<Piece> pieces = new ArrayList<>();
        pieces.add(new Piece("<pad>", 0f, PieceType.CONTROL));
        pieces.add(new Piece("</s>", 0f, PieceType.CONTROL));
        pieces.add(new Piece("<unk>", 0f, PieceType.UNKNOWN));
        pieces.add(new Piece(WORD_START, CHARACTER_SCORE, PieceType.NORMAL));
        Set<Integer> characters = new TreeSet<>();
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,'-!?".codePoints().forEach(characters::add);
        Set<String> words = new LinkedHashSet<>();
        for (String text : texts) {
            text.codePoints().filter(c -> !Character.isWhitespace(c)).forEach(characters::add);
            for (String word : text.strip().split("\\s+")) {
                if (!word.isEmpty()) {
                    words.add(word);
                }
            }
        }
        for (int c : characters) {
            pieces.add(new Piece(new String(Character.toChars(c)), CHARACTER_SCORE, PieceType.NORMAL));
        }
        for (String word : words) {
            pieces.add(new Piece(WORD_START + word, WORD_SCORE, PieceType.NORMAL));
        }
        return List.copyOf(pieces);
    }

    /**
     * Serialises a unigram model with T5's special ids (see the class comment).
     *
     * @param pieces the vocabulary in id order: {@code <pad>} (CONTROL) at 0, {@code </s>} (CONTROL) at 1 and the
     *     only UNKNOWN piece at 2, as {@link T5Tokenizer} assumes; no duplicates
     * @return the {@code ModelProto} bytes
     * @throws IllegalArgumentException if the special pieces are not where T5 has them, or a piece repeats
     */
    public static byte[] serialize(List<Piece> pieces) {
        Preconditions.checkArgument(pieces.size() > 3, "a vocabulary needs more than the 3 special pieces, got %s",
                pieces.size());
        requireSpecial(pieces, T5Tokenizer.PAD_ID, "<pad>", PieceType.CONTROL);
        requireSpecial(pieces, T5Tokenizer.EOS_ID, "</s>", PieceType.CONTROL);
        requireSpecial(pieces, T5Tokenizer.UNK_ID, "<unk>", PieceType.UNKNOWN);
        Set<String> seen = new HashSet<>();
        for (int i = 0; i < pieces.size(); i++) {
            Piece p = pieces.get(i);
            Preconditions.checkArgument(seen.add(p.text()), "piece '%s' (id %s) appears twice", p.text(), i);
            Preconditions.checkArgument(i == T5Tokenizer.UNK_ID || p.type() != PieceType.UNKNOWN,
                    "piece '%s' (id %s): only id %s may be UNKNOWN", p.text(), i, T5Tokenizer.UNK_ID);
        }
        Proto model = new Proto();
        for (Piece p : pieces) {
            model.message(1, new Proto().string(1, p.text()).float32(2, p.score()).int32(3, p.type().number()));
        }
        model.message(2, new Proto()
                .int32(3, 1)                                  // model_type: UNIGRAM
                .int32(4, pieces.size())                      // vocab_size
                .int32(40, T5Tokenizer.UNK_ID)                // unk_id
                .int32(41, -1)                                // bos_id: T5 has none
                .int32(42, T5Tokenizer.EOS_ID)                // eos_id
                .int32(43, T5Tokenizer.PAD_ID)                // pad_id
                .string(45, "<unk>").string(47, "</s>").string(48, "<pad>"));
        model.message(3, new Proto()
                .string(1, "identity")                        // name; no precompiled_charsmap (field 2)
                .int32(3, 1)                                  // add_dummy_prefix
                .int32(4, 1)                                  // remove_extra_whitespaces
                .int32(5, 1));                                // escape_whitespaces
        return model.bytes();
    }

    /**
     * Writes {@link #serialize} of the pieces to a file (atomically: a temporary file is moved into place).
     *
     * @param file the {@code spiece.model} to write
     * @param pieces the vocabulary (see {@link #serialize})
     * @throws IOException if the file cannot be written
     */
    public static void write(Path file, List<Piece> pieces) throws IOException {
        byte[] bytes = serialize(pieces);
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, file.getFileName().toString(), ".tmp");
        try {
            Files.write(tmp, bytes);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    private static void requireSpecial(List<Piece> pieces, int id, String text, PieceType type) {
        Piece p = pieces.get(id);
        Preconditions.checkArgument(p.text().equals(text) && p.type() == type,
                "id %s must be %s (%s) as in T5, got '%s' (%s)", id, text, type, p.text(), p.type());
    }

    /** A protobuf message under construction: fields appended in the order written. */
    private static final class Proto {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        private void varint(long v) {
            while ((v & ~0x7FL) != 0) {
                out.write((int) ((v & 0x7F) | 0x80));
                v >>>= 7;
            }
            out.write((int) v);
        }

        private void key(int field, int wireType) {
            varint(((long) field << 3) | wireType);
        }

        /** An int32, bool or enum field (wire type 0; a negative int32 takes ten bytes, as protobuf writes it). */
        Proto int32(int field, int value) {
            key(field, 0);
            varint(value);
            return this;
        }

        /** A float field (wire type 5, little-endian IEEE 754). */
        Proto float32(int field, float value) {
            key(field, 5);
            int bits = Float.floatToIntBits(value);
            for (int i = 0; i < 4; i++) {
                out.write((bits >>> (8 * i)) & 0xFF);
            }
            return this;
        }

        /** A string field (wire type 2, UTF-8). */
        Proto string(int field, String value) {
            return lengthDelimited(field, value.getBytes(StandardCharsets.UTF_8));
        }

        /** A nested message field (wire type 2). */
        Proto message(int field, Proto value) {
            return lengthDelimited(field, value.bytes());
        }

        private Proto lengthDelimited(int field, byte[] bytes) {
            key(field, 2);
            varint(bytes.length);
            out.writeBytes(bytes);
            return this;
        }

        byte[] bytes() {
            return out.toByteArray();
        }
    }
}
