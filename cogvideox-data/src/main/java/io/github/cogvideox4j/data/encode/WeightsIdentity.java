package io.github.cogvideox4j.data.encode;

import com.google.common.base.Preconditions;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/**
 * A short fingerprint of model folders for encoder identities: the SHA-256 over, per folder and per regular file
 * (sorted by name), the file name, and either the bytes (files up to {@value #SMALL_FILE_BYTES} bytes: configs,
 * tokenizers, tiny test weights) or the size and modification time (large weight files, which are not re-read on
 * every run). Replacing, editing or touching a weight file therefore changes the fingerprint; moving the folder does
 * not.
 *
 * <p>Thread safety: stateless.
 */
public final class WeightsIdentity {
    /** Files up to this size are hashed by content. */
    public static final long SMALL_FILE_BYTES = 4L << 20;

    private WeightsIdentity() {}

    /**
     * Fingerprints folders.
     *
     * @param folders existing folders (their direct regular files count; sub-folders are ignored)
     * @return the first 16 hex digits of the SHA-256
     * @throws IOException if a folder cannot be listed or a file read
     * @throws IllegalArgumentException if a path is not a folder
     */
    public static String of(List<Path> folders) throws IOException {
        MessageDigest sha = sha256();
        for (Path folder : folders) {
            Preconditions.checkArgument(Files.isDirectory(folder), "%s is not a folder", folder);
            List<Path> files;
            try (Stream<Path> s = Files.list(folder)) {
                files = s.filter(Files::isRegularFile).sorted().toList();
            }
            sha.update(folder.getFileName().toString().getBytes(StandardCharsets.UTF_8));
            for (Path f : files) {
                sha.update(("\n" + f.getFileName() + "\n").getBytes(StandardCharsets.UTF_8));
                long size = Files.size(f);
                if (size <= SMALL_FILE_BYTES) {
                    sha.update(Files.readAllBytes(f));
                } else {
                    sha.update((size + ":" + Files.getLastModifiedTime(f).toMillis())
                            .getBytes(StandardCharsets.UTF_8));
                }
            }
        }
        return HexFormat.of().formatHex(sha.digest()).substring(0, 16);
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 missing from the JDK", e);
        }
    }
}
