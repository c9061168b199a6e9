package io.github.cogvideox4j.data.manifest;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * Whether a dataset item is a video or a still image (CogVideoX-Fun's {@code type} field; elsewhere decided by the
 * file extension).
 *
 * <p>Thread safety: immutable.
 */
public enum MediaType {
    /** A video file decoded with FFmpeg. */
    VIDEO,
    /** A still image read with ImageIO (a one-frame clip). */
    IMAGE;

    private static final Set<String> VIDEO_EXTENSIONS =
            Set.of("mp4", "mov", "avi", "mkv", "webm", "m4v", "mpg", "mpeg", "gif", "flv", "wmv", "ts");
    private static final Set<String> IMAGE_EXTENSIONS = Set.of("png", "jpg", "jpeg", "bmp", "webp");

    /**
     * The type a file name's extension implies.
     *
     * @param file a file name or path
     * @return VIDEO or IMAGE, or empty for an unknown extension
     */
    public static Optional<MediaType> fromExtension(Path file) {
        String name = file.getFileName().toString();
        int dot = name.lastIndexOf('.');
        if (dot < 0) {
            return Optional.empty();
        }
        String ext = name.substring(dot + 1).toLowerCase(Locale.ROOT);
        if (VIDEO_EXTENSIONS.contains(ext)) {
            return Optional.of(VIDEO);
        }
        if (IMAGE_EXTENSIONS.contains(ext)) {
            return Optional.of(IMAGE);
        }
        return Optional.empty();
    }

    /**
     * Parses CogVideoX-Fun's {@code type} values {@code "video"} and {@code "image"} (case-insensitive).
     *
     * @param value the field value
     * @return the type, or empty when the value is neither
     */
    public static Optional<MediaType> parse(String value) {
        String v = value.trim().toLowerCase(Locale.ROOT);
        if (v.equals("video")) {
            return Optional.of(VIDEO);
        }
        if (v.equals("image")) {
            return Optional.of(IMAGE);
        }
        return Optional.empty();
    }
}
