package io.github.cogvideox4j.core.io;

import static com.google.common.base.Preconditions.checkNotNull;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Writes a file so that readers see either the old content or the complete new content, never a partial file: the
 * content goes into a hidden temporary sibling {@code .<name>.<random>.tmp} in the target's folder, is forced to disk,
 * and the temporary file is then renamed over the target ({@link StandardCopyOption#ATOMIC_MOVE}; a plain
 * replacing move only on a file system that cannot move atomically). If writing, forcing or moving fails, the
 * temporary file is deleted and the target is left as it was.
 *
 * <p>The rename itself is not forced to disk (the folder is not synced): after a power cut the target may still hold
 * its previous content, but never a torn mixture. Writers that need the rename durable (checkpoints) force the
 * folder themselves. A process killed mid-write leaves a temporary file, which {@link #targetOf(Path)} recognises
 * so that a later run can delete it.
 *
 * <p>Stateless and thread-safe; two threads writing the same target at once each write a complete file, and the
 * last rename wins.
 */
public final class AtomicFiles {
    private static final Pattern TEMPORARY = Pattern.compile("\\.(.+)\\.[0-9a-f]{32}\\.tmp");

    private AtomicFiles() {}

    /** Writes a file's content to a stream (the stream is closed by {@link AtomicFiles}, not by the writer). */
    @FunctionalInterface
    public interface StreamContent {
        /**
         * @param out where the content goes (buffered)
         * @throws IOException if writing fails
         */
        void writeTo(OutputStream out) throws IOException;
    }

    /**
     * Writes a file's content to a path, for writers that open the file themselves (native encoders, channels). The
     * file exists (empty) when this is called; the writer may overwrite or truncate it, and must close what it opens.
     */
    @FunctionalInterface
    public interface FileContent {
        /**
         * @param file the temporary file to fill (its name ends in {@code .tmp}: writers that pick a format by
         *     extension must be told the format)
         * @throws IOException if writing fails
         */
        void writeTo(Path file) throws IOException;
    }

    /**
     * @param target the file to (re)place; its folder must exist
     * @param bytes the whole content
     * @return {@code target}
     * @throws IOException if writing or moving fails (the target is then unchanged)
     */
    public static Path write(Path target, byte[] bytes) throws IOException {
        checkNotNull(bytes, "bytes");
        return write(target, out -> out.write(bytes));
    }

    /**
     * @param target the file to (re)place; its folder must exist
     * @param content writes the content to a stream
     * @return {@code target}
     * @throws IOException if writing or moving fails (the target is then unchanged)
     */
    public static Path write(Path target, StreamContent content) throws IOException {
        checkNotNull(content, "content");
        return writeFile(target, file -> {
            try (OutputStream out = new BufferedOutputStream(Channels.newOutputStream(
                    FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)))) {
                content.writeTo(out);
            }
        });
    }

    /**
     * @param target the file to (re)place; its folder must exist
     * @param content fills the temporary file at the path it is given
     * @return {@code target}
     * @throws IOException if writing, forcing or moving fails (the target is then unchanged, the temporary file gone)
     */
    public static Path writeFile(Path target, FileContent content) throws IOException {
        checkNotNull(target, "target");
        checkNotNull(content, "content");
        Path abs = target.toAbsolutePath();
        Path tmp = abs.resolveSibling(temporaryName(abs.getFileName().toString()));
        Files.newByteChannel(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE).close();
        try {
            content.writeTo(tmp);
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            try {
                Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
            }
            return target;
        } catch (Throwable t) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException d) {
                t.addSuppressed(d);
            }
            throw t;
        }
    }

    /**
     * Recognises a temporary file {@link AtomicFiles} writes (found on disk only while a write is under way, or after
     * a process died mid-write).
     *
     * @param file a path
     * @return the target it was to be moved to, if {@code file} is such a temporary file
     */
    public static Optional<Path> targetOf(Path file) {
        Path name = file.getFileName();
        Matcher m = name == null ? null : TEMPORARY.matcher(name.toString());
        return m != null && m.matches() ? Optional.of(file.resolveSibling(m.group(1))) : Optional.empty();
    }

    private static String temporaryName(String name) {
        return "." + name + "." + UUID.randomUUID().toString().replace("-", "") + ".tmp";
    }
}
