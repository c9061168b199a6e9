package io.github.cogvideox4j.core.config;

/**
 * The five released CogVideoX transformers, told apart by structure, never by absolute channel counts
 * (tiny test configs use 4/8 channels): image-to-video when {@code in_channels = 2 x out_channels},
 * version 1.5 when {@code patch_size_t} is set, rotary versus sincos positions for 5B versus 2B.
 *
 * <p>Thread safety: immutable.
 */
public enum CogVideoXVariant {
    /** CogVideoX-2b: 3D sincos positional table, no RoPE. */
    COGVIDEOX_2B("CogVideoX-2b"),
    /** CogVideoX-5b: 3D RoPE with the 1.0 crop-region (linspace) grid. */
    COGVIDEOX_5B("CogVideoX-5b"),
    /** CogVideoX-5b-I2V: as 5b plus image-latent channels and a learned positional table. */
    COGVIDEOX_5B_I2V("CogVideoX-5b-I2V"),
    /** CogVideoX1.5-5B: temporal patches of 2, Linear patch embedding, RoPE on the slice grid. */
    COGVIDEOX_1_5_5B("CogVideoX1.5-5B"),
    /** CogVideoX1.5-5B-I2V: as 1.5-5B plus image-latent channels and the OFS embedding. */
    COGVIDEOX_1_5_5B_I2V("CogVideoX1.5-5B-I2V");

    private final String displayName;

    CogVideoXVariant(String displayName) {
        this.displayName = displayName;
    }

    /** @return the release name, e.g. {@code CogVideoX1.5-5B-I2V} */
    public String displayName() {
        return displayName;
    }

    /** @return whether this release uses temporal patches ({@code patch_size_t = 2}) */
    public boolean isVersion15() {
        return this == COGVIDEOX_1_5_5B || this == COGVIDEOX_1_5_5B_I2V;
    }

    /** @return whether this release conditions on image latents */
    public boolean isImageToVideo() {
        return this == COGVIDEOX_5B_I2V || this == COGVIDEOX_1_5_5B_I2V;
    }

    /**
     * Detects the family of a config from its structure.
     *
     * @param c the config
     * @return the variant it belongs to
     */
    public static CogVideoXVariant of(CogVideoXConfig c) {
        boolean i2v = c.isImageToVideo();
        if (c.patchSizeT() != null) {
            return i2v ? COGVIDEOX_1_5_5B_I2V : COGVIDEOX_1_5_5B;
        }
        if (i2v) {
            return COGVIDEOX_5B_I2V;
        }
        return c.useRotaryPositionalEmbeddings() ? COGVIDEOX_5B : COGVIDEOX_2B;
    }

    /**
     * Parses a release name: the display name ({@code CogVideoX-5b}, {@code CogVideoX1.5-5B-I2V}), optionally with
     * its Hugging Face owner ({@code THUDM/CogVideoX-5b}), or the enum name ({@code COGVIDEOX_5B}); case-insensitive.
     *
     * @param name the name
     * @return the variant
     * @throws ConfigException if the name is not a release; the message lists the accepted names
     */
    public static CogVideoXVariant parse(String name) {
        String n = name == null ? "" : name.trim();
        int slash = n.lastIndexOf('/');
        String bare = slash >= 0 ? n.substring(slash + 1) : n;
        for (CogVideoXVariant v : values()) {
            if (v.displayName.equalsIgnoreCase(bare) || v.name().equalsIgnoreCase(bare)) {
                return v;
            }
        }
        StringBuilder names = new StringBuilder();
        for (CogVideoXVariant v : values()) {
            names.append(names.length() == 0 ? "" : ", ").append(v.displayName);
        }
        throw new ConfigException("'" + name + "' is not a CogVideoX release (expected one of " + names + ")");
    }

    @Override
    public String toString() {
        return displayName;
    }
}
