package io.github.cogvideox4j.data.manifest;

import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Validates candidate entries (files exist, caption not empty, no duplicate) and collects entries and problems. */
final class ManifestCollector {
    private final List<ManifestEntry> entries = new ArrayList<>();
    private final List<ManifestProblem> problems = new ArrayList<>();
    private final Map<Path, String> firstDeclaration = new HashMap<>();

    /**
     * Checks one declaration and keeps it when it is sound.
     *
     * @param source declaring file
     * @param line 1-based line in {@code source}
     * @param baseDir folder relative paths resolve against
     * @param mediaRef the path as written (may be null or blank: malformed)
     * @param caption the caption as written (null or blank: empty caption)
     * @param type explicit type, or empty to decide by extension
     * @param imageRef conditioning image path as written, or null
     */
    void add(Path source, int line, Path baseDir, String mediaRef, String caption, Optional<MediaType> type,
            String imageRef) {
        if (mediaRef == null || mediaRef.isBlank()) {
            problem(source, line, ManifestProblem.Kind.MALFORMED, "no media path");
            return;
        }
        Path media = resolve(source, line, baseDir, mediaRef);
        if (media == null) {
            return;
        }
        boolean ok = true;
        if (caption == null || caption.isBlank()) {
            problem(source, line, ManifestProblem.Kind.EMPTY_CAPTION, "empty caption for " + mediaRef.trim());
            ok = false;
        }
        if (!Files.isRegularFile(media)) {
            problem(source, line, ManifestProblem.Kind.MISSING_FILE, "media file " + mediaRef.trim()
                    + " does not exist (resolved to " + media + ")");
            ok = false;
        }
        Optional<Path> image = Optional.empty();
        if (imageRef != null && !imageRef.isBlank()) {
            Path img = resolve(source, line, baseDir, imageRef);
            if (img == null) {
                return;
            }
            if (!Files.isRegularFile(img)) {
                problem(source, line, ManifestProblem.Kind.MISSING_FILE, "conditioning image " + imageRef.trim()
                        + " does not exist (resolved to " + img + ")");
                ok = false;
            }
            image = Optional.of(img);
        }
        if (!ok) {
            return;
        }
        String where = source + ":" + line;
        String first = firstDeclaration.putIfAbsent(media, where);
        if (first != null) {
            problem(source, line, ManifestProblem.Kind.DUPLICATE, mediaRef.trim() + " already declared at " + first);
            return;
        }
        MediaType resolvedType = type.or(() -> MediaType.fromExtension(media)).orElse(MediaType.VIDEO);
        entries.add(new ManifestEntry(media, caption.trim(), resolvedType, image, source, line));
    }

    void problem(Path file, int line, ManifestProblem.Kind kind, String detail) {
        problems.add(new ManifestProblem(file, line, kind, detail));
    }

    DatasetManifest build(Path root, ManifestLayout layout) {
        return new DatasetManifest(root, layout, entries, problems);
    }

    private Path resolve(Path source, int line, Path baseDir, String ref) {
        try {
            return baseDir.resolve(ref.trim()).toAbsolutePath().normalize();
        } catch (InvalidPathException e) {
            problem(source, line, ManifestProblem.Kind.MALFORMED, "invalid path '" + ref + "': " + e.getReason());
            return null;
        }
    }
}
