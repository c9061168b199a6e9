package io.github.cogvideox4j.lora;

import static com.google.common.base.Preconditions.checkNotNull;

/**
 * How {@link LoraExporter} writes a file.
 *
 * @param alphaHandling where the {@code alpha / rank} scale goes
 * @param allowZeroB whether a {@code lora_B} that is all zeros may be written (an untrained adapter, e.g. a
 *     checkpoint at step 0); refused by default because such a file has no effect
 */
public record LoraExportOptions(AlphaHandling alphaHandling, boolean allowZeroB) {
    /** Where the scale goes. */
    public enum AlphaHandling {
        /**
         * Tensors as trained; {@code lora_adapter_metadata} states r and lora_alpha, so Diffusers applies
         * {@code alpha / r} by itself. The default.
         */
        METADATA,
        /**
         * {@code lora_B} multiplied by {@code alpha / r} and the metadata states lora_alpha = r: the file gives the
         * trained result at scale 1.0 even in loaders that ignore the metadata (older Diffusers, ComfyUI-style tools,
         * the reference trainers' own loading code).
         */
        FOLD_INTO_B
    }

    /** Checks the argument. */
    public LoraExportOptions {
        checkNotNull(alphaHandling, "alphaHandling");
    }

    /** @return alpha in the metadata, zero {@code lora_B} refused */
    public static LoraExportOptions defaults() {
        return new LoraExportOptions(AlphaHandling.METADATA, false);
    }

    /** @return alpha folded into {@code lora_B}, zero {@code lora_B} refused */
    public static LoraExportOptions foldAlpha() {
        return new LoraExportOptions(AlphaHandling.FOLD_INTO_B, false);
    }

    /**
     * @param allow whether an all-zero {@code lora_B} may be written
     * @return a copy with this setting
     */
    public LoraExportOptions withAllowZeroB(boolean allow) {
        return new LoraExportOptions(alphaHandling, allow);
    }
}
