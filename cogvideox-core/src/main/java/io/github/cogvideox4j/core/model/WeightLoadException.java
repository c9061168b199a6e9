package io.github.cogvideox4j.core.model;

import io.github.cogvideox4j.core.CogVideoXException;
import java.util.List;

/**
 * A weights file that does not match the model its config describes. Lists every missing, unexpected and
 * shape-mismatched tensor in one message; no partial model is ever returned.
 *
 * <p>Thread safety: immutable.
 */
public class WeightLoadException extends CogVideoXException {
    private static final long serialVersionUID = 1L;

    /** Tensor names the model needs that the weights lack. */
    private final List<String> missing;
    /** Tensor names in the weights that the model does not know. */
    private final List<String> unexpected;
    /** "name: expected [..], got [..]" per shape mismatch. */
    private final List<String> mismatched;

    /**
     * @param source the folder or file the weights came from
     * @param missing names the model needs that the file lacks
     * @param unexpected names the file has that the model does not know
     * @param mismatched "name: expected [..], got [..]" entries
     */
    public WeightLoadException(String source, List<String> missing, List<String> unexpected, List<String> mismatched) {
        super(message(source, missing, unexpected, mismatched));
        this.missing = List.copyOf(missing);
        this.unexpected = List.copyOf(unexpected);
        this.mismatched = List.copyOf(mismatched);
    }

    /**
     * @param message what is wrong
     * @param cause the underlying failure
     */
    public WeightLoadException(String message, Throwable cause) {
        super(message, cause);
        this.missing = List.of();
        this.unexpected = List.of();
        this.mismatched = List.of();
    }

    /** @return tensor names the model needs that the weights lack */
    public List<String> missing() {
        return missing;
    }

    /** @return tensor names in the weights that the model does not know */
    public List<String> unexpected() {
        return unexpected;
    }

    /** @return "name: expected [..], got [..]" for every shape mismatch */
    public List<String> mismatched() {
        return mismatched;
    }

    private static String message(String source, List<String> missing, List<String> unexpected,
            List<String> mismatched) {
        StringBuilder sb = new StringBuilder("weights in ").append(source).append(" do not match the config:");
        if (!missing.isEmpty()) {
            sb.append("\n  missing (").append(missing.size()).append("): ").append(abbreviate(missing));
        }
        if (!unexpected.isEmpty()) {
            sb.append("\n  unexpected (").append(unexpected.size()).append("): ").append(abbreviate(unexpected));
        }
        if (!mismatched.isEmpty()) {
            sb.append("\n  shape mismatch (").append(mismatched.size()).append("): ").append(abbreviate(mismatched));
        }
        return sb.toString();
    }

    private static String abbreviate(List<String> names) {
        int shown = Math.min(names.size(), 20);
        String list = String.join(", ", names.subList(0, shown));
        return names.size() > shown ? list + ", ... (" + (names.size() - shown) + " more)" : list;
    }
}
