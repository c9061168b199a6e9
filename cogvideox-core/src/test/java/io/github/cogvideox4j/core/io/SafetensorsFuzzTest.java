package io.github.cogvideox4j.core.io;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.DictionaryEntries;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Feeds arbitrary files to {@link SafetensorsReader} (open, list, info, readFloats, read into DJL as FLOAT32
 * and FLOAT16) and requires that nothing but {@link SafetensorsFormatException} or an I/O exception escapes —
 * no other exception, no JVM crash in native code.
 *
 * <p>Half of the inputs are raw bytes; the other half are assembled from fuzzed parts (a JSON header built
 * from dtype names, dimensions, offsets and metadata, a true or fuzzed length prefix, a data buffer), which
 * reaches the semantic checks much faster than raw bytes. Fifteen inputs in sixteen (chosen by the input's last
 * byte: 0-14) go through the header parser and the float decoding in memory, as {@code open} and
 * {@code readFloats} do, which keeps the rate high; the sixteenth (15) is written to a file and read through the
 * reader into DJL.
 *
 * <p>How it runs:
 * <ul>
 *   <li>{@code mvn test}: JUnit regression mode, only the stored inputs under
 *       {@code src/test/resources/.../SafetensorsFuzzTestInputs/} (and {@code .cifuzz-corpus/} if present) are
 *       replayed.</li>
 *   <li>{@code mvn verify} (CI): the {@code fuzz} surefire execution of the core pom runs this class again with
 *       {@code JAZZER_FUZZ=1}, i.e. really fuzzing, for {@code -Dfuzz.time} (default 20s; the parent pom
 *       passes it as {@code jazzer.max_duration}, which overrides the annotation's value).</li>
 *   <li>A long local run: {@code mvn -pl cogvideox-core -am verify -Dfuzz.time=10m -Dtest=SafetensorsFuzzTest
 *       -Dsurefire.failIfNoSpecifiedTests=false}. Findings are written to the inputs directory above (and then
 *       replayed by every {@code mvn test}); the growing corpus goes to {@code cogvideox-core/.cifuzz-corpus/}
 *       (git-ignored).</li>
 * </ul>
 */
class SafetensorsFuzzTest {
    private static final List<String> DTYPES = List.of("F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8",
            "BOOL", "U16", "F8_E4M3", "f32", "");

    private static final Path IN_MEMORY = Path.of("in-memory.safetensors");

    private static Path scratch;
    private static NDManager manager;

    @FuzzTest(maxDuration = "20s")
    @DictionaryEntries({"\"dtype\"", "\"shape\"", "\"data_offsets\"", "\"__metadata__\"", "\"F32\"", "\"BF16\"",
            "\"F16\"", "\"BOOL\"", "\"I64\"", "NaN", "Infinity", "-0", "1e3", "18446744073709551616"})
    void arbitraryFilesOnlyRaiseFormatOrIoExceptions(FuzzedDataProvider data) throws IOException {
        int mode = data.consumeInt(0, 15); // 15/16 in memory: the header parser is the target, files are slow
        if (mode < 15) {
            parseInMemory(mode % 2 == 1 ? structured(data) : data.consumeRemainingAsBytes());
            return;
        }
        byte[] file = data.consumeBoolean() ? structured(data) : data.consumeRemainingAsBytes();
        Path f = scratch().resolve("fuzz.safetensors");
        Files.write(f, file);
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            r.metadata().forEach((k, v) -> k.length());
            for (String name : r.names()) {
                exercise(r, name);
            }
            exercise(r, "__absent__");
        } catch (SafetensorsFormatException | IOException | UncheckedIOException expected) {
            // the only acceptable failures
        }
    }

    @Test
    void theStoredValidSeedsAreValidFiles() throws Exception {
        Path inputs = Path.of(SafetensorsFuzzTest.class.getResource(
                "SafetensorsFuzzTestInputs/arbitraryFilesOnlyRaiseFormatOrIoExceptions").toURI());
        int valid = 0;
        try (var seeds = Files.list(inputs)) {
            Iterable<Path> validSeeds = seeds.filter(p -> p.getFileName().toString().startsWith("valid_"))::iterator;
            for (Path seed : validSeeds) {
                byte[] bytes = Files.readAllBytes(seed);
                Path f = scratch().resolve("seed.safetensors");
                // The last byte is the FuzzedDataProvider's mode switch (0 = raw bytes in memory), not the file's.
                Files.write(f, java.util.Arrays.copyOf(bytes, bytes.length - 1));
                try (SafetensorsReader r = SafetensorsReader.open(f)) {
                    assertThat(r.names()).as(seed.getFileName().toString()).isNotEmpty();
                }
                valid++;
            }
        }
        assertThat(valid).isGreaterThanOrEqualTo(3);
    }

    /** What {@link SafetensorsReader#open} and {@code readFloats} do, on bytes in memory. */
    private static void parseInMemory(byte[] file) {
        try {
            if (file.length < 8) {
                return; // open refuses it before parsing anything
            }
            ByteBuffer bytes = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
            long n = SafetensorsHeader.headerLength(IN_MEMORY, bytes, file.length);
            byte[] json = java.util.Arrays.copyOfRange(file, 8, 8 + (int) n);
            SafetensorsHeader header = SafetensorsHeader.parse(IN_MEMORY, json, file.length - 8 - n);
            for (TensorInfo info : header.tensors().values()) {
                long length = info.end() - info.begin();
                if (length != info.numel() * info.dtype().byteSize()) {
                    throw new AssertionError("accepted " + info + " with " + length + " data bytes");
                }
                if (info.dtype().isFloatingPoint()) {
                    ByteBuffer src = ByteBuffer.wrap(file, (int) (8 + n + info.begin()), (int) length).slice()
                            .order(ByteOrder.LITTLE_ENDIAN);
                    if (TensorCodec.decodeFloats(info.dtype(), src, (int) info.numel()).length != info.numel()) {
                        throw new AssertionError("decodeFloats gave the wrong count for " + info);
                    }
                }
            }
        } catch (SafetensorsFormatException expected) {
            // the only acceptable failure
        }
    }

    private static void exercise(SafetensorsReader r, String name) {
        try {
            TensorInfo info = r.info(name);
            if (info.dtype().isFloatingPoint()) {
                float[] floats = r.readFloats(name);
                if (floats.length != info.numel()) {
                    throw new AssertionError("readFloats gave " + floats.length + " values for " + info);
                }
            }
            try (NDManager sub = manager().newSubManager()) {
                NDArray a = r.read(name, sub);
                if (a.size() != info.numel()) {
                    throw new AssertionError("read gave " + a.size() + " elements for " + info);
                }
                r.read(name, sub, DataType.FLOAT16);
            }
        } catch (SafetensorsFormatException | UncheckedIOException expected) {
            // e.g. absent tensor, BOOL byte 2, too large
        }
    }

    /** A file assembled from fuzzed parts: length prefix, JSON header, data. */
    private static byte[] structured(FuzzedDataProvider data) {
        StringBuilder json = new StringBuilder("{");
        if (data.consumeBoolean()) {
            json.append("\"__metadata__\":{\"k\":").append(data.consumeBoolean() ? "\"v\"" : "1").append("},");
        }
        int tensors = data.consumeInt(0, 4);
        long offset = 0;
        for (int t = 0; t < tensors; t++) {
            String dtype = data.pickValue(DTYPES);
            int rank = data.consumeInt(0, 3);
            StringBuilder shape = new StringBuilder("[");
            long numel = 1;
            for (int d = 0; d < rank; d++) {
                long dim = data.consumeBoolean() ? data.consumeLong(0, 6) : data.consumeLong();
                numel *= dim;
                shape.append(d == 0 ? "" : ",").append(dim);
            }
            shape.append(']');
            long size = data.consumeBoolean() ? numel * sizeOf(dtype) : data.consumeLong(-2, 64);
            long begin = data.consumeBoolean() ? offset : data.consumeLong(-1, 80);
            json.append(t == 0 ? "" : ",").append(Crafted.entry(data.consumeBoolean() ? "t" + t : data.consumeString(4),
                    dtype, shape.toString(), begin, begin + size));
            offset = begin + size;
        }
        json.append('}');
        if (data.consumeBoolean()) {
            json.append(data.consumeString(8));
        }
        byte[] header = json.toString().getBytes(StandardCharsets.UTF_8);
        long declared = data.consumeBoolean() ? header.length : data.consumeLong();
        // Mostly a data buffer of exactly the size the entries claim (so that many files are valid and the
        // reads into DJL run), sometimes any size.
        int length = data.consumeBoolean() && offset >= 0 && offset <= 4096 ? (int) offset : data.consumeInt(0, 256);
        byte[] payload = java.util.Arrays.copyOf(data.consumeBytes(length), length);
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + payload.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(declared).put(header).put(payload);
        return b.array();
    }

    private static int sizeOf(String dtype) {
        switch (dtype) {
            case "F64":
            case "I64":
                return 8;
            case "F32":
            case "I32":
                return 4;
            case "F16":
            case "BF16":
            case "I16":
            case "U16":
                return 2;
            default:
                return 1;
        }
    }

    private static synchronized Path scratch() throws IOException {
        if (scratch == null) {
            Path shm = Path.of("/dev/shm");
            scratch = Files.isDirectory(shm) && Files.isWritable(shm)
                    ? Files.createTempDirectory(shm, "safetensors-fuzz") : Files.createTempDirectory("safetensors-fuzz");
            scratch.toFile().deleteOnExit();
            scratch.resolve("fuzz.safetensors").toFile().deleteOnExit();
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
