package io.github.cogvideox4j.lora.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;

/**
 * Reads typed values out of a JSON/YAML tree and collects every problem (wrong type, unknown key) with its key path
 * instead of stopping at the first. A value that cannot be read is reported and returned as {@code null}, so the
 * caller falls back to the default and goes on. Not thread-safe; one instance per read.
 */
final class ConfigTree {
    private final List<String> problems = new ArrayList<>();

    List<String> problems() {
        return problems;
    }

    void problem(String path, String message) {
        problems.add(path + ": " + message);
    }

    static String join(String path, String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    /** The child, or null when absent or YAML/JSON null. */
    static JsonNode child(JsonNode parent, String key) {
        JsonNode v = parent == null ? null : parent.get(key);
        return v == null || v.isNull() || v.isMissingNode() ? null : v;
    }

    ObjectNode object(JsonNode parent, String key, String path) {
        JsonNode v = child(parent, key);
        if (v == null) {
            return null;
        }
        if (!v.isObject()) {
            problem(join(path, key), "expected a mapping of keys, got " + describe(v));
            return null;
        }
        return (ObjectNode) v;
    }

    /** Reports every key of {@code obj} not in {@code known}, with a suggestion when one is close. */
    void checkKeys(JsonNode obj, String path, Collection<String> known) {
        if (obj == null) {
            return;
        }
        Iterator<String> names = obj.fieldNames();
        while (names.hasNext()) {
            String k = names.next();
            if (!known.contains(k)) {
                String hint = closest(k, known);
                problem(join(path, k), "unknown key" + (hint == null ? "" : " (did you mean '" + hint + "'?)")
                        + "; known keys here: " + String.join(", ", known));
            }
        }
    }

    Long integer(JsonNode parent, String key, String path) {
        JsonNode v = child(parent, key);
        if (v == null) {
            return null;
        }
        if (v.isIntegralNumber() && v.canConvertToLong()) {
            return v.asLong();
        }
        if (v.isTextual()) {
            try {
                return Long.parseLong(v.asText().trim().replace("_", ""));
            } catch (NumberFormatException e) {
                // reported below
            }
        }
        if (v.isFloatingPointNumber() && v.asDouble() == Math.rint(v.asDouble()) && Math.abs(v.asDouble()) < 1e15) {
            return (long) v.asDouble();
        }
        problem(join(path, key), "expected an integer, got " + describe(v));
        return null;
    }

    Integer int32(JsonNode parent, String key, String path) {
        Long v = integer(parent, key, path);
        if (v == null) {
            return null;
        }
        if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
            problem(join(path, key), "must fit a 32-bit integer, got " + v);
            return null;
        }
        return v.intValue();
    }

    Double number(JsonNode parent, String key, String path) {
        JsonNode v = child(parent, key);
        return v == null ? null : numberValue(v, join(path, key));
    }

    private Double numberValue(JsonNode v, String path) {
        if (v.isNumber()) {
            return v.asDouble();
        }
        if (v.isTextual()) {
            // YAML 1.1 reads "1e-4" (no dot) as a string: accept numeric text
            try {
                return Double.parseDouble(v.asText().trim());
            } catch (NumberFormatException e) {
                // reported below
            }
        }
        problem(path, "expected a number, got " + describe(v));
        return null;
    }

    Boolean bool(JsonNode parent, String key, String path) {
        JsonNode v = child(parent, key);
        if (v == null) {
            return null;
        }
        if (v.isBoolean()) {
            return v.asBoolean();
        }
        if (v.isTextual()) {
            String t = v.asText().trim().toLowerCase(Locale.ROOT);
            if (t.equals("true") || t.equals("false")) {
                return Boolean.valueOf(t);
            }
        }
        problem(join(path, key), "expected true or false, got " + describe(v));
        return null;
    }

    String text(JsonNode parent, String key, String path) {
        JsonNode v = child(parent, key);
        if (v == null) {
            return null;
        }
        if (v.isValueNode()) {
            return v.asText();
        }
        problem(join(path, key), "expected a string, got " + describe(v));
        return null;
    }

    Path path(JsonNode parent, String key, String path) {
        String t = text(parent, key, path);
        if (t == null) {
            return null;
        }
        if (t.isBlank()) {
            problem(join(path, key), "expected a path, got an empty string");
            return null;
        }
        for (int i = 0; i < t.length(); i++) {
            if (Character.isISOControl(t.charAt(i))) {
                // A control character (a NUL, a form feed, a NEL that YAML reads as a line break) is a typo, and it
                // would not survive the config's own YAML text
                problem(join(path, key), String.format("a path must not contain control characters; U+%04X at "
                        + "index %d", (int) t.charAt(i), i));
                return null;
            }
        }
        try {
            Path p = Path.of(t);
            if (p.toString().isBlank()) {
                // "   //" names the folder "   ", which the config's own text would read back as empty
                problem(join(path, key), "expected a path, got only spaces and slashes: '" + t + "'");
                return null;
            }
            return p;
        } catch (InvalidPathException e) {
            problem(join(path, key), "not a valid path: " + e.getMessage());
            return null;
        }
    }

    List<String> texts(JsonNode parent, String key, String path) {
        JsonNode v = child(parent, key);
        if (v == null) {
            return null;
        }
        if (!v.isArray()) {
            problem(join(path, key), "expected a list, got " + describe(v));
            return null;
        }
        List<String> out = new ArrayList<>();
        for (int i = 0; i < v.size(); i++) {
            JsonNode e = v.get(i);
            if (e.isValueNode() && !e.isNull()) {
                out.add(e.asText());
            } else {
                problem(join(path, key) + "[" + i + "]", "expected a string, got " + describe(e));
            }
        }
        return out;
    }

    List<Double> numbers(JsonNode parent, String key, String path) {
        JsonNode v = child(parent, key);
        if (v == null) {
            return null;
        }
        if (!v.isArray()) {
            problem(join(path, key), "expected a list of numbers, got " + describe(v));
            return null;
        }
        List<Double> out = new ArrayList<>();
        boolean ok = true;
        for (int i = 0; i < v.size(); i++) {
            Double d = numberValue(v.get(i), join(path, key) + "[" + i + "]");
            ok &= d != null;
            out.add(d);
        }
        return ok ? out : null;
    }

    /** An enum written in lower case in the file (e.g. {@code diffusers_480x720}). */
    <E extends Enum<E>> E enumValue(JsonNode parent, String key, String path, Class<E> type) {
        String t = text(parent, key, path);
        if (t == null) {
            return null;
        }
        for (E e : type.getEnumConstants()) {
            if (e.name().equalsIgnoreCase(t.trim())) {
                return e;
            }
        }
        List<String> names = new ArrayList<>();
        for (E e : type.getEnumConstants()) {
            names.add(e.name().toLowerCase(Locale.ROOT));
        }
        problem(join(path, key), "expected one of " + String.join(", ", names) + ", got '" + t + "'");
        return null;
    }

    static String describe(JsonNode v) {
        if (v.isTextual()) {
            return "'" + v.asText() + "'";
        }
        if (v.isObject()) {
            return "a mapping";
        }
        if (v.isArray()) {
            return "a list";
        }
        return v.toString();
    }

    /** The known key nearest to {@code key} (after normalising case and dashes), if it is close. */
    static String closest(String key, Collection<String> known) {
        String norm = key.replace('-', '_').replaceAll("([a-z])([A-Z])", "$1_$2").toLowerCase(Locale.ROOT);
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String k : known) {
            int d = k.equals(norm) ? 0 : distance(norm, k);
            if (d > 1 && Math.min(k.length(), norm.length()) >= 4 && (k.contains(norm) || norm.contains(k))) {
                d = 1; // "warmup" for "warmup_steps", "lora_alpha" for "alpha"
            }
            if (d < bestDistance) {
                bestDistance = d;
                best = k;
            }
        }
        return bestDistance <= Math.max(2, key.length() / 4) ? best : null;
    }

    private static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }
}
