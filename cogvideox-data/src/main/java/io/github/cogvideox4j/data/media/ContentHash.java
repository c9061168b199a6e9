package io.github.cogvideox4j.data.media;

import com.google.common.hash.Hashing;
import com.google.common.hash.HashingInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * SHA-256 of file contents and strings, as lower-case hex (the form Python's {@code hashlib.sha256().hexdigest()}
 * prints).
 *
 * <p>Thread safety: stateless.
 */
public final class ContentHash {
    private ContentHash() {}

    /**
     * Hashes a file's bytes (streamed).
     *
     * @param file the file
     * @return 64 hex digits
     * @throws IOException if the file cannot be read
     */
    @SuppressWarnings("UnstableApiUsage")
    public static String sha256(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file);
                HashingInputStream h = new HashingInputStream(Hashing.sha256(), in)) {
            h.transferTo(java.io.OutputStream.nullOutputStream());
            return h.hash().toString();
        }
    }

    /**
     * Hashes a string's UTF-8 bytes.
     *
     * @param text the text
     * @return 64 hex digits
     */
    public static String sha256(String text) {
        return Hashing.sha256().hashString(text, StandardCharsets.UTF_8).toString();
    }
}
