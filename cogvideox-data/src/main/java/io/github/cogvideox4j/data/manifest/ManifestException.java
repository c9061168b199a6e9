package io.github.cogvideox4j.data.manifest;

import io.github.cogvideox4j.core.CogVideoXException;
import java.util.List;

/**
 * A manifest has problems and the caller asked for a clean one ({@link DatasetManifest#requireNoProblems()}), or
 * no layout could be recognised. The message lists every problem as {@code file:line: KIND: detail}.
 */
public class ManifestException extends CogVideoXException {
    private static final long serialVersionUID = 1L;

    private final transient List<ManifestProblem> problems;

    /**
     * @param message the summary and problem list
     * @param problems the problems (may be empty for an unrecognised layout)
     */
    public ManifestException(String message, List<ManifestProblem> problems) {
        super(message);
        this.problems = List.copyOf(problems);
    }

    /** @return the problems this exception reports (immutable) */
    public List<ManifestProblem> problems() {
        return problems;
    }
}
