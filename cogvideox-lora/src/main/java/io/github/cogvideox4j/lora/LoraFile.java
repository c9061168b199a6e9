package io.github.cogvideox4j.lora;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The content of a LoRA file as {@link LoraImporter} reads it, keyed by Diffusers module name whatever the file's
 * layout. The arrays belong to the manager given to {@link LoraImporter#read}; this record does not close them.
 *
 * @param source the file read
 * @param format its layout
 * @param rank r (the same for every layer)
 * @param alpha the {@code lora_alpha} the file states (metadata, or 1 for SAT), or {@code null} if it states none
 * @param dropout the {@code lora_dropout} its metadata states, else 0 (PEFT's default); a training setting only
 * @param declaredTargets the targets its metadata declares (suffixes, or one regex), or empty if none
 * @param layers module name to its matrices, in file order of the modules
 */
public record LoraFile(Path source, LoraFormat format, int rank, Double alpha, double dropout,
        List<String> declaredTargets, Map<String, LoraPair> layers) {
    /** Copies the collections. */
    public LoraFile {
        declaredTargets = List.copyOf(declaredTargets);
        layers = Collections.unmodifiableMap(new LinkedHashMap<>(layers));
    }

    /**
     * The alpha Diffusers would use: the file's, else {@code fallback}.
     *
     * @param fallback alpha for a file without one (Diffusers: the rank, i.e. scale 1.0)
     * @return the alpha to apply
     */
    public double alphaOr(double fallback) {
        return alpha != null ? alpha : fallback;
    }
}
