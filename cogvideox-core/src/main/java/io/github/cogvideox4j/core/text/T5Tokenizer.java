package io.github.cogvideox4j.core.text;

import ai.djl.sentencepiece.SpProcessor;
import ai.djl.sentencepiece.SpTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.common.base.Preconditions;
import io.github.cogvideox4j.core.CogVideoXException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * transformers' {@code T5Tokenizer} ({@code legacy=True}, as CogVideoX ships it) over a SentencePiece
 * {@code spiece.model}, through DJL's SentencePiece binding.
 *
 * <p>Rules: the text is first split on the special tokens {@code <pad>}, {@code </s>}, {@code <unk>} and the
 * {@code extraIds} sentinels ({@code <extra_id_i>} = {@code pieces + extraIds - 1 - i}), which map to their ids; every
 * other segment is encoded by SentencePiece on its own (its nmt_nfkc normaliser: NFKC, whitespace runs collapsed, a
 * {@code ▁} prefix; unknown characters → {@code <unk>} 2). {@link #encode} then truncates to {@code maxLength - 1}
 * tokens, appends EOS (1) unless the ids already end with it, and right-pads with {@code <pad>} (0).
 *
 * <p>Thread safety: the methods are synchronized (one native processor). Close to free it.
 */
public final class T5Tokenizer implements AutoCloseable {
    /** The pad id. */
    public static final int PAD_ID = 0;
    /** The end-of-sequence id. */
    public static final int EOS_ID = 1;
    /** The unknown-piece id. */
    public static final int UNK_ID = 2;
    /** The sequence length CogVideoX uses ({@code max_text_seq_length}). */
    public static final int COGVIDEOX_MAX_LENGTH = 226;

    private static final Logger LOG = LoggerFactory.getLogger(T5Tokenizer.class);

    private final SpTokenizer sp;
    private final SpProcessor processor;
    private final int pieceCount;
    private final Map<String, Integer> specials;

    private T5Tokenizer(SpTokenizer sp, int pieceCount, int extraIds) {
        this.sp = sp;
        this.processor = sp.getProcessor();
        this.pieceCount = pieceCount;
        Map<String, Integer> m = new LinkedHashMap<>();
        m.put("<pad>", PAD_ID);
        m.put("</s>", EOS_ID);
        m.put("<unk>", UNK_ID);
        for (int i = 0; i < extraIds; i++) {
            m.put("<extra_id_" + i + ">", pieceCount + extraIds - 1 - i);
        }
        this.specials = Collections.unmodifiableMap(m);
    }

    /**
     * Loads a transformers {@code tokenizer/} folder: {@code spiece.model}, and {@code tokenizer_config.json} if
     * present ({@code extra_ids}, default 100; {@code legacy} must be absent or true).
     *
     * @param dir the folder
     * @return the tokenizer; the caller closes it
     * @throws IOException if a file cannot be read
     * @throws CogVideoXException if the file is not a SentencePiece model, or the config asks for
     *     {@code legacy=False} (not supported)
     */
    public static T5Tokenizer load(Path dir) throws IOException {
        int extraIds = 100;
        Path config = dir.resolve("tokenizer_config.json");
        if (Files.isRegularFile(config)) {
            JsonNode n = new ObjectMapper().readTree(config.toFile());
            extraIds = n.path("extra_ids").asInt(100);
            if (n.has("legacy") && !n.get("legacy").asBoolean(true)) {
                throw new CogVideoXException(config + ": legacy=false is not supported (CogVideoX ships legacy=true; "
                        + "the non-legacy T5Tokenizer treats text after special tokens differently)");
            }
        }
        return fromModel(dir.resolve("spiece.model"), extraIds);
    }

    /**
     * @param spieceModel a SentencePiece model file
     * @param extraIds sentinel tokens appended to the vocabulary (100 for T5)
     * @return the tokenizer; the caller closes it
     * @throws IOException if the file cannot be read
     * @throws CogVideoXException if the file is not a SentencePiece model
     */
    public static T5Tokenizer fromModel(Path spieceModel, int extraIds) throws IOException {
        Preconditions.checkArgument(extraIds >= 0, "extraIds must be >= 0, got %s", extraIds);
        byte[] bytes = Files.readAllBytes(spieceModel);
        int pieces = countPieces(bytes, spieceModel);
        SpTokenizer sp = new SpTokenizer(bytes);
        LOG.debug("T5 tokenizer {}: {} pieces + {} extra ids (sentencepiece {})", spieceModel, pieces, extraIds,
                sp.getProcessor().getVersion());
        return new T5Tokenizer(sp, pieces, extraIds);
    }

    /** Counts the repeated field 1 ({@code pieces}) at the top level of the ModelProto. */
    static int countPieces(byte[] b, Path file) {
        int count = 0;
        int i = 0;
        try {
            while (i < b.length) {
                long[] key = varint(b, i);
                i = (int) key[1];
                int field = (int) (key[0] >>> 3);
                int wire = (int) (key[0] & 7);
                switch (wire) {
                    case 0 -> i = (int) varint(b, i)[1];
                    case 1 -> i += 8;
                    case 5 -> i += 4;
                    case 2 -> {
                        long[] len = varint(b, i);
                        i = Math.addExact((int) len[1], Math.toIntExact(len[0]));
                        if (field == 1) {
                            count++;
                        }
                    }
                    default -> throw new CogVideoXException(file + ": not a SentencePiece model (wire type " + wire
                            + " at byte " + i + ")");
                }
            }
        } catch (ArrayIndexOutOfBoundsException | ArithmeticException e) {
            throw new CogVideoXException(file + ": not a SentencePiece model (truncated protobuf)", e);
        }
        if (i != b.length || count == 0) {
            throw new CogVideoXException(file + ": not a SentencePiece model (" + count + " pieces)");
        }
        return count;
    }

    private static long[] varint(byte[] b, int i) {
        long v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            byte x = b[i++];
            v |= (long) (x & 0x7F) << shift;
            if (x >= 0) {
                return new long[] {v, i};
            }
        }
        throw new ArithmeticException("varint too long");
    }

    /** @return the SentencePiece vocabulary size (without the extra ids) */
    public int pieceCount() {
        return pieceCount;
    }

    /** @return pieces plus extra ids: {@code len(tokenizer)} in transformers */
    public int size() {
        return pieceCount + specials.size() - 3;
    }

    /**
     * The ids of {@code tokenizer.tokenize(text)}: no EOS, no truncation, no padding.
     *
     * @param text any text
     * @return the token ids
     */
    public synchronized int[] tokenize(String text) {
        Preconditions.checkNotNull(text, "text");
        List<Integer> ids = new ArrayList<>();
        int start = 0;
        int i = 0;
        while (i < text.length()) {
            String special = text.charAt(i) == '<' ? specialAt(text, i) : null;
            if (special == null) {
                i++;
                continue;
            }
            encodeSegment(text.substring(start, i), ids);
            ids.add(specials.get(special));
            i += special.length();
            start = i;
        }
        encodeSegment(text.substring(start), ids);
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    private String specialAt(String text, int i) {
        String best = null;
        for (String s : specials.keySet()) {
            if (text.startsWith(s, i) && (best == null || s.length() > best.length())) {
                best = s;
            }
        }
        return best;
    }

    private void encodeSegment(String segment, List<Integer> ids) {
        if (segment.isEmpty()) {
            return; // transformers skips empty segments
        }
        for (int id : processor.encode(segment)) {
            ids.add(id);
        }
    }

    /**
     * {@code tokenizer(text, padding="max_length", max_length=maxLength, truncation=True, add_special_tokens=True)}.
     *
     * @param text the prompt
     * @param maxLength the padded length (226 for CogVideoX), at least 1
     * @return ids and attention mask of length {@code maxLength}
     */
    public synchronized TokenizedPrompt encode(String text, int maxLength) {
        Preconditions.checkArgument(maxLength >= 1, "maxLength must be >= 1, got %s", maxLength);
        int[] raw = tokenize(text);
        int keep = raw.length + 1 > maxLength ? maxLength - 1 : raw.length;
        boolean endsWithEos = keep > 0 && raw[keep - 1] == EOS_ID;
        if (endsWithEos) {
            LOG.warn("prompt already ends with </s>; no second EOS is added (as transformers)");
        }
        int used = endsWithEos ? keep : keep + 1;
        long[] ids = new long[maxLength];
        long[] mask = new long[maxLength];
        for (int i = 0; i < keep; i++) {
            ids[i] = raw[i];
        }
        if (!endsWithEos) {
            ids[keep] = EOS_ID;
        }
        for (int i = 0; i < used; i++) {
            mask[i] = 1;
        }
        return new TokenizedPrompt(ids, mask, raw.length + (raw.length > 0 && raw[raw.length - 1] == EOS_ID ? 0 : 1));
    }

    /** Frees the native processor. Idempotent. */
    @Override
    public synchronized void close() {
        sp.close();
    }
}
