package io.github.cogvideox4j.lora;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.github.cogvideox4j.core.io.SafetensorsDType;
import io.github.cogvideox4j.core.io.SafetensorsFormatException;
import io.github.cogvideox4j.core.io.SafetensorsWriter;
import io.github.cogvideox4j.core.io.TensorData;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Feeds arbitrary tensor names to the LoRA key parsers ({@link LoraKeys#parsePeft}, {@link LoraKeys#parseSat},
 * {@link LoraKeys#looksLikeSat}) and arbitrary small LoRA files to {@link LoraImporter#read}.
 *
 * <p>What must hold, whatever the input:
 * <ul>
 *   <li>The key parsers are total: they return a slot or empty and throw nothing. A PEFT slot round-trips
 *       ({@link LoraKeys#diffusersKey} of it parses back to the same slot); a SAT slot names
 *       {@code transformer_blocks.<i>.attn1.{to_q,to_k,to_v,to_out.0}} with the block number of the key.</li>
 *   <li>The importer returns a {@link LoraFile} whose every layer has {@code A [rank, in]} and {@code B [out, rank]}
 *       for the file's one rank, or throws {@link LoraException}, {@link SafetensorsFormatException} or an I/O
 *       exception; nothing else.</li>
 * </ul>
 *
 * <p>Inputs take three forms, chosen by the input's last byte: raw text, one key a line (0-6); keys assembled from
 * the layouts' parts with fuzzed numbers, prefixes and junk (7-14), both in memory; and a safetensors file of such
 * keys with fuzzed shapes, dtypes and adapter metadata, read by the importer (15). The file lives on a memory file
 * system when the machine has one.
 *
 * <p>How it runs: {@code mvn test} replays the stored inputs under {@code src/test/resources/.../LoraKeysFuzzTestInputs/};
 * {@code mvn verify} fuzzes it for {@code -Dfuzz.time} (the lora pom's {@code fuzz} execution); the long run is in
 * {@code docs/reliability.md}.
 */
class LoraKeysFuzzTest {
    private static final List<String> PREFIXES = List.of("", "transformer.", "base_model.model.",
            "model.diffusion_model.", "transformer.transformer.", "base_model.model.transformer.");
    private static final List<String> SAT_MODULES = List.of("query_key_value", "dense", "dense_h_to_4h", "");
    private static final List<String> MATRICES = List.of("A", "B", "C", "", "a");
    private static final List<String> BLOCKS = List.of("transformer_blocks.", "blocks.", "");
    private static final List<String> ATTNS = List.of(".attn1.", ".attn2.", ".ff.net.", ".");
    private static final List<String> TARGETS = List.of("to_q", "to_k", "to_v", "to_out.0", "proj", "");
    private static final List<String> SUFFIXES = List.of(".lora_A.weight", ".lora_B.weight", ".lora_A.bias",
            ".lora_magnitude_vector", ".dora_scale", ".lora_A.default.weight", ".lora_.weight", ".alpha");
    private static final List<String> NUMBERS = List.of("0", "1", "2", "3", "29", "-1", "007", "2147483647",
            "2147483648", "99999999999999999999", "\u0663", "1 ", "");
    private static final List<SafetensorsDType> DTYPES = List.of(SafetensorsDType.F32, SafetensorsDType.F16,
            SafetensorsDType.BF16, SafetensorsDType.I64);
    private static final Pattern SAT_MODULE = Pattern.compile("transformer_blocks\\.(\\d+)\\.attn1\\."
            + "(to_q|to_k|to_v|to_out\\.0)");

    private static Path scratch;
    private static NDManager manager;

    @FuzzTest(maxDuration = "20s")
    @DictionaryEntries({"transformer.", "base_model.model.", "model.diffusion_model.", "transformer_blocks.",
            ".attn1.", ".lora_A.weight", ".lora_B.weight", "transformer.layers.", ".attention.", "query_key_value",
            "dense", ".matrix_A.", ".matrix_B.", "lora_adapter_metadata", "lora_config", "\"r\"", "\"lora_alpha\"",
            "\"use_dora\"", "\"target_modules\""})
    void arbitraryKeysAndLoraFilesGiveSlotsOrTypedExceptions(FuzzedDataProvider data) throws IOException {
        int mode = data.consumeInt(0, 15); // 15/16 in memory: the key parsers are the target, files are slow
        if (mode <= 6) {
            for (String key : data.consumeRemainingAsString().split("\n", -1)) {
                checkKey(key);
            }
        } else if (mode <= 14) {
            int n = data.consumeInt(1, 4);
            for (int i = 0; i < n; i++) {
                checkKey(assembleKey(data));
            }
        } else {
            importFile(data);
        }
    }

    @Test
    void theStoredSeedsCoverEveryInputForm() throws Exception {
        Path inputs = Path.of(LoraKeysFuzzTest.class.getResource(
                "LoraKeysFuzzTestInputs/arbitraryKeysAndLoraFilesGiveSlotsOrTypedExceptions").toURI());
        try (var seeds = Files.list(inputs)) {
            assertThat(seeds.map(p -> p.getFileName().toString()))
                    .contains("seed_diffusers_and_sat_keys", "seed_assembled", "seed_importer_file");
        }
        // The raw-text seed's keys are the ones the parsers must accept.
        assertThat(LoraKeys.parsePeft("transformer.transformer_blocks.0.attn1.to_q.lora_A.weight"))
                .contains(new LoraKeys.Slot("transformer_blocks.0.attn1.to_q", true));
        assertThat(LoraKeys.parseSat("model.diffusion_model.transformer.layers.3.attention.query_key_value.matrix_B.2"))
                .contains(new LoraKeys.Slot("transformer_blocks.3.attn1.to_v", false));
    }

    /** The parsers' contract on one key. */
    private static void checkKey(String key) {
        Optional<LoraKeys.Slot> peft = LoraKeys.parsePeft(key);
        if (peft.isPresent()) {
            LoraKeys.Slot s = peft.get();
            if (s.module().isEmpty() || !key.endsWith(s.isA() ? ".lora_A.weight" : ".lora_B.weight")) {
                throw new AssertionError("parsePeft(" + key + ") gave " + s);
            }
            Optional<LoraKeys.Slot> again = LoraKeys.parsePeft(LoraKeys.diffusersKey(s.module(), s.isA()));
            if (!again.equals(peft)) {
                throw new AssertionError("parsePeft(diffusersKey(" + s + ")) gave " + again + " for key " + key);
            }
        }
        Optional<LoraKeys.Slot> sat = LoraKeys.parseSat(key);
        boolean looksSat = LoraKeys.looksLikeSat(key);
        if (sat.isPresent()) {
            var m = SAT_MODULE.matcher(sat.get().module());
            if (!m.matches() || !looksSat || !key.contains(".layers." + m.group(1) + ".attention.")) {
                throw new AssertionError("parseSat(" + key + ") gave " + sat.get() + " (looksLikeSat " + looksSat + ")");
            }
        }
    }

    private static String assembleKey(FuzzedDataProvider d) {
        StringBuilder k = new StringBuilder(d.pickValue(PREFIXES));
        if (d.consumeBoolean()) {
            k.append("transformer.layers.").append(number(d)).append(".attention.").append(d.pickValue(SAT_MODULES))
                    .append(".matrix_").append(d.pickValue(MATRICES)).append('.').append(number(d));
        } else {
            k.append(d.pickValue(BLOCKS)).append(number(d)).append(d.pickValue(ATTNS)).append(d.pickValue(TARGETS))
                    .append(d.pickValue(SUFFIXES));
        }
        if (d.consumeInt(0, 7) == 0) {
            k.insert(d.consumeInt(0, k.length()), d.consumeString(6));
        }
        return k.toString();
    }

    private static String number(FuzzedDataProvider d) {
        return switch (d.consumeInt(0, 3)) {
            case 0 -> String.valueOf(d.consumeInt(0, 40));
            case 1 -> String.valueOf(d.consumeLong());
            case 2 -> d.pickValue(NUMBERS);
            default -> "9".repeat(d.consumeInt(1, 24));
        };
    }

    /** A small LoRA file of assembled keys, fuzzed shapes, dtypes and metadata, through the importer. */
    private static void importFile(FuzzedDataProvider d) throws IOException {
        Map<String, TensorData> tensors = new LinkedHashMap<>();
        int modules = d.consumeInt(1, 3);
        int rank = d.consumeInt(0, 3);
        for (int i = 0; i < modules; i++) {
            String key = d.consumeBoolean() ? assembleKey(d) : null;
            String a;
            String b;
            if (key == null) { // a well-formed pair, so that many files get past the key checks
                String module = "transformer_blocks." + d.consumeInt(0, 3) + ".attn1." + d.pickValue(TARGETS);
                a = LoraKeys.diffusersKey(module, true);
                b = LoraKeys.diffusersKey(module, false);
            } else {
                a = key;
                b = key.replace("lora_A", "lora_B").replace("matrix_A", "matrix_B");
            }
            if (a.equals("__metadata__") || b.equals("__metadata__")) {
                continue; // not a tensor name the writer can write
            }
            int in = d.consumeInt(1, 3);
            int out = d.consumeInt(1, 3);
            tensors.put(a, tensor(d, a, d.consumeBoolean() ? new long[] {rank, in} : shape(d)));
            if (d.consumeInt(0, 7) != 0) {
                tensors.put(b, tensor(d, b, d.consumeBoolean() ? new long[] {out, d.consumeBoolean() ? rank : 1}
                        : shape(d)));
            }
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        switch (d.consumeInt(0, 3)) {
            case 0 -> metadata.put(LoraImporter.DIFFUSERS_METADATA_KEY, adapterJson(d, "transformer."));
            case 1 -> metadata.put(LoraImporter.FINETRAINERS_METADATA_KEY, adapterJson(d, ""));
            case 2 -> metadata.put(d.consumeBoolean() ? LoraImporter.DIFFUSERS_METADATA_KEY
                    : LoraImporter.FINETRAINERS_METADATA_KEY, d.consumeString(40));
            default -> { }
        }
        boolean peftFolder = d.consumeInt(0, 3) == 0;
        Path file = scratch().resolve(peftFolder ? "adapter_model.safetensors" : "fuzz.safetensors");
        Files.deleteIfExists(scratch().resolve("adapter_config.json"));
        if (peftFolder) {
            Files.writeString(scratch().resolve("adapter_config.json"), d.consumeBoolean() ? adapterJson(d, "")
                    : d.consumeString(40), StandardCharsets.UTF_8);
        }
        SafetensorsWriter.write(file, new ArrayList<>(tensors.values()), metadata);
        try (NDManager sub = manager().newSubManager()) {
            LoraFile lora = LoraImporter.read(file, sub);
            for (Map.Entry<String, LoraPair> e : lora.layers().entrySet()) {
                long[] sa = e.getValue().loraA().getShape().getShape();
                long[] sb = e.getValue().loraB().getShape().getShape();
                if (sa.length != 2 || sb.length != 2 || sa[0] != lora.rank() || sb[1] != lora.rank()) {
                    throw new AssertionError(e.getKey() + ": A " + Arrays.toString(sa) + ", B " + Arrays.toString(sb)
                            + " for the file's rank " + lora.rank());
                }
            }
            if (lora.layers().isEmpty()) {
                throw new AssertionError("a LoRA file without layers was accepted");
            }
        } catch (LoraException | SafetensorsFormatException | IOException | UncheckedIOException expected) {
            // the only acceptable failures
        }
    }

    private static TensorData tensor(FuzzedDataProvider d, String name, long[] shape) {
        SafetensorsDType dtype = d.consumeInt(0, 7) == 0 ? d.pickValue(DTYPES) : SafetensorsDType.F32;
        int numel = Math.toIntExact(Arrays.stream(shape).reduce(1, Math::multiplyExact));
        return switch (dtype) {
            case F32 -> {
                float[] v = new float[numel];
                for (int i = 0; i < numel; i++) {
                    v[i] = d.consumeBoolean() ? 0.5f : d.consumeFloat();
                }
                yield TensorData.f32(name, shape, v);
            }
            case I64 -> TensorData.i64(name, shape, new long[numel]);
            default -> TensorData.bits16(name, dtype, shape, new short[numel]);
        };
    }

    private static long[] shape(FuzzedDataProvider d) {
        long[] s = new long[d.consumeInt(0, 3)];
        for (int i = 0; i < s.length; i++) {
            s[i] = d.consumeInt(0, 3);
        }
        return s;
    }

    private static String adapterJson(FuzzedDataProvider d, String prefix) {
        StringBuilder j = new StringBuilder("{");
        String[] fields = {"r", "lora_alpha", "use_dora", "use_rslora", "rank_pattern", "alpha_pattern",
            "target_modules"};
        for (String f : fields) {
            if (d.consumeBoolean()) {
                j.append(j.length() > 1 ? "," : "").append('"').append(prefix).append(f).append("\":")
                        .append(jsonValue(d));
            }
        }
        return j.append('}').toString();
    }

    private static String jsonValue(FuzzedDataProvider d) {
        return switch (d.consumeInt(0, 7)) {
            case 0 -> String.valueOf(d.consumeInt(-2, 4));
            case 1 -> String.valueOf(d.consumeDouble());
            case 2 -> d.consumeBoolean() ? "true" : "false";
            case 3 -> "null";
            case 4 -> "[\"to_q\",\"to_k\"]";
            case 5 -> "{\"a\":" + d.consumeInt(0, 4) + "}";
            case 6 -> "\"to_q\"";
            default -> d.consumeString(8);
        };
    }

    private static synchronized Path scratch() throws IOException {
        if (scratch == null) {
            Path shm = Path.of("/dev/shm");
            scratch = Files.isDirectory(shm) && Files.isWritable(shm) ? Files.createTempDirectory(shm, "lorakeys-fuzz")
                    : Files.createTempDirectory("lorakeys-fuzz");
            scratch.toFile().deleteOnExit();
            for (String f : new String[] {"fuzz.safetensors", "adapter_model.safetensors", "adapter_config.json"}) {
                scratch.resolve(f).toFile().deleteOnExit();
            }
        }
        return scratch;
    }

    private static synchronized NDManager manager() {
        if (manager == null) {
            manager = NDManager.newBaseManager(); // lives for the JVM: the fuzz loop may run millions of inputs
        }
        return manager;
    }
}
