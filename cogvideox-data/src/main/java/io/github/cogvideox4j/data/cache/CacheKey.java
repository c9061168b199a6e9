package io.github.cogvideox4j.data.cache;

import com.google.common.base.Preconditions;
import io.github.cogvideox4j.core.io.SafetensorsDType;
import io.github.cogvideox4j.data.Bucket;
import io.github.cogvideox4j.data.media.ContentHash;
import java.util.Objects;

/**
 * Everything a cache entry's tensors depend on. Two samples share an entry only if every component is equal, so
 * a changed video (content hash), caption (prompt hash), encoder, bucket, storage dtype or preprocessing (resize
 * mode, frame indices, crop and noise seeds) always misses instead of reading stale data.
 *
 * <p>Thread safety: immutable.
 *
 * @param contentSha256 SHA-256 of the media file's bytes (64 hex digits)
 * @param promptSha256 SHA-256 of the prompt's UTF-8 bytes, as encoded (64 hex digits)
 * @param latentEncoder {@link LatentEncoder#identity()}
 * @param textEncoder {@link TextEncoder#identity()}
 * @param bucket target frames x height x width (pixels)
 * @param dtype storage dtype of the tensors: F32 or F16
 * @param preprocessing a canonical description of the pixel pipeline (see {@link CachePreparer})
 */
public record CacheKey(String contentSha256, String promptSha256, String latentEncoder, String textEncoder,
        Bucket bucket, SafetensorsDType dtype, String preprocessing) {
    /** Checks the components. */
    public CacheKey {
        Preconditions.checkArgument(isHex64(contentSha256), "contentSha256 must be 64 hex digits, got %s",
                contentSha256);
        Preconditions.checkArgument(isHex64(promptSha256), "promptSha256 must be 64 hex digits, got %s",
                promptSha256);
        Preconditions.checkArgument(latentEncoder != null && !latentEncoder.isBlank(), "latentEncoder is empty");
        Preconditions.checkArgument(textEncoder != null && !textEncoder.isBlank(), "textEncoder is empty");
        Objects.requireNonNull(bucket, "bucket");
        Preconditions.checkArgument(dtype == SafetensorsDType.F32 || dtype == SafetensorsDType.F16,
                "cache dtype must be F32 or F16, got %s", dtype);
        Objects.requireNonNull(preprocessing, "preprocessing");
    }

    /**
     * The canonical text of the key (stored in every entry and compared on read).
     *
     * @return {@code name=value} pairs joined by newlines, in a fixed order
     */
    public String canonical() {
        return "content_sha256=" + contentSha256 + "\nprompt_sha256=" + promptSha256 + "\nlatent_encoder="
                + latentEncoder + "\ntext_encoder=" + textEncoder + "\nbucket=" + bucket + "\ndtype=" + dtype
                + "\npreprocessing=" + preprocessing;
    }

    /**
     * Reads a key back from its {@link #canonical()} form (what every cache file stores in its metadata).
     *
     * @param canonical the canonical text
     * @return the key
     * @throws IllegalArgumentException if a field is missing or invalid
     */
    public static CacheKey parse(String canonical) {
        java.util.Map<String, String> f = new java.util.HashMap<>();
        for (String line : canonical.split("\n")) {
            int eq = line.indexOf('=');
            Preconditions.checkArgument(eq > 0, "cache key line without '=': %s", line);
            f.put(line.substring(0, eq), line.substring(eq + 1));
        }
        String[] b = Objects.requireNonNull(f.get("bucket"), "bucket").split("x");
        Preconditions.checkArgument(b.length == 3, "bucket must be FxHxW, got %s", f.get("bucket"));
        return new CacheKey(f.get("content_sha256"), f.get("prompt_sha256"), f.get("latent_encoder"),
                f.get("text_encoder"), new Bucket(Integer.parseInt(b[0]), Integer.parseInt(b[1]),
                        Integer.parseInt(b[2])), SafetensorsDType.parse(Objects.requireNonNull(f.get("dtype"), "dtype")),
                Objects.requireNonNullElse(f.get("preprocessing"), ""));
    }

    /**
     * The entry's file name: the first 40 hex digits of SHA-256 of {@link #canonical()}.
     *
     * @return e.g. {@code "3f2a...c1.safetensors"}
     */
    public String fileName() {
        return ContentHash.sha256(canonical()).substring(0, 40) + ".safetensors";
    }

    private static boolean isHex64(String s) {
        return s != null && s.length() == 64 && s.chars().allMatch(c -> (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
    }
}
