package io.github.cogvideox4j.lora;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Tensor names of LoRA files: the Diffusers/PEFT export keys and the SAT names (CogVideo
 * {@code tools/export_sat_lora_weight.py}).
 *
 * <p>Thread safety: stateless.
 */
public final class LoraKeys {
    /** The prefix Diffusers' CogVideoX loader filters on and strips. */
    public static final String TRANSFORMER_PREFIX = "transformer.";
    /** The prefix of PEFT's own {@code save_pretrained} ({@code adapter_model.safetensors}). */
    public static final String PEFT_MODEL_PREFIX = "base_model.model.";
    /** The prefix of every SAT checkpoint key. */
    public static final String SAT_PREFIX = "model.diffusion_model.";

    private static final Pattern PEFT = Pattern.compile("(.+)\\.lora_([AB])\\.weight");
    private static final Pattern SAT = Pattern.compile(
            "transformer\\.layers\\.(\\d+)\\.attention\\.(query_key_value|dense)\\.matrix_([AB])\\.(\\d+)");
    private static final String[] QKV = {"to_q", "to_k", "to_v"};

    private LoraKeys() {}

    /**
     * Which matrix of which module a key names.
     *
     * @param module the Diffusers module name, e.g. {@code transformer_blocks.0.attn1.to_q}
     * @param isA {@code true} for {@code lora_A}, {@code false} for {@code lora_B}
     */
    public record Slot(String module, boolean isA) {}

    /**
     * @param module a Diffusers module name, e.g. {@code transformer_blocks.0.attn1.to_q}
     * @param isA {@code lora_A} or {@code lora_B}
     * @return the exported key, e.g. {@code transformer.transformer_blocks.0.attn1.to_q.lora_A.weight}
     */
    public static String diffusersKey(String module, boolean isA) {
        return TRANSFORMER_PREFIX + module + (isA ? ".lora_A.weight" : ".lora_B.weight");
    }

    /**
     * Parses a Diffusers/PEFT key with the {@code transformer.} or {@code base_model.model.} prefix, or none.
     *
     * @param key a tensor name
     * @return the slot, or empty when the key is not {@code <module>.lora_{A,B}.weight}
     */
    public static Optional<Slot> parsePeft(String key) {
        String k = key;
        if (k.startsWith(TRANSFORMER_PREFIX)) {
            k = k.substring(TRANSFORMER_PREFIX.length());
        } else if (k.startsWith(PEFT_MODEL_PREFIX)) {
            k = k.substring(PEFT_MODEL_PREFIX.length());
        }
        Matcher m = PEFT.matcher(k);
        if (!m.matches()) {
            return Optional.empty();
        }
        return Optional.of(new Slot(m.group(1), m.group(2).equals("A")));
    }

    /**
     * Parses a SAT LoRA key ({@code tools/export_sat_lora_weight.py}'s mapping): {@code query_key_value} partitions
     * 0, 1, 2 are {@code to_q, to_k, to_v}, {@code dense} partition 0 is {@code to_out.0}, {@code layers} becomes
     * {@code transformer_blocks}.
     *
     * @param key a tensor name, with or without {@code model.diffusion_model.}
     * @return the slot, or empty when the key is not a SAT LoRA name
     */
    public static Optional<Slot> parseSat(String key) {
        String k = key.startsWith(SAT_PREFIX) ? key.substring(SAT_PREFIX.length()) : key;
        Matcher m = SAT.matcher(k);
        if (!m.matches()) {
            return Optional.empty();
        }
        // Only partitions 0 to 2 exist; a longer number (e.g. past Integer.MAX_VALUE) is simply not a SAT LoRA name.
        String digits = m.group(4).replaceFirst("^0+(?=\\d)", "");
        int partition = digits.length() > 1 ? Integer.MAX_VALUE : Integer.parseInt(digits);
        String target;
        if (m.group(2).equals("dense")) {
            if (partition != 0) {
                return Optional.empty();
            }
            target = "to_out.0";
        } else {
            if (partition > 2) {
                return Optional.empty();
            }
            target = QKV[partition];
        }
        return Optional.of(new Slot("transformer_blocks." + m.group(1) + ".attn1." + target,
                m.group(3).equals("A")));
    }

    /**
     * @param key a tensor name
     * @return whether it looks like a SAT LoRA tensor ({@code matrix_A} / {@code matrix_B})
     */
    public static boolean looksLikeSat(String key) {
        return key.contains(".matrix_A.") || key.contains(".matrix_B.");
    }
}
