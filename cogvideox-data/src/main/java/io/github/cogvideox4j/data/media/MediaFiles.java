package io.github.cogvideox4j.data.media;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.common.base.Preconditions;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** What the media writers share: the video argument check and the write-to-temp-then-move of the output file. */
final class MediaFiles {
    private MediaFiles() {}

    /** Writes the content of a file to a given path. */
    @FunctionalInterface
    interface Content {
        void writeTo(Path file) throws IOException;
    }

    /**
     * @param video the array to check
     * @return its shape, {@code [F, 3, H, W]}
     * @throws IllegalArgumentException if it is not a FLOAT32 {@code [F >= 1, 3, H, W]} array
     */
    static Shape checkVideo(NDArray video) {
        Preconditions.checkNotNull(video, "video");
        Shape s = video.getShape();
        Preconditions.checkArgument(s.dimension() == 4 && s.get(1) == 3 && s.get(0) >= 1,
                "video must be [F, 3, H, W], got %s", s);
        Preconditions.checkArgument(video.getDataType() == DataType.FLOAT32, "video must be FLOAT32, got %s",
                video.getDataType());
        return s;
    }

    /**
     * Writes into a temporary sibling of {@code target} and moves it over the target (atomically where the file system
     * allows), so readers never see a partial file; the temporary file is removed on failure.
     *
     * @param target the output file (its parent folder must exist)
     * @param content what to write
     * @return {@code target}
     * @throws IOException if writing or moving fails
     */
    static Path writeAtomically(Path target, Content content) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Path tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp");
        try {
            content.writeTo(tmp);
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            return target;
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
