package io.github.cogvideox4j.core.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.io.TorchSaveFormatException.Reason;
import io.github.cogvideox4j.core.model.CogVideoXTransformer;
import io.github.cogvideox4j.core.testing.Golden;
import io.github.cogvideox4j.core.testing.TorchSaveFiles;
import io.github.cogvideox4j.core.testing.TorchSaveFiles.Pickle;
import io.github.cogvideox4j.core.testing.TorchSaveFiles.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Hostile and broken {@code torch.save} files: each is refused with a {@link TorchSaveFormatException} naming the
 * file, the archive entry and the reason, nothing in it runs (the payloads that would create a file leave no file),
 * and every bound holds (zip bombs, absurd sizes, negative strides, cycles and blow-ups in memo references).
 */
class TorchSaveRefusalTest {
    @TempDir
    Path tmp;

    private static final Duration FAST = Duration.ofSeconds(20);

    // ------------------------------------------------------------------------------------------------ helpers

    private Path pickleFile(String name, Pickle p) throws Exception {
        return TorchSaveFiles.writeArchive(tmp.resolve(name), "archive", p.toByteArray(), Map.of());
    }

    private Path pickleFile(String name, Pickle p, Map<String, byte[]> storages) throws Exception {
        return TorchSaveFiles.writeArchive(tmp.resolve(name), "archive", p.toByteArray(), storages);
    }

    /** Opens (and lists and reads) the file; returns the refusal. */
    private static TorchSaveFormatException refusal(Path file) {
        Throwable[] thrown = new Throwable[1];
        org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(FAST, () -> {
            try (NDManager manager = NDManager.newBaseManager(); TorchSaveReader r = TorchSaveReader.open(file)) {
                for (String n : r.names()) {
                    r.read(n, manager);
                }
            } catch (Throwable t) {
                thrown[0] = t;
            }
        });
        assertThat(thrown[0]).as("refusal of " + file.getFileName()).isInstanceOf(TorchSaveFormatException.class);
        TorchSaveFormatException e = (TorchSaveFormatException) thrown[0];
        assertThat(e.file()).isEqualTo(file);
        assertThat(e.getMessage()).startsWith("torch.save file " + file);
        return e;
    }

    private static void assertRefused(Path file, Reason reason, String entry, String... details) {
        TorchSaveFormatException e = refusal(file);
        assertThat(e.reason()).as(e.getMessage()).isEqualTo(reason);
        if (entry != null) {
            assertThat(e.entry()).as(e.getMessage()).isEqualTo(entry);
            assertThat(e.getMessage()).contains("entry '" + entry + "'");
        }
        assertThat(e.getMessage()).contains(details);
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    // ------------------------------------------------------------------------------------------------ golden

    static Stream<Arguments> goldenRefusals() {
        return Stream.of(Arguments.of("os_system.pt", Reason.FORBIDDEN_GLOBAL, "GLOBAL posix.system"),
                Arguments.of("builtins_eval.pt", Reason.FORBIDDEN_GLOBAL, "GLOBAL builtins.eval"),
                Arguments.of("truncated.pt", Reason.TRUNCATED, "ends before STOP"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("goldenRefusals")
    void everyGoldenHostileFileIsRefusedWithItsReason(String name, Reason reason, String detail) {
        Path file = Golden.path("sat", "refuse", name);
        assertRefused(file, reason, "archive/data.pkl", detail);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("goldenRefusals")
    void everyGoldenHostileFileIsRefusedByTheSatLoader(String name, Reason reason, String detail) throws Exception {
        Path file = Golden.path("sat", "refuse", name);
        CogVideoXConfig config = CogVideoXConfig.read(Golden.path("sat", "b_cogvideox_5b_rope_bf16", "config.json"));
        try (NDManager manager = NDManager.newBaseManager()) {
            assertThatThrownBy(() -> CogVideoXTransformer.load(file, config, manager))
                    .isInstanceOfSatisfying(TorchSaveFormatException.class,
                            e -> assertThat(e.reason()).isEqualTo(reason))
                    .hasMessageContaining(detail);
        }
    }

    // ------------------------------------------------------------------------------------------------ payloads

    /**
     * Payloads: those naming a global create {@code marker} when CPython's pickle loads them; OBJ, NEWOBJ and EXT1
     * are refused for the opcode itself, whatever class they name.
     */
    static Stream<Arguments> payloads() {
        return Stream.of(
                Arguments.of("posix.system via REDUCE", Reason.FORBIDDEN_GLOBAL, "posix.system"),
                Arguments.of("os.system via REDUCE", Reason.FORBIDDEN_GLOBAL, "os.system"),
                Arguments.of("builtins.exec via REDUCE", Reason.FORBIDDEN_GLOBAL, "builtins.exec"),
                Arguments.of("subprocess.call via REDUCE", Reason.FORBIDDEN_GLOBAL, "subprocess.call"),
                Arguments.of("INST os system", Reason.FORBIDDEN_OPCODE, "INST"),
                Arguments.of("OBJ", Reason.FORBIDDEN_OPCODE, "OBJ"),
                Arguments.of("NEWOBJ", Reason.FORBIDDEN_OPCODE, "NEWOBJ"),
                Arguments.of("EXT1", Reason.FORBIDDEN_OPCODE, "EXT1"),
                Arguments.of("storage type os.system in a persistent id", Reason.FORBIDDEN_GLOBAL, "os.system"),
                Arguments.of("nested in a state dict", Reason.FORBIDDEN_GLOBAL, "builtins.eval"));
    }

    private static Pickle payload(String kind, String marker) {
        String shell = "touch " + marker;
        String python = "open('" + marker + "', 'w')";
        Pickle p = new Pickle().proto(2);
        switch (kind) {
            case "posix.system via REDUCE" -> p.global("posix", "system").str(shell).op(0x85).op('R');
            case "os.system via REDUCE" -> p.global("os", "system").str(shell).op(0x85).op('R');
            case "builtins.exec via REDUCE" -> p.global("builtins", "exec").str(python).op(0x85).op('R');
            case "subprocess.call via REDUCE" -> p.global("subprocess", "call").op(']').mark().str("touch")
                    .str(marker).op('e').op(0x85).op('R');
            case "INST os system" -> p = new Pickle().mark().op('S').bytes(utf8("'" + shell + "'\n")).op('i')
                    .bytes(utf8("os\nsystem\n"));
            case "OBJ" -> p.mark().global("collections", "OrderedDict").op('o');
            case "NEWOBJ" -> p.global("collections", "OrderedDict").op(')').op(0x81);
            case "EXT1" -> p.op(0x82).u8(1).str(shell).op(0x85).op('R');
            case "storage type os.system in a persistent id" -> p.mark().str("storage").global("os", "system")
                    .str(shell).str("cpu").integer(1).op('t').op('Q');
            case "nested in a state dict" -> p.op('}').str("module").op('}').str("w").global("builtins", "eval")
                    .str(python).op(0x85).op('R').op('s').op('s');
            default -> throw new AssertionError(kind);
        }
        return p.stop();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("payloads")
    void aPayloadIsRefusedAndHasNoEffect(String kind, Reason reason, String detail) throws Exception {
        Path marker = tmp.resolve("pwned-" + kind.replaceAll("[^a-z]", ""));
        Path file = pickleFile("payload.pt", payload(kind, marker.toString()));
        assertRefused(file, reason, "archive/data.pkl", detail);
        assertThat(marker).doesNotExist();
    }

    // ------------------------------------------------------------------------------------------------ archive

    @Test
    void aFileThatIsNotAZipArchiveIsRefused() throws Exception {
        // the legacy (pre-1.6) format starts with a pickled magic number
        Path legacy = Files.write(tmp.resolve("legacy.pt"), new byte[] {(byte) 0x80, 2, (byte) 0x8a, 10, 0x6c,
            (byte) 0xfc, (byte) 0x9c, 0x46, (byte) 0xf9, 0x20, 0x6a, (byte) 0xa8, 0x50, 0x19, 0x2e, 0, 0, 0, 0, 0, 0,
            0});
        assertRefused(legacy, Reason.NOT_AN_ARCHIVE, null, "re-saved");
        assertRefused(Files.write(tmp.resolve("empty.pt"), new byte[0]), Reason.NOT_AN_ARCHIVE, null, "0 bytes");
    }

    @Test
    void aTruncatedArchiveIsRefused() throws Exception {
        Path good = TorchSaveFiles.writeTree(tmp.resolve("good.pt"), Map.of("a", 1), Map.of());
        byte[] bytes = Files.readAllBytes(good);
        Path cut = Files.write(tmp.resolve("cut.pt"), java.util.Arrays.copyOf(bytes, bytes.length - 30));
        assertRefused(cut, Reason.MALFORMED_ARCHIVE, null, "end-of-central-directory");
    }

    @Test
    void anEntryWhoseDataReachesPastTheEntriesAreaIsRefused() throws Exception {
        Path f = TorchSaveFiles.writeTree(tmp.resolve("past.pt"), Map.of("a", 1), Map.of());
        ZipBytes z = ZipBytes.of(f);
        z.setCentralInt("archive/byteorder", 20, 1 << 30); // compressed size
        z.setCentralInt("archive/byteorder", 24, 1 << 30); // size
        assertRefused(z.write(tmp.resolve("past2.pt")), Reason.MALFORMED_ARCHIVE, "archive/byteorder",
                "reaches past the entries area");
    }

    @Test
    void overlappingEntriesAreRefused() throws Exception {
        Path f = TorchSaveFiles.writeTree(tmp.resolve("overlap.pt"), Map.of("a", 1), Map.of());
        ZipBytes z = ZipBytes.of(f);
        // the version entry claims the byteorder entry's local header: two names for one set of bytes
        z.setCentralInt("archive/version", 42, z.centralInt("archive/byteorder", 42));
        TorchSaveFormatException e = refusal(z.write(tmp.resolve("overlap2.pt")));
        assertThat(e.reason()).isEqualTo(Reason.MALFORMED_ARCHIVE);
        assertThat(e.getMessage()).containsAnyOf("overlaps", "local header");
    }

    @Test
    void duplicateNamesAreRefused() throws Exception {
        Pickle p = new Pickle().proto(2).integer(1).stop();
        Map<String, byte[]> entries = new LinkedHashMap<>();
        entries.put("archive/data.pkl", p.toByteArray());
        entries.put("archive/datb.pkl", p.toByteArray());
        ZipBytes z = ZipBytes.of(TorchSaveFiles.writeZip(tmp.resolve("dup.pt"), entries, false));
        z.replaceAll(utf8("archive/datb.pkl"), utf8("archive/data.pkl"));
        assertRefused(z.write(tmp.resolve("dup2.pt")), Reason.MALFORMED_ARCHIVE, "archive/data.pkl", "twice");
    }

    @Test
    void encryptedAndUnknownCompressionMethodsAreRefused() throws Exception {
        Path f = TorchSaveFiles.writeTree(tmp.resolve("m.pt"), Map.of("a", 1), Map.of());
        ZipBytes enc = ZipBytes.of(f);
        enc.setCentralShort("archive/data.pkl", 8, 1);
        assertRefused(enc.write(tmp.resolve("enc.pt")), Reason.UNSUPPORTED, "archive/data.pkl", "encrypted");
        ZipBytes bz = ZipBytes.of(f);
        bz.setCentralShort("archive/data.pkl", 10, 12);
        assertRefused(bz.write(tmp.resolve("bz.pt")), Reason.UNSUPPORTED, "archive/data.pkl", "method 12");
    }

    @Test
    void aZipBombPickleStopsAtTheLimitWithoutInflatingItAll() throws Exception {
        // 64 MiB of zeros deflate to ~64 KiB; the pickle limit is 32 MiB
        Map<String, byte[]> entries = new LinkedHashMap<>();
        entries.put("archive/data.pkl", new byte[64 << 20]);
        Path f = TorchSaveFiles.writeZip(tmp.resolve("bomb.pt"), entries, true);
        assertThat(Files.size(f)).isLessThan(1 << 20);
        assertRefused(f, Reason.LIMIT_EXCEEDED, "archive/data.pkl", "more than the " + (32 << 20));
    }

    @Test
    void aDeflatedEntryDeclaringMoreThanDeflateCanProduceIsRefused() throws Exception {
        Map<String, byte[]> entries = new LinkedHashMap<>();
        entries.put("archive/data.pkl", new Pickle().proto(2).integer(1).stop().toByteArray());
        ZipBytes z = ZipBytes.of(TorchSaveFiles.writeZip(tmp.resolve("ratio.pt"), entries, true));
        z.setCentralInt("archive/data.pkl", 24, 30 << 20); // claims 30 MiB from a few bytes
        assertRefused(z.write(tmp.resolve("ratio2.pt")), Reason.MALFORMED_ARCHIVE, "archive/data.pkl",
                "maximum ratio");
    }

    @Test
    void aDeflatedEntryThatInflatesToOtherThanItsSizeIsRefused() throws Exception {
        Map<String, byte[]> entries = new LinkedHashMap<>();
        entries.put("archive/data.pkl", new Pickle().proto(2).str("x".repeat(5000)).stop().toByteArray());
        ZipBytes z = ZipBytes.of(TorchSaveFiles.writeZip(tmp.resolve("size.pt"), entries, true));
        z.setCentralInt("archive/data.pkl", 24, 100);
        assertRefused(z.write(tmp.resolve("size2.pt")), Reason.MALFORMED_ARCHIVE, "archive/data.pkl",
                "more than its declared 100 bytes");
    }

    @Test
    void aBigEndianArchiveIsRefused() throws Exception {
        Map<String, byte[]> entries = new LinkedHashMap<>();
        entries.put("archive/data.pkl", new Pickle().proto(2).integer(1).stop().toByteArray());
        entries.put("archive/byteorder", utf8("big"));
        assertRefused(TorchSaveFiles.writeZip(tmp.resolve("be.pt"), entries, false), Reason.UNSUPPORTED,
                "archive/byteorder", "byte order 'big'");
    }

    @Test
    void anArchiveWithoutAPickleIsRefused() throws Exception {
        Map<String, byte[]> entries = Map.of("archive/version", utf8("3\n"));
        assertRefused(TorchSaveFiles.writeZip(tmp.resolve("nopkl.pt"), entries, false), Reason.MALFORMED_ARCHIVE,
                "archive/data.pkl", "no pickle");
    }

    // ------------------------------------------------------------------------------------------------ pickle

    @Test
    void unknownOpcodesAndLaterProtocolsAreRefused() throws Exception {
        assertRefused(pickleFile("ff.pt", new Pickle().proto(2).op(0xff).stop()), Reason.UNKNOWN_OPCODE,
                "archive/data.pkl", "opcode 0xff", "at byte 2");
        assertRefused(pickleFile("p4.pt", new Pickle().proto(4).integer(1).stop()), Reason.UNSUPPORTED,
                "archive/data.pkl", "protocol 4");
        assertRefused(pickleFile("sg.pt", new Pickle().proto(2).str("os").str("system").op(0x93).stop()),
                Reason.UNKNOWN_OPCODE, "archive/data.pkl", "STACK_GLOBAL");
    }

    @Test
    void streamsCutInsideAnArgumentOrWithoutStopAreTruncated() throws Exception {
        assertRefused(pickleFile("t1.pt", new Pickle().proto(2).op('X').i32(1_000_000).bytes(utf8("abc"))),
                Reason.TRUNCATED, "archive/data.pkl", "1000000-byte argument");
        assertRefused(pickleFile("t2.pt", new Pickle().proto(2).op('J').u8(1)), Reason.TRUNCATED, null, "argument");
        assertRefused(pickleFile("t3.pt", new Pickle().proto(2).op('c').bytes(utf8("torch\nSi"))), Reason.TRUNCATED,
                null, "no newline");
        assertRefused(pickleFile("t4.pt", new Pickle().proto(2).integer(3)), Reason.TRUNCATED, null, "before STOP");
    }

    @Test
    void malformedOperationsAreRefused() throws Exception {
        assertRefused(pickleFile("u.pt", new Pickle().proto(2).op('R').stop()), Reason.MALFORMED_PICKLE, null,
                "stack underflow");
        assertRefused(pickleFile("g.pt", new Pickle().proto(2).binget(7).stop()), Reason.MALFORMED_PICKLE, null,
                "memo entry 7");
        assertRefused(pickleFile("a.pt", new Pickle().proto(2).integer(1).integer(2).op('a').stop()),
                Reason.MALFORMED_PICKLE, null, "APPEND on int");
        assertRefused(pickleFile("k.pt", new Pickle().proto(2).op('}').op(']').integer(1).op('s').stop()),
                Reason.MALFORMED_PICKLE, null, "unhashable dict key of type list");
        assertRefused(pickleFile("s.pt", new Pickle().proto(2).integer(1).integer(2).stop()),
                Reason.MALFORMED_PICKLE, null, "STOP leaves 1 value");
        assertRefused(pickleFile("b.pt", new Pickle().proto(2).op(']').op('}').op('b').stop()),
                Reason.MALFORMED_PICKLE, null, "BUILD on a list");
        assertRefused(pickleFile("r.pt", new Pickle().proto(2).global("torch", "FloatStorage").op(')').op('R')
                .stop()), Reason.MALFORMED_PICKLE, null, "only valid inside a persistent id");
    }

    @Test
    void aListOrDictThatContainsItselfIsRefused() throws Exception {
        assertRefused(pickleFile("cycle.pt", new Pickle().proto(2).op(']').binput(0).binget(0).op('a').stop()),
                Reason.MALFORMED_PICKLE, "archive/data.pkl", "contains itself");
        assertRefused(pickleFile("dcycle.pt", new Pickle().proto(2).op('}').binput(0).str("self").binget(0)
                .op('s').stop()), Reason.MALFORMED_PICKLE, null, "contains itself");
        // through a tuple: l = [], t = (l,), l.append(t)
        assertRefused(pickleFile("tcycle.pt", new Pickle().proto(2).op(']').binput(0).binget(0).op(0x85).op('a')
                .stop()), Reason.MALFORMED_PICKLE, null, "contains itself");
    }

    @Test
    void deepNestingIsBounded() throws Exception {
        Pickle p = new Pickle().proto(2);
        for (int i = 0; i < 500; i++) {
            p.op(']');
        }
        for (int i = 0; i < 499; i++) {
            p.op('a');
        }
        assertRefused(pickleFile("deep.pt", p.stop()), Reason.LIMIT_EXCEEDED, null, "nested more than 100");
    }

    @Test
    void anExponentialTreeOfSharedReferencesIsBoundedWhenListedByPath() throws Exception {
        // l0 = [1]; l(k+1) = [lk, lk]: 2^60 paths through 61 lists (a "billion laughs" pickle)
        Pickle p = new Pickle().proto(2).op(']').integer(1).op('a').binput(0).op('0');
        for (int k = 1; k <= 60; k++) {
            p.op(']').mark().binget(k - 1).binget(k - 1).op('e').binput(k).op('0');
        }
        p.binget(60);
        assertRefused(pickleFile("laughs.pt", p.stop()), Reason.LIMIT_EXCEEDED, null,
                "more than " + TorchSaveReader.MAX_LEAVES + " leaves");
    }

    @Test
    void anExponentialTupleUsedAsADictKeyIsBounded() throws Exception {
        Pickle p = new Pickle().proto(2).op('}').integer(1).op(0x85).binput(0).op('0');
        for (int k = 1; k <= 60; k++) {
            p.binget(k - 1).binget(k - 1).op(0x86).binput(k).op('0');
        }
        p.binget(60).integer(0).op('s');
        assertRefused(pickleFile("keys.pt", p.stop()), Reason.MALFORMED_PICKLE, null, "unhashable dict key");
    }

    @Test
    void hugeIntegersAreBounded() throws Exception {
        assertRefused(pickleFile("long4.pt", new Pickle().proto(2).op(0x8b).i32(1 << 30).stop()),
                Reason.LIMIT_EXCEEDED, null, "more than 128");
        assertRefused(pickleFile("text.pt", new Pickle().op('L').bytes(utf8("9".repeat(5000) + "L\n")).stop()),
                Reason.LIMIT_EXCEEDED, null, "5000 digits");
    }

    // ------------------------------------------------------------------------------------------------ tensors

    private Path tensorFile(String name, long numel, long offset, long[] size, long[] stride, byte[] storage)
            throws Exception {
        Pickle p = new Pickle().proto(2).op('}').str("t");
        p.tensor(new Tensor("0", SafetensorsDType.F32, offset, size, stride), numel);
        p.op('s').stop();
        return pickleFile(name, p, Map.of("0", storage));
    }

    @Test
    void viewsOutsideTheirStorageAreRefused() throws Exception {
        byte[] six = TorchSaveFiles.f32(1, 2, 3, 4, 5, 6);
        assertRefused(tensorFile("off.pt", 6, 5, new long[] {2}, new long[] {1}, six), Reason.OUT_OF_BOUNDS,
                "archive/data.pkl", "reaches element 6", "holds 6 F32 elements");
        assertRefused(tensorFile("stride.pt", 6, 0, new long[] {2, 3}, new long[] {3, 2}, six), Reason.OUT_OF_BOUNDS,
                null, "reaches element 7");
        assertRefused(tensorFile("empty.pt", 6, 7, new long[] {0}, new long[] {1}, six), Reason.OUT_OF_BOUNDS, null,
                "reaches element 7");
    }

    @Test
    void negativeStridesSizesAndOffsetsAreRefused() throws Exception {
        byte[] six = TorchSaveFiles.f32(1, 2, 3, 4, 5, 6);
        assertRefused(tensorFile("ns.pt", 6, 5, new long[] {3}, new long[] {-1}, six), Reason.OUT_OF_BOUNDS, null,
                "negative size or stride");
        assertRefused(tensorFile("nz.pt", 6, 0, new long[] {-2}, new long[] {1}, six), Reason.OUT_OF_BOUNDS, null,
                "negative size or stride");
        assertRefused(tensorFile("no.pt", 6, -1, new long[] {1}, new long[] {1}, six), Reason.OUT_OF_BOUNDS, null,
                "negative storage offset");
    }

    @Test
    void absurdSizesAreBoundedWithoutAllocating() throws Exception {
        byte[] one = TorchSaveFiles.f32(1);
        // 2^40 x 2^40 overflows 64 bits
        assertRefused(tensorFile("ovf.pt", 1, 0, new long[] {1L << 40, 1L << 40}, new long[] {1, 1}, one),
                Reason.OUT_OF_BOUNDS, null, "overflow 64 bits");
        // an expanded view (stride 0) of 2^31 x 2^31 elements lies inside its storage but cannot be one array
        assertRefused(tensorFile("big.pt", 1, 0, new long[] {1L << 31, 1L << 31}, new long[] {0, 0}, one),
                Reason.LIMIT_EXCEEDED, null, "too large for one buffer");
        // a storage declaring more elements than its entry holds
        assertRefused(tensorFile("numel.pt", 1L << 60, 0, new long[] {1}, new long[] {1}, one), Reason.BAD_STORAGE,
                "archive/data/0", "1152921504606846976 F32 elements", "the entry holds 4 bytes");
        assertRefused(tensorFile("rank.pt", 1, 0, new long[] {1, 1}, new long[] {1}, one), Reason.OUT_OF_BOUNDS,
                null, "different ranks");
    }

    @Test
    void anExpandedViewMayNotTurnAFewBytesIntoGigabytes() throws Exception {
        byte[] one = TorchSaveFiles.f32(1);
        long elements = TorchSaveReader.maxExpandedBytes(one.length) / Float.BYTES + 1; // one element over the bound
        assertRefused(tensorFile("bomb.pt", 1, 0, new long[] {elements}, new long[] {0}, one), Reason.LIMIT_EXCEEDED,
                null, "expands its 4-byte storage to " + elements * Float.BYTES + " bytes");
    }

    @Test
    void anExpandedViewWithinTheBoundReadsAsTheRepeatedElement() throws Exception {
        byte[] one = TorchSaveFiles.f32(2.5f);
        long elements = TorchSaveReader.maxExpandedBytes(one.length) / Float.BYTES;
        try (TorchSaveReader r = TorchSaveReader.open(tensorFile("wide.pt", 1, 0, new long[] {elements},
                new long[] {0}, one))) {
            float[] values = r.readFloats("t");
            assertThat(values).hasSize((int) elements);
            assertThat(values[0]).isEqualTo(2.5f);
            assertThat(values[values.length - 1]).isEqualTo(2.5f);
        }
    }

    @Test
    void aStorageWithoutAnEntryOrOfAnUnlistedTypeIsRefused() throws Exception {
        Pickle p = new Pickle().proto(2);
        p.tensor(Tensor.contiguous("9", SafetensorsDType.F32, 1), 1).stop();
        assertRefused(pickleFile("nokey.pt", p), Reason.BAD_STORAGE, "archive/data.pkl", "storage '9' names no entry");
        Pickle c = new Pickle().proto(2).global("torch._utils", "_rebuild_tensor_v2").mark().mark().str("storage")
                .global("torch", "ComplexFloatStorage");
        assertRefused(pickleFile("complex.pt", c.stop()), Reason.FORBIDDEN_GLOBAL, null,
                "torch.ComplexFloatStorage");
    }

    /** A zip file's bytes with helpers to patch central-directory fields (no ZIP64: java.util.zip output). */
    static final class ZipBytes {
        private final byte[] bytes;

        private ZipBytes(byte[] bytes) {
            this.bytes = bytes;
        }

        static ZipBytes of(Path file) throws Exception {
            return new ZipBytes(Files.readAllBytes(file));
        }

        private ByteBuffer le() {
            return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        }

        /** @return the offset of the central-directory entry of {@code name} */
        private int central(String name) {
            ByteBuffer b = le();
            int eocd = bytes.length - 22;
            int cd = b.getInt(eocd + 16);
            int count = b.getShort(eocd + 10) & 0xFFFF;
            int p = cd;
            for (int i = 0; i < count; i++) {
                int n = b.getShort(p + 28) & 0xFFFF;
                String entry = new String(bytes, p + 46, n, StandardCharsets.UTF_8);
                if (entry.equals(name)) {
                    return p;
                }
                p += 46 + n + (b.getShort(p + 30) & 0xFFFF) + (b.getShort(p + 32) & 0xFFFF);
            }
            throw new AssertionError("no entry " + name);
        }

        int centralInt(String name, int field) {
            return le().getInt(central(name) + field);
        }

        void setCentralInt(String name, int field, int value) {
            le().putInt(central(name) + field, value);
        }

        void setCentralShort(String name, int field, int value) {
            le().putShort(central(name) + field, (short) value);
        }

        void replaceAll(byte[] from, byte[] to) {
            for (int i = 0; i <= bytes.length - from.length; i++) {
                if (java.util.Arrays.equals(bytes, i, i + from.length, from, 0, from.length)) {
                    System.arraycopy(to, 0, bytes, i, to.length);
                }
            }
        }

        Path write(Path file) throws Exception {
            return Files.write(file, bytes);
        }
    }
}
