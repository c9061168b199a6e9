package io.github.cogvideox4j.lora;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import java.util.List;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * A LoRA configuration with PEFT's meaning ({@code peft.LoraConfig}): {@code y = W x + b + (alpha / rank) B(A x)}.
 *
 * <p>Targets are either a list of module-name suffixes ({@link #targetModules()}, PEFT's list form: a module
 * matches when its name equals an entry or ends with {@code "." + entry}) or a regular expression
 * ({@link #targetRegex()}, PEFT's string form: the whole module name must match, as {@code re.fullmatch}). The
 * default list {@code to_q, to_k, to_v, to_out.0} hits the four attention projections {@code attn1.*} of every
 * block, as every Diffusers-based CogVideoX trainer does. finetrainers' regex
 * {@code (transformer_blocks|single_transformer_blocks).*(to_q|to_k|to_v|to_out.0)} selects the same modules.
 *
 * <p>{@link #dropout()} is applied to the LoRA branch input in training mode only
 * ({@link LoraAdapter#setTraining(boolean)}); {@link #initSeed()} seeds the Kaiming-uniform draw of {@code A}.
 *
 * <p>Immutable and thread-safe.
 *
 * @param rank r, the inner dimension of the adapter (&gt; 0)
 * @param alpha {@code lora_alpha}; the adapter output is scaled by {@code alpha / rank} (&gt; 0, finite)
 * @param targetModules suffixes of the module names to adapt; empty when {@code targetRegex} is set
 * @param targetRegex a full-match pattern over module names, or {@code null} when {@code targetModules} is used
 * @param dropout dropout probability on the LoRA input while training, in [0, 1)
 * @param initSeed seed of the initial {@code A} draw
 */
public record LoraConfig(int rank, double alpha, List<String> targetModules, String targetRegex, double dropout,
        long initSeed) {
    /** PEFT's default targets of every CogVideoX trainer ({@code target_modules}). */
    public static final List<String> DEFAULT_TARGETS = List.of("to_q", "to_k", "to_v", "to_out.0");

    /** Validates and copies the arguments. */
    public LoraConfig {
        checkArgument(rank > 0, "LoRA rank must be positive, got %s", rank);
        checkArgument(alpha > 0 && Double.isFinite(alpha), "lora_alpha must be positive and finite, got %s", alpha);
        checkNotNull(targetModules, "targetModules");
        targetModules = List.copyOf(targetModules);
        checkArgument(targetModules.isEmpty() != (targetRegex == null),
                "give either target module suffixes or a target regex, not both or neither (got %s and %s)",
                targetModules, targetRegex);
        if (targetRegex != null) {
            try {
                Pattern.compile(targetRegex);
            } catch (PatternSyntaxException e) {
                throw new IllegalArgumentException("invalid LoRA target regex: " + e.getMessage(), e);
            }
        }
        checkArgument(dropout >= 0 && dropout < 1, "LoRA dropout must be in [0, 1), got %s", dropout);
    }

    /**
     * The research default: the given rank and alpha, default targets, no dropout, seed 0.
     *
     * @param rank r
     * @param alpha lora_alpha
     * @return the configuration
     */
    public static LoraConfig of(int rank, double alpha) {
        return new LoraConfig(rank, alpha, DEFAULT_TARGETS, null, 0.0, 0L);
    }

    /**
     * Alpha equal to the rank (scale 1.0), what Diffusers assumes for a file that carries no alpha.
     *
     * @param rank r
     * @return the configuration
     */
    public static LoraConfig of(int rank) {
        return of(rank, rank);
    }

    /**
     * @param suffixes module-name suffixes (PEFT list form)
     * @return a copy targeting these
     */
    public LoraConfig withTargetModules(List<String> suffixes) {
        return new LoraConfig(rank, alpha, suffixes, null, dropout, initSeed);
    }

    /**
     * @param regex a full-match pattern over module names (PEFT string form)
     * @return a copy targeting the matching modules
     */
    public LoraConfig withTargetRegex(String regex) {
        return new LoraConfig(rank, alpha, List.of(), checkNotNull(regex, "regex"), dropout, initSeed);
    }

    /**
     * @param p dropout probability of the LoRA input while training
     * @return a copy with this dropout
     */
    public LoraConfig withDropout(double p) {
        return new LoraConfig(rank, alpha, targetModules, targetRegex, p, initSeed);
    }

    /**
     * @param seed seed of the initial {@code A}
     * @return a copy with this seed
     */
    public LoraConfig withInitSeed(long seed) {
        return new LoraConfig(rank, alpha, targetModules, targetRegex, dropout, seed);
    }

    /**
     * @param newAlpha lora_alpha
     * @return a copy with this alpha
     */
    public LoraConfig withAlpha(double newAlpha) {
        return new LoraConfig(rank, newAlpha, targetModules, targetRegex, dropout, initSeed);
    }

    /** @return {@code alpha / rank}, the factor on {@code B(A x)} */
    public double scaling() {
        return alpha / rank;
    }

    /**
     * PEFT's module matching ({@code peft/tuners/tuners_utils.py}, {@code check_target_module_exists}): a regex must
     * match the whole name ({@code re.fullmatch}); a list entry {@code t} matches {@code name == t} or
     * {@code name.endsWith("." + t)}. {@link LoraAdapter#inject} adapts the matching Linear layers; e.g. targets
     * {@code [proj, linear]} give every block's {@code ff.net.0.proj}, {@code norm1.linear}, {@code norm2.linear},
     * plus {@code norm_out.linear} and, on CogVideoX 1.5, {@code patch_embed.proj} (not {@code proj_out},
     * {@code patch_embed.text_proj} or {@code time_embedding.linear_1}).
     *
     * @param moduleName a Diffusers module name, e.g. {@code transformer_blocks.0.attn1.to_q}
     * @return whether this configuration adapts it
     */
    public boolean matches(String moduleName) {
        if (targetRegex != null) {
            return Pattern.matches(targetRegex, moduleName);
        }
        for (String t : targetModules) {
            if (moduleName.equals(t) || moduleName.endsWith("." + t)) {
                return true;
            }
        }
        return false;
    }

    /**
     * @return the targets as configured: the regex, or the suffix list (a saved file lists the adapted modules by
     *     full name instead, see {@link LoraExporter})
     */
    public Object peftTargets() {
        return targetRegex != null ? targetRegex : targetModules;
    }
}
