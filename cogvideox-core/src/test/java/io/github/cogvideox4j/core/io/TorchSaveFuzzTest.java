package io.github.cogvideox4j.core.io;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.config.CogVideoXVariant;
import io.github.cogvideox4j.core.io.TorchSaveFormatException.Reason;
import io.github.cogvideox4j.core.model.SatCheckpoint;
import io.github.cogvideox4j.core.model.WeightLoadException;
import io.github.cogvideox4j.core.testing.TorchSaveFiles;
import io.github.cogvideox4j.core.testing.TorchSaveFiles.Pickle;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Feeds arbitrary pickles and archives to the {@code torch.save} reader ({@link PickleMachine} in memory,
 * {@link TorchSaveReader} on files: open, list, read every tensor as floats, FLOAT32 and FLOAT16 arrays, and the
 * SAT name mapping of {@link SatCheckpoint}) and requires that nothing but {@link TorchSaveFormatException}, a
 * {@link WeightLoadException} of the SAT mapping or an I/O exception escapes: no other exception, no hang, no JVM
 * crash in native code.
 *
 * <p>Four modes, chosen by the input's last byte: raw pickle bytes run in memory (0-6); a pickle assembled from
 * well-formed opcodes (containers, memo, allowlisted and forbidden globals, tensors with fuzzed offsets, sizes and
 * strides) run in memory (7-13); such a pickle in a real archive with fuzzed storages (14); and raw file bytes (15). The assembled pickles reach the
 * semantic checks (bounds, cycles, keys) far faster than raw bytes.
 *
 * <p>How it runs:
 * <ul>
 *   <li>{@code mvn test}: JUnit regression mode, only the stored inputs under
 *       {@code src/test/resources/.../TorchSaveFuzzTestInputs/} are replayed.</li>
 *   <li>{@code mvn verify}: the {@code fuzz-pickle} surefire execution of the core pom fuzzes this class for
 *       {@code -Dfuzz.time} (default 20s).</li>
 *   <li>A long local run: {@code nice -n 19 mvn -pl cogvideox-core -am verify -Dfuzz.time=10m
 *       -Dtest=TorchSaveFuzzTest -Dsurefire.failIfNoSpecifiedTests=false} (see docs/reliability.md).</li>
 * </ul>
 */
class TorchSaveFuzzTest {
    private static final Path NAME = Path.of("fuzz.pt");
    private static final List<String> GLOBALS = List.of("torch._utils\n_rebuild_tensor_v2", "collections\nOrderedDict",
            "torch\nFloatStorage", "torch\nBFloat16Storage", "torch\nHalfStorage", "torch\nLongStorage",
            "torch\nBoolStorage", "torch\nSize", "torch._utils\n_rebuild_parameter", "posix\nsystem",
            "builtins\neval", "torch\nComplexFloatStorage");
    private static final int[] SIMPLE_OPS = {'(', ')', ']', '}', 'N', 0x88, 0x89, 't', 0x85, 0x86, 0x87, 'l', 'd',
        'a', 'e', 's', 'u', 'R', 'b', 'Q', '0', '1', '2', '.'};
    private static final CogVideoXConfig TINY = CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_5B);

    private static Path scratch;
    private static NDManager manager;

    @FuzzTest(maxDuration = "20s")
    // plain printable tokens: Jazzer passes entries to libFuzzer's dictionary file, which takes no line breaks
    @DictionaryEntries({"torch._utils", "_rebuild_tensor_v2", "_rebuild_parameter", "collections", "OrderedDict",
        "FloatStorage", "BFloat16Storage", "HalfStorage", "Size", "storage", "cpu", "module", "archive/data.pkl",
        "archive/data/0", "archive/byteorder", "little", "PK"})
    void arbitraryPicklesAndArchivesOnlyRaiseFormatOrIoExceptions(FuzzedDataProvider data) throws IOException {
        int mode = data.consumeInt(0, 15); // 7/8 in memory: the pickle machine is the attack surface, files are slow
        try {
            switch (mode) {
                case 0, 1, 2, 3, 4, 5, 6 -> runInMemory(data.consumeRemainingAsBytes());
                case 7, 8, 9, 10, 11, 12, 13 -> runInMemory(assemble(data));
                case 14 -> {
                    byte[] pickle = assemble(data);
                    Map<String, byte[]> storages = new LinkedHashMap<>();
                    int n = data.consumeInt(0, 2);
                    for (int i = 0; i < n; i++) {
                        storages.put(Integer.toString(i), data.consumeBytes(data.consumeInt(0, 96)));
                    }
                    exercise(TorchSaveFiles.writeArchive(scratch().resolve("fuzz.pt"), "archive", pickle, storages));
                }
                default -> exercise(Files.write(scratch().resolve("fuzz.pt"), data.consumeRemainingAsBytes()));
            }
        } catch (TorchSaveFormatException | IOException | UncheckedIOException expected) {
            // the only acceptable failures
        }
    }

    @Test
    void theStoredValidSeedsAreValidArchives() throws Exception {
        Path inputs = Path.of(TorchSaveFuzzTest.class.getResource(
                "TorchSaveFuzzTestInputs/arbitraryPicklesAndArchivesOnlyRaiseFormatOrIoExceptions").toURI());
        int valid = 0;
        try (var seeds = Files.list(inputs)) {
            Iterable<Path> validSeeds = seeds.filter(p -> p.getFileName().toString().startsWith("valid_file_"))::iterator;
            for (Path seed : validSeeds) {
                byte[] bytes = Files.readAllBytes(seed);
                // The last byte is the FuzzedDataProvider's mode switch (15 = raw file bytes), not part of the file.
                assertThat(bytes[bytes.length - 1]).isEqualTo((byte) 15);
                Path f = Files.write(scratch().resolve("seed.pt"), java.util.Arrays.copyOf(bytes, bytes.length - 1));
                try (TorchSaveReader r = TorchSaveReader.open(f)) {
                    assertThat(r.names()).as(seed.getFileName().toString()).isNotEmpty();
                }
                valid++;
            }
        }
        assertThat(valid).isGreaterThanOrEqualTo(2);
    }

    private static void runInMemory(byte[] pickle) {
        PickleMachine.run(NAME, "fuzz/data.pkl", pickle, (key, dtype, numel, location) -> {
            if ((key.equals("0") || key.equals("1")) && numel <= 64) {
                return new PickleMachine.Storage(key, "fuzz/data/" + key, dtype, numel);
            }
            throw new TorchSaveFormatException(NAME, "fuzz/data.pkl", null, Reason.BAD_STORAGE, "no storage " + key);
        });
    }

    /** A pickle of well-formed opcodes in a fuzzed order. */
    private static byte[] assemble(FuzzedDataProvider data) {
        Pickle p = new Pickle().proto(2);
        int tokens = data.consumeInt(0, 40);
        for (int i = 0; i < tokens; i++) {
            switch (data.consumeInt(0, 9)) {
                case 0 -> p.op(SIMPLE_OPS[data.consumeInt(0, SIMPLE_OPS.length - 1)]);
                case 1 -> p.integer(data.consumeBoolean() ? data.consumeLong(-2, 70) : data.consumeLong());
                case 2 -> p.str(data.consumeBoolean() ? data.pickValue(List.of("storage", "cpu", "0", "1", "module",
                        "state_dict", "model.diffusion_model.time_embed.0.weight")) : data.consumeString(8));
                case 3 -> p.binput(data.consumeInt(0, 7));
                case 4 -> p.binget(data.consumeInt(0, 7));
                case 5 -> p.op('c').bytes((data.pickValue(GLOBALS) + "\n").getBytes(
                        java.nio.charset.StandardCharsets.US_ASCII));
                case 6 -> {
                    // a whole tensor with fuzzed view parameters
                    int rank = data.consumeInt(0, 3);
                    long[] shape = new long[rank];
                    long[] stride = new long[rank];
                    for (int d = 0; d < rank; d++) {
                        shape[d] = data.consumeBoolean() ? data.consumeLong(0, 5) : data.consumeLong();
                        stride[d] = data.consumeBoolean() ? data.consumeLong(0, 6) : data.consumeLong();
                    }
                    SafetensorsDType dtype = data.pickValue(SafetensorsDType.values());
                    p.tensor(new TorchSaveFiles.Tensor(data.consumeBoolean() ? "0" : "1", dtype,
                            data.consumeBoolean() ? data.consumeLong(0, 8) : data.consumeLong(), shape, stride),
                            data.consumeBoolean() ? data.consumeLong(0, 48) : data.consumeLong());
                }
                case 7 -> p.op('G').bytes(data.consumeBytes(8));
                case 8 -> p.op(0x8a).u8(data.consumeInt(0, 9)).bytes(data.consumeBytes(9));
                default -> p.op(data.consumeInt(0, 255));
            }
        }
        if (data.consumeBoolean()) {
            p.stop();
        }
        return p.toByteArray();
    }

    private static void exercise(Path f) throws IOException {
        try (TorchSaveReader r = TorchSaveReader.open(f)) {
            r.leaves().forEach((k, v) -> k.length());
            r.metadata().forEach((k, v) -> k.length());
            for (String name : r.names()) {
                read(r, name);
            }
            try (SatCheckpoint sat = SatCheckpoint.open(f, TINY)) {
                for (String name : sat.names()) {
                    read(sat, name);
                }
            } catch (WeightLoadException expected) {
                // not a dict, a bad state dict, ...
            }
        }
    }

    private static void read(TensorSource source, String name) {
        try {
            TensorInfo info = source.info(name);
            if (info.dtype().isFloatingPoint()) {
                float[] floats = source.readFloats(name);
                if (floats.length != info.numel()) {
                    throw new AssertionError("readFloats gave " + floats.length + " values for " + info);
                }
            }
            try (NDManager sub = manager().newSubManager()) {
                NDArray a = source.read(name, sub);
                if (a.size() != info.numel()) {
                    throw new AssertionError("read gave " + a.size() + " elements for " + info);
                }
                source.read(name, sub, DataType.FLOAT16);
            }
        } catch (TorchSaveFormatException | UncheckedIOException expected) {
            // too large, corrupt, ...
        }
    }

    private static synchronized Path scratch() throws IOException {
        if (scratch == null) {
            // a memory file system when the machine has one: rewriting a file on a disk costs ~1 ms per input
            Path shm = Path.of("/dev/shm");
            scratch = Files.isDirectory(shm) && Files.isWritable(shm) ? Files.createTempDirectory(shm, "torchsave-fuzz")
                    : Files.createTempDirectory("torchsave-fuzz");
            scratch.toFile().deleteOnExit();
            scratch.resolve("fuzz.pt").toFile().deleteOnExit();
            scratch.resolve("seed.pt").toFile().deleteOnExit();
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
