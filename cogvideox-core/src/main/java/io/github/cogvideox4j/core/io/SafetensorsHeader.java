package io.github.cogvideox4j.core.io;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The parsed and validated header of one safetensors file. Package-private: {@link SafetensorsReader} is
 * the public face.
 *
 * <p>The rules are those of the reference implementation (huggingface/safetensors, Rust
 * {@code safetensors/src/tensor.rs}: {@code read_metadata} and {@code Metadata::validate}):
 * <ul>
 *   <li>the first 8 bytes are an unsigned little-endian header length {@code N <= 100_000_000} with
 *       {@code 8 + N <= file size};</li>
 *   <li>the header is UTF-8 JSON: one object whose keys are tensor names, plus an optional
 *       {@code "__metadata__"} object of string values (or {@code null}); surrounding whitespace is
 *       allowed (writers pad with spaces), anything else after the object is not;</li>
 *   <li>each tensor entry is an object with a string {@code "dtype"}, an array {@code "shape"} of
 *       non-negative integers and an array {@code "data_offsets"} of exactly two non-negative integers;
 *       other keys are ignored, as the reference does;</li>
 *   <li>sorted by offsets, the tensors tile the data buffer exactly: the first starts at 0, each starts
 *       where the previous ended (a gap or an overlap is an error), and the last ends at the end of the
 *       file (trailing bytes are an error, {@code MetadataIncompleteBuffer} in the reference);</li>
 *   <li>{@code end - begin == numel * dtype size}, computed with overflow checks.</li>
 * </ul>
 * Stricter than the reference: duplicate JSON keys are rejected (serde keeps one silently), numbers
 * must be plain JSON integers (no NaN, Infinity, fractions or exponents), and the dtype set is the one of
 * {@link SafetensorsDType}.
 *
 * @param headerLength N, the length of the JSON header in bytes
 * @param tensors the entries, in storage (offset) order
 * @param metadata the {@code __metadata__} strings, in file order
 */
record SafetensorsHeader(long headerLength, Map<String, TensorInfo> tensors, Map<String, String> metadata) {

    /** The reference implementation's bound on the JSON header length. */
    static final long MAX_HEADER_LENGTH = 100_000_000L;

    static final String METADATA_KEY = "__metadata__";

    /** Strict JSON: duplicate keys and trailing tokens fail; NaN/Infinity stay disallowed (the default). */
    private static final ObjectMapper JSON = JsonMapper.builder(
                    JsonFactory.builder()
                            .streamReadConstraints(StreamReadConstraints.builder()
                                    .maxStringLength((int) MAX_HEADER_LENGTH)
                                    .maxNameLength((int) MAX_HEADER_LENGTH)
                                    .build())
                            .build())
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    /**
     * Checks the 8-byte length prefix against the file size.
     *
     * @param file the file (for messages)
     * @param prefix the first 8 bytes
     * @param fileSize the size of the whole file
     * @return N, the header length
     */
    static long headerLength(Path file, ByteBuffer prefix, long fileSize) {
        long n = prefix.duplicate().order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        if (n < 0 || n > MAX_HEADER_LENGTH) {
            throw new SafetensorsFormatException(file, null, "header length " + Long.toUnsignedString(n)
                    + " exceeds the limit of " + MAX_HEADER_LENGTH + " bytes");
        }
        if (n > fileSize - 8) {
            throw new SafetensorsFormatException(file, null, "header length " + n + " runs past the end of the"
                    + " file: expected at most " + (fileSize - 8) + " (file size " + fileSize + " - 8)");
        }
        return n;
    }

    /**
     * Parses and validates a header.
     *
     * @param file the file (for messages)
     * @param json the N header bytes
     * @param dataLength the size of the data buffer, {@code file size - 8 - N}
     * @return the validated header
     * @throws SafetensorsFormatException for every violation of the rules in the class comment
     */
    static SafetensorsHeader parse(Path file, byte[] json, long dataLength) {
        JsonNode root = parseJson(file, json, "header");
        if (!root.isObject()) {
            throw new SafetensorsFormatException(file, null,
                    "header must be a JSON object, found " + root.getNodeType());
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        List<TensorInfo> entries = new ArrayList<>();
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            if (METADATA_KEY.equals(e.getKey())) {
                readMetadata(file, e.getValue(), metadata);
            } else {
                entries.add(readEntry(file, e.getKey(), e.getValue(), dataLength));
            }
        }
        // Storage order: by (begin, end); ties (empty tensors) keep their JSON order (stable sort).
        entries.sort(Comparator.comparingLong(TensorInfo::begin).thenComparingLong(TensorInfo::end));
        long expected = 0;
        String previous = null;
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        for (TensorInfo t : entries) {
            if (t.begin() < expected) {
                throw new SafetensorsFormatException(file, t.name(), "data_offsets [" + t.begin() + ", " + t.end()
                        + ") overlap tensor '" + previous + "', which ends at " + expected
                        + ": expected begin " + expected);
            }
            if (t.begin() > expected) {
                throw new SafetensorsFormatException(file, t.name(), "gap before data_offsets [" + t.begin() + ", "
                        + t.end() + "): expected begin " + expected + (previous == null ? " (first tensor)"
                        : " (end of tensor '" + previous + "')") + ", actual " + t.begin());
            }
            expected = t.end();
            previous = t.name();
            tensors.put(t.name(), t);
        }
        if (expected != dataLength) {
            throw new SafetensorsFormatException(file, null, "data buffer is " + dataLength + " bytes but the"
                    + " tensors cover " + expected + ": expected the last tensor to end at the end of the file ("
                    + (dataLength - expected) + " trailing bytes)");
        }
        return new SafetensorsHeader(json.length, Collections.unmodifiableMap(tensors),
                Collections.unmodifiableMap(metadata));
    }

    /**
     * Decodes strict UTF-8 and parses strict JSON.
     *
     * @param what "header" or "index" (for messages)
     */
    static JsonNode parseJson(Path file, byte[] json, String what) {
        CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        CharBuffer text;
        try {
            text = utf8.decode(ByteBuffer.wrap(json));
        } catch (CharacterCodingException e) {
            throw new SafetensorsFormatException(file, null, what + " is not valid UTF-8", e);
        }
        JsonNode root;
        try {
            root = JSON.readTree(text.toString());
        } catch (JacksonException e) {
            throw new SafetensorsFormatException(file, null, what + " is not valid JSON: "
                    + e.getOriginalMessage() + describeLocation(e), e);
        }
        if (root == null || root.isMissingNode()) {
            throw new SafetensorsFormatException(file, null, what + " is empty: expected a JSON object");
        }
        return root;
    }

    private static String describeLocation(JacksonException e) {
        return e.getLocation() == null ? ""
                : " (line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")";
    }

    private static void readMetadata(Path file, JsonNode node, Map<String, String> out) {
        if (node.isNull()) {
            return; // the reference accepts null as "no metadata"
        }
        if (!node.isObject()) {
            throw new SafetensorsFormatException(file, null,
                    "\"__metadata__\" must be an object of strings, found " + node.getNodeType());
        }
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            if (!e.getValue().isTextual()) {
                throw new SafetensorsFormatException(file, null, "\"__metadata__\" value of key \"" + e.getKey()
                        + "\" must be a string, found " + e.getValue().getNodeType() + " " + abbreviate(e.getValue()));
            }
            out.put(e.getKey(), e.getValue().textValue());
        }
    }

    private static TensorInfo readEntry(Path file, String name, JsonNode node, long dataLength) {
        if (!node.isObject()) {
            throw new SafetensorsFormatException(file, name,
                    "entry must be an object with dtype, shape and data_offsets, found " + node.getNodeType());
        }
        JsonNode dtypeNode = required(file, name, node, "dtype");
        if (!dtypeNode.isTextual()) {
            throw new SafetensorsFormatException(file, name,
                    "\"dtype\" must be a string, found " + dtypeNode.getNodeType() + " " + abbreviate(dtypeNode));
        }
        SafetensorsDType dtype = parseDType(file, name, dtypeNode.textValue());
        long[] shape = nonNegativeIntegers(file, name, required(file, name, node, "shape"), "shape", -1);
        long[] offsets = nonNegativeIntegers(file, name, required(file, name, node, "data_offsets"),
                "data_offsets", 2);
        long begin = offsets[0];
        long end = offsets[1];
        if (begin > end) {
            throw new SafetensorsFormatException(file, name, "data_offsets [" + begin + ", " + end
                    + "]: begin is after end");
        }
        long bytes;
        try {
            long numel = 1;
            for (long d : shape) {
                numel = Math.multiplyExact(numel, d);
            }
            bytes = Math.multiplyExact(numel, (long) dtype.byteSize());
        } catch (ArithmeticException e) {
            throw new SafetensorsFormatException(file, name, "shape " + java.util.Arrays.toString(shape)
                    + " with dtype " + dtype + " overflows a 64-bit byte count");
        }
        if (end - begin != bytes) {
            throw new SafetensorsFormatException(file, name, "byte size mismatch: dtype " + dtype + " x shape "
                    + java.util.Arrays.toString(shape) + " needs " + bytes + " bytes, data_offsets [" + begin + ", "
                    + end + "] give " + (end - begin));
        }
        if (end > dataLength) {
            throw new SafetensorsFormatException(file, name, "data_offsets end " + end
                    + " is past the end of the data buffer: expected at most " + dataLength);
        }
        return new TensorInfo(name, dtype, shape, begin, end);
    }

    static SafetensorsDType parseDType(Path file, String tensor, String dtype) {
        for (SafetensorsDType t : SafetensorsDType.values()) {
            if (t.name().equals(dtype)) {
                return t;
            }
        }
        throw new SafetensorsFormatException(file, tensor, SafetensorsDType.unknownMessage(dtype));
    }

    private static JsonNode required(Path file, String name, JsonNode entry, String key) {
        JsonNode v = entry.get(key);
        if (v == null) {
            throw new SafetensorsFormatException(file, name, "entry lacks \"" + key + "\" (expected dtype, shape"
                    + " and data_offsets)");
        }
        return v;
    }

    /**
     * @param count the required length, or -1 for any
     */
    private static long[] nonNegativeIntegers(Path file, String name, JsonNode node, String key, int count) {
        if (!node.isArray()) {
            throw new SafetensorsFormatException(file, name, "\"" + key + "\" must be an array of non-negative"
                    + " integers, found " + node.getNodeType() + " " + abbreviate(node));
        }
        if (count >= 0 && node.size() != count) {
            throw new SafetensorsFormatException(file, name, "\"" + key + "\" must have " + count
                    + " elements, found " + node.size());
        }
        long[] out = new long[node.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = node.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
                throw new SafetensorsFormatException(file, name, "\"" + key + "\"[" + i + "] must be a"
                        + " non-negative integer below 2^63, found " + v.getNodeType() + " " + abbreviate(v));
            }
            out[i] = v.longValue();
        }
        return out;
    }

    private static String abbreviate(JsonNode node) {
        String s = node.toString();
        return s.length() <= 80 ? s : s.substring(0, 77) + "...";
    }
}
