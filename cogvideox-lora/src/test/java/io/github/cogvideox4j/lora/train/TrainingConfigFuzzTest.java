package io.github.cogvideox4j.lora.train;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Feeds arbitrary YAML and JSON text to {@link TrainingConfig#parse} and requires that every input gives either a
 * valid configuration or a {@link TrainingConfigException} with at least one problem and the source in its message;
 * no other exception (no {@code NumberFormatException}, {@code IllegalArgumentException},
 * {@code NullPointerException}, parser exception or stack overflow) escapes. A configuration that parses must
 * survive its own text forms: {@link TrainingConfig#toYaml()} parsed as YAML and {@link TrainingConfig#toJson()}
 * parsed as JSON give an equal configuration (and the same {@link TrainingConfig#fingerprint()}).
 *
 * <p>Inputs take two forms, chosen by the input's last byte: raw text, read as YAML (0-2) or JSON (3); and a mapping
 * assembled from the config's own keys with fuzzed values (numbers at the edges, numeric strings, booleans, nulls,
 * lists, nested mappings, bucket strings, enum names, junk keys), written as YAML block, YAML flow or JSON (4-7),
 * which reaches the semantic checks much faster than raw text. Paths stay relative and point nowhere, so the
 * file-system checks run without touching anything.
 *
 * <p>How it runs: {@code mvn test} replays the stored inputs under
 * {@code src/test/resources/.../TrainingConfigFuzzTestInputs/}; {@code mvn verify} fuzzes it for
 * {@code -Dfuzz.time} (the lora pom's {@code fuzz-config} execution); the long run is in {@code docs/reliability.md}.
 */
class TrainingConfigFuzzTest {
    private static final String SOURCE = "fuzz.yaml";
    private static final List<String> KEYS = List.of("model", "data", "output_dir", "lora", "full_finetune",
            "steps", "batch_size", "gradient_accumulation", "learning_rate", "betas", "epsilon", "weight_decay",
            "lr_schedule", "max_grad_norm", "seed", "checkpoint_every", "keep_last", "validation_every",
            "non_finite", "gradient_checkpointing", "mixed_precision", "rope", "id_token", "caption_dropout",
            "image_latent_dropout", "ofs", "sincos_at_untrained_size", "distributed", "stpes", "lora_rank", "");
    private static final List<String> SUBKEYS = List.of("path", "builtin", "cache", "synthetic", "samples",
            "buckets", "rank", "alpha", "targets", "target_regex", "dropout", "init_seed", "type", "warmup_steps",
            "num_cycles", "timeout_seconds", "ranks");
    private static final List<String> SCALARS = List.of("0", "1", "-1", "4", "20", "2147483647", "2147483648",
            "-2147483649", "9223372036854775807", "9223372036854775808", "1e400", "-0.0", "0.5", "1.0", "1e-4",
            "1.0e-3", "\"1e-4\"", "\"20\"", "\"1_000\"", ".nan", ".inf", "-.inf", "NaN", "true", "false", "yes",
            "no", "null", "~", "\"\"", "\" \"", "tiny-5b", "tiny-2b", "tiny-1.5-i2v", "skip", "stop", "SKIP",
            "fp32", "bf16", "pipeline", "diffusers_480x720", "constant", "constant_with_warmup", "cosine",
            "cosine_with_restarts", "linear", "polynomial", "9x64x96", "\"9x64x96\"", "0x64x96", "1x1x1",
            "999999999x999999999x999999999", "9999999999x1x1", "9 x 64 x 96", "runs/fuzz-out", "runs/../x",
            "no/such/model", "[a-z", "\"(to_q|to_k)\"", "to_q", "to_out.0", "&a x", "*a", "!!binary AAAA",
            "!!float 1", "!!int 0x10", "0x10", "0o17", "012", "1:2", "2001-12-14", "BW_STYLE");

    @FuzzTest(maxDuration = "20s")
    @DictionaryEntries({"model:", "builtin: tiny-5b", "data:", "synthetic:", "buckets:", "9x64x96", "output_dir:",
            "lora:", "rank:", "alpha:", "targets:", "steps:", "betas:", "lr_schedule:", "warmup_steps:",
            "full_finetune: true", "\"model\"", "\"data\"", "{", "}", "[", "]", ": ", "- ", "&a", "*a", "!!", "---",
            ".nan", ".inf", "1e-4", "2147483648"})
    void arbitraryTextGivesAConfigOrATrainingConfigException(FuzzedDataProvider data) {
        int mode = data.consumeInt(0, 7);
        String text;
        boolean yaml;
        if (mode <= 3) {
            yaml = mode != 3;
            text = data.consumeRemainingAsString();
        } else {
            int style = data.consumeInt(0, 2);
            yaml = style != 2;
            text = assemble(data, style);
        }
        TrainingConfig config;
        try {
            config = TrainingConfig.parse(text, yaml, SOURCE);
        } catch (TrainingConfigException expected) {
            if (expected.problems().isEmpty() || !expected.getMessage().startsWith(SOURCE + ": ")) {
                throw new AssertionError("a TrainingConfigException without problems or source: "
                        + expected.getMessage(), expected);
            }
            return; // the only acceptable failure
        }
        // A valid configuration round-trips through its own text forms.
        TrainingConfig fromYaml;
        TrainingConfig fromJson;
        try {
            fromYaml = TrainingConfig.parse(config.toYaml(), true, "toYaml()");
            fromJson = TrainingConfig.parse(config.toJson(), false, "toJson()");
        } catch (TrainingConfigException e) {
            throw new AssertionError("a valid configuration does not parse back from its own text:\n" + text
                    + "\n-> toYaml():\n" + config.toYaml() + "\n-> toJson():\n" + config.toJson(), e);
        }
        if (!fromYaml.equals(config) || !fromJson.equals(config)
                || !fromYaml.fingerprint().equals(config.fingerprint())) {
            throw new AssertionError("round trip changed the configuration:\n" + text + "\n-> toYaml():\n"
                    + config.toYaml());
        }
    }

    @Test
    void theStoredSeedsIncludeAValidConfigurationOfEachSyntax() throws Exception {
        Path inputs = Path.of(TrainingConfigFuzzTest.class.getResource(
                "TrainingConfigFuzzTestInputs/arbitraryTextGivesAConfigOrATrainingConfigException").toURI());
        for (String seed : List.of("valid_yaml", "valid_json")) {
            byte[] bytes = Files.readAllBytes(inputs.resolve(seed));
            // The last byte is the FuzzedDataProvider's mode switch (0 = YAML, 3 = JSON), not part of the text.
            String text = new String(Arrays.copyOf(bytes, bytes.length - 1), StandardCharsets.UTF_8);
            assertThat(TrainingConfig.parse(text, seed.endsWith("yaml"), seed).steps()).as(seed).isPositive();
        }
    }

    /** A mapping of config keys with fuzzed values; style 0 YAML block, 1 YAML flow, 2 JSON. */
    private static String assemble(FuzzedDataProvider d, int style) {
        StringBuilder s = new StringBuilder();
        // Mostly start from the three required keys, so that the other keys' checks are reached.
        if (d.consumeInt(0, 3) != 0) {
            entry(s, style, "model", "{\"builtin\": \"tiny-5b\"}");
            entry(s, style, "data", "{\"synthetic\": {\"samples\": 2, \"buckets\": [\"9x64x96\"]}}");
            entry(s, style, "output_dir", "\"runs/fuzz-out\"");
        }
        int n = d.consumeInt(0, 8);
        for (int i = 0; i < n; i++) {
            entry(s, style, d.consumeInt(0, 15) == 0 ? d.consumeString(8) : d.pickValue(KEYS), value(d, style, 0));
        }
        return style == 0 ? s.toString() : "{" + s + "}";
    }

    private static void entry(StringBuilder s, int style, String key, String value) {
        if (style == 0) {
            s.append(key).append(": ").append(value).append('\n');
        } else {
            s.append(s.length() == 0 ? "" : ", ").append(quote(key)).append(": ").append(value);
        }
    }

    private static String value(FuzzedDataProvider d, int style, int depth) {
        int kind = depth >= 2 ? d.consumeInt(0, 2) : d.consumeInt(0, 5);
        switch (kind) {
            case 0, 1 -> {
                String v = d.pickValue(SCALARS);
                return style == 2 && !v.startsWith("\"") && !v.matches("-?[0-9.e]+|true|false|null") ? quote(v) : v;
            }
            case 2 -> {
                String v = d.consumeString(12);
                return style == 2 || d.consumeBoolean() ? quote(v) : v;
            }
            case 3 -> {
                int n = d.consumeInt(0, 3);
                StringBuilder l = new StringBuilder("[");
                for (int i = 0; i < n; i++) {
                    l.append(i == 0 ? "" : ", ").append(value(d, style, depth + 1));
                }
                return l.append(']').toString();
            }
            default -> {
                int n = d.consumeInt(0, 3);
                StringBuilder m = new StringBuilder("{");
                for (int i = 0; i < n; i++) {
                    m.append(i == 0 ? "" : ", ").append(quote(d.pickValue(SUBKEYS))).append(": ")
                            .append(value(d, style, depth + 1));
                }
                return m.append('}').toString();
            }
        }
    }

    private static String quote(String s) {
        StringBuilder q = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                q.append('\\').append(c);
            } else if (c < 0x20) {
                q.append(String.format("\\u%04x", (int) c));
            } else {
                q.append(c);
            }
        }
        return q.append('"').toString();
    }
}
