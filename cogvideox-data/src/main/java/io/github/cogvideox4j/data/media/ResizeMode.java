package io.github.cogvideox4j.data.media;

import java.util.Locale;

/**
 * How a frame of any size becomes a bucket's height x width (docs/data-preparation.md §2).
 *
 * <p>Thread safety: immutable.
 */
public enum ResizeMode {
    /** Plain resize to the bucket, aspect ratio not kept (CogVideo trainer, factory default). */
    RESIZE("resize"),
    /** Scale keeping aspect so the bucket is covered, then cut the centre (factory center, finetrainers, SAT). */
    CENTER_CROP("center_crop"),
    /** Scale to cover as {@link #CENTER_CROP}, then cut at a random offset (factory random). */
    RANDOM_CROP("random_crop");

    private final String configName;

    ResizeMode(String configName) {
        this.configName = configName;
    }

    /** @return the config spelling: {@code resize}, {@code center_crop} or {@code random_crop} */
    public String configName() {
        return configName;
    }

    /**
     * Parses the config spelling (case-insensitive; {@code center}/{@code random} as the factory writes them).
     *
     * @param value e.g. {@code "center_crop"}
     * @return the mode
     * @throws IllegalArgumentException for an unknown value
     */
    public static ResizeMode parse(String value) {
        String v = value.trim().toLowerCase(Locale.ROOT);
        switch (v) {
            case "resize":
            case "none":
                return RESIZE;
            case "center_crop":
            case "center":
            case "resize_crop":
                return CENTER_CROP;
            case "random_crop":
            case "random":
                return RANDOM_CROP;
            default:
                throw new IllegalArgumentException("unknown resize mode '" + value
                        + "', expected resize, center_crop or random_crop");
        }
    }
}
