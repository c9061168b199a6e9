package io.github.cogvideox4j.data.manifest;

import java.nio.file.Path;
import java.util.Objects;

/**
 * A bad manifest entry, located by file and line. The entry it describes is not in
 * {@link DatasetManifest#entries()}.
 *
 * <p>Thread safety: immutable.
 *
 * @param file the manifest file (or caption file) holding the bad entry
 * @param line 1-based line number in {@code file}
 * @param kind what is wrong
 * @param detail a sentence naming the offending value (path, caption, first occurrence)
 */
public record ManifestProblem(Path file, int line, Kind kind, String detail) {
    /** What is wrong with an entry. */
    public enum Kind {
        /** The named media or conditioning image does not exist or is not a regular file. */
        MISSING_FILE,
        /** The caption is empty or only whitespace. */
        EMPTY_CAPTION,
        /** The media file was already declared (the first declaration is kept). */
        DUPLICATE,
        /** The line cannot be parsed (bad JSON, missing column, unknown type, unmatched line count). */
        MALFORMED
    }

    /** Checks the components. */
    public ManifestProblem {
        Objects.requireNonNull(file, "file");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(detail, "detail");
    }

    @Override
    public String toString() {
        return file + ":" + line + ": " + kind + ": " + detail;
    }
}
