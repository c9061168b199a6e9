package io.github.cogvideox4j.data.manifest;

import com.google.common.base.Preconditions;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Column (JSON field) names of metadata files. Each of {@code fileColumns} and {@code captionColumns} lists
 * candidates tried in order; the first one a record has is used.
 *
 * <p>Thread safety: immutable.
 *
 * @param fileColumns names of the media path column, in order of preference
 * @param captionColumns names of the caption column, in order of preference
 * @param typeColumn name of a {@code video|image} column, if any (absent: the extension decides)
 * @param imageColumn name of an I2V conditioning image column, if any
 */
public record ManifestColumns(List<String> fileColumns, List<String> captionColumns, Optional<String> typeColumn,
        Optional<String> imageColumn) {
    /** Copies and checks the lists. */
    public ManifestColumns {
        fileColumns = List.copyOf(fileColumns);
        captionColumns = List.copyOf(captionColumns);
        Objects.requireNonNull(typeColumn, "typeColumn");
        Objects.requireNonNull(imageColumn, "imageColumn");
        Preconditions.checkArgument(!fileColumns.isEmpty(), "fileColumns must not be empty");
        Preconditions.checkArgument(!captionColumns.isEmpty(), "captionColumns must not be empty");
    }

    /**
     * The defaults: file in {@code file_name} (HF datasets' key), {@code video}, {@code video_file},
     * {@code file_path}, {@code path}; caption in {@code caption}, {@code text}, {@code prompt}, {@code captions},
     * {@code prompts}, {@code short_prompt}; type in {@code type}; conditioning image in {@code image}.
     *
     * @return the default columns
     */
    public static ManifestColumns defaults() {
        return new ManifestColumns(List.of("file_name", "video", "video_file", "file_path", "path"),
                List.of("caption", "text", "prompt", "captions", "prompts", "short_prompt"), Optional.of("type"),
                Optional.of("image"));
    }

    /**
     * CogVideoX-Fun's JSON list: {@code file_path}, {@code text}, {@code type}.
     *
     * @return the Fun columns
     */
    public static ManifestColumns fun() {
        return new ManifestColumns(List.of("file_path"), List.of("text"), Optional.of("type"), Optional.empty());
    }

    /**
     * Exactly one file and one caption column (a factory-style {@code --video_column}/{@code --caption_column}).
     *
     * @param fileColumn the media path column
     * @param captionColumn the caption column
     * @return columns without type or image column
     */
    public static ManifestColumns of(String fileColumn, String captionColumn) {
        return new ManifestColumns(List.of(fileColumn), List.of(captionColumn), Optional.empty(), Optional.empty());
    }
}
