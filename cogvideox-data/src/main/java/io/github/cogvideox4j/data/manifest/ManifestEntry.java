package io.github.cogvideox4j.data.manifest;

import com.google.common.base.Preconditions;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;

/**
 * One dataset item: a media file with its caption, where it was declared, and for image-to-video an optional
 * conditioning image (the two-file layout's {@code images.txt}, a metadata {@code image} column).
 *
 * <p>Thread safety: immutable.
 *
 * @param media absolute, normalised path of the video or image
 * @param caption the caption, trimmed, never empty
 * @param type video or image
 * @param conditioningImage absolute path of the I2V conditioning image, if the layout names one
 * @param source the manifest file that declared the item (the caption file for caption pairs and SAT labels)
 * @param line 1-based line of the declaration in {@code source}
 */
public record ManifestEntry(Path media, String caption, MediaType type, Optional<Path> conditioningImage,
        Path source, int line) {
    /** Checks the components. */
    public ManifestEntry {
        Objects.requireNonNull(media, "media");
        Objects.requireNonNull(caption, "caption");
        Objects.requireNonNull(type, "type");
        Objects.requireNonNull(conditioningImage, "conditioningImage");
        Objects.requireNonNull(source, "source");
        Preconditions.checkArgument(!caption.isBlank(), "%s:%s: empty caption", source, line);
        Preconditions.checkArgument(line >= 1, "line must be >= 1, got %s", line);
    }

    /**
     * The media file name without its extension (the CogVideo trainer's cache stem).
     *
     * @return e.g. {@code "00001"} for {@code videos/00001.mp4}
     */
    public String stem() {
        String name = media.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return dot > 0 ? name.substring(0, dot) : name;
    }

    /** @return {@code source:line} for messages */
    public String location() {
        return source + ":" + line;
    }
}
