package io.github.cogvideox4j.lora.cli;

import io.github.cogvideox4j.core.io.SafetensorsDType;
import java.util.Locale;
import picocli.CommandLine;

/**
 * Parses the output dtype options of the commands that write Diffusers weight folders ({@code lora merge --dtype},
 * {@code train --export-dtype}): {@code F32}, {@code F16} or {@code BF16}, case-insensitive.
 *
 * <p>Thread safety: stateless.
 */
final class DTypeOption implements CommandLine.ITypeConverter<SafetensorsDType> {
    @Override
    public SafetensorsDType convert(String value) {
        String v = value.trim().toUpperCase(Locale.ROOT);
        return switch (v) {
            case "F32", "FP32", "FLOAT32" -> SafetensorsDType.F32;
            case "F16", "FP16", "FLOAT16" -> SafetensorsDType.F16;
            case "BF16", "BFLOAT16" -> SafetensorsDType.BF16;
            default -> throw new CommandLine.TypeConversionException("'" + value + "' is not an output dtype; "
                    + "expected F32, F16 or BF16");
        };
    }
}
