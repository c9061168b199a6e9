package io.github.cogvideox4j.core.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.testing.SatFiles;
import io.github.cogvideox4j.core.testing.TorchSaveFiles;
import io.github.cogvideox4j.core.testing.TorchSaveFiles.Pickle;
import io.github.cogvideox4j.core.testing.TorchSaveFiles.Tensor;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Views, dtypes and the value model of {@link TorchSaveReader}, on files written here. */
class TorchSaveReaderTest {
    @TempDir
    Path tmp;

    /** 0, 1, ..., n-1 as floats. */
    private static float[] ramp(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = i + 0.25f * (i % 3);
        }
        return v;
    }

    /** The reference: element {@code offset + sum(i_k stride_k)} of {@code storage}, row-major over the shape. */
    private static float[] view(float[] storage, long offset, long[] shape, long[] stride) {
        int n = 1;
        for (long d : shape) {
            n *= (int) d;
        }
        float[] out = new float[n];
        for (int flat = 0; flat < n; flat++) {
            long rest = flat;
            long at = offset;
            for (int d = shape.length - 1; d >= 0; d--) {
                at += (rest % shape[d]) * stride[d];
                rest /= shape[d];
            }
            out[flat] = storage[(int) at];
        }
        return out;
    }

    @Test
    void stridedAndOffsetViewsOfOneStorageComeOutInRowMajorOrder() throws Exception {
        float[] storage = ramp(24);
        Map<String, Tensor> views = new LinkedHashMap<>();
        views.put("whole", Tensor.contiguous("0", SafetensorsDType.F32, 2, 3, 4));
        views.put("transposed", new Tensor("0", SafetensorsDType.F32, 0, new long[] {4, 3, 2}, new long[] {1, 4, 12}));
        views.put("offsetRows", new Tensor("0", SafetensorsDType.F32, 6, new long[] {2, 3}, new long[] {5, 1}));
        views.put("expanded", new Tensor("0", SafetensorsDType.F32, 2, new long[] {3, 4}, new long[] {0, 1}));
        views.put("everyOther", new Tensor("0", SafetensorsDType.F32, 1, new long[] {3, 2}, new long[] {8, 2}));
        views.put("scalar", new Tensor("0", SafetensorsDType.F32, 23, new long[0], new long[0]));
        views.put("empty", new Tensor("0", SafetensorsDType.F32, 24, new long[] {0, 5}, new long[] {5, 1}));
        Path f = TorchSaveFiles.writeTree(tmp.resolve("views.pt"), views, Map.of("0", TorchSaveFiles.f32(storage)));
        try (NDManager manager = NDManager.newBaseManager(); TorchSaveReader r = TorchSaveReader.open(f)) {
            for (Map.Entry<String, Tensor> e : views.entrySet()) {
                Tensor t = e.getValue();
                float[] expected = view(storage, t.offset(), t.shape(), t.stride());
                assertThat(r.readFloats(e.getKey())).as(e.getKey()).containsExactly(expected);
                NDArray a = r.read(e.getKey(), manager);
                assertThat(a.getShape()).as(e.getKey()).isEqualTo(new Shape(t.shape()));
                assertThat(a.toFloatArray()).as(e.getKey()).containsExactly(expected);
            }
            assertThat(r.tensor("transposed").isContiguous()).isFalse();
            assertThat(r.tensor("offsetRows").isContiguous()).isFalse();
            assertThat(r.tensor("whole").isContiguous()).isTrue();
        }
    }

    @Test
    void bf16AndF16ViewsAreWidenedExactlyAndF16KeepsItsBitsAsFloat16() throws Exception {
        float[] values = ramp(12);
        for (int i = 0; i < values.length; i++) {
            values[i] = (values[i] - 5) * 0.37f;
        }
        for (SafetensorsDType dtype : List.of(SafetensorsDType.BF16, SafetensorsDType.F16)) {
            Tensor t = new Tensor("s", dtype, 1, new long[] {3, 2}, new long[] {1, 4});
            Path f = TorchSaveFiles.writeTree(tmp.resolve(dtype + ".pt"), Map.of("x", t),
                    Map.of("s", SatFiles.encode(values, dtype)));
            float[] expected = view(SatFiles.rounded(values, dtype), 1, t.shape(), t.stride());
            try (NDManager manager = NDManager.newBaseManager(); TorchSaveReader r = TorchSaveReader.open(f)) {
                assertThat(r.info("x").dtype()).isEqualTo(dtype);
                assertThat(r.readFloats("x")).as(dtype.toString()).containsExactly(expected);
                assertThat(r.read("x", manager).toFloatArray()).as(dtype.toString()).containsExactly(expected);
                NDArray half = r.read("x", manager, DataType.FLOAT16);
                assertThat(half.getDataType()).isEqualTo(DataType.FLOAT16);
                if (dtype == SafetensorsDType.F16) {
                    assertThat(half.toType(DataType.FLOAT32, false).toFloatArray()).containsExactly(expected);
                }
            }
        }
    }

    @Test
    void integerAndBoolStoragesKeepTheirTypes() throws Exception {
        java.nio.ByteBuffer longs = java.nio.ByteBuffer.allocate(24).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        longs.putLong(-5).putLong(Long.MAX_VALUE).putLong(7);
        Map<String, Object> tree = Map.of("ids", Tensor.contiguous("a", SafetensorsDType.I64, 3),
                "mask", Tensor.contiguous("b", SafetensorsDType.BOOL, 4));
        Path f = TorchSaveFiles.writeTree(tmp.resolve("ints.pt"), tree, Map.of("a", longs.array(),
                "b", new byte[] {1, 0, 0, 1}));
        try (NDManager manager = NDManager.newBaseManager(); TorchSaveReader r = TorchSaveReader.open(f)) {
            NDArray ids = r.read("ids", manager);
            assertThat(ids.getDataType()).isEqualTo(DataType.INT64);
            assertThat(ids.toLongArray()).containsExactly(-5, Long.MAX_VALUE, 7);
            assertThat(r.read("mask", manager).toBooleanArray()).containsExactly(true, false, false, true);
            assertThatThrownBy(() -> r.readFloats("ids")).isInstanceOf(TorchSaveFormatException.class)
                    .hasMessageContaining("floating-point");
        }
    }

    @Test
    void aBoolByteOtherThanZeroOrOneIsCorruptData() throws Exception {
        Path f = TorchSaveFiles.writeTree(tmp.resolve("bool.pt"),
                Map.of("mask", Tensor.contiguous("b", SafetensorsDType.BOOL, 3)), Map.of("b", new byte[] {1, 2, 0}));
        try (NDManager manager = NDManager.newBaseManager(); TorchSaveReader r = TorchSaveReader.open(f)) {
            assertThatThrownBy(() -> r.read("mask", manager))
                    .isInstanceOfSatisfying(TorchSaveFormatException.class, e -> assertThat(e.reason())
                            .isEqualTo(TorchSaveFormatException.Reason.CORRUPT_DATA))
                    .hasMessageContaining("BOOL element 1 is byte 2");
        }
    }

    @Test
    void aStorageWhoseBytesChangedFailsItsChecksumOnRead() throws Exception {
        Path f = TorchSaveFiles.writeTree(tmp.resolve("crc.pt"),
                Map.of("w", Tensor.contiguous("0", SafetensorsDType.F32, 4)),
                Map.of("0", TorchSaveFiles.f32(1, 2, 3, 4)));
        byte[] bytes = java.nio.file.Files.readAllBytes(f);
        byte[] data = TorchSaveFiles.f32(1, 2, 3, 4);
        int at = indexOf(bytes, data);
        bytes[at + 5] ^= 1;
        java.nio.file.Files.write(f, bytes);
        try (TorchSaveReader r = TorchSaveReader.open(f)) {
            assertThatThrownBy(() -> r.readFloats("w")).isInstanceOfSatisfying(TorchSaveFormatException.class,
                    e -> {
                        assertThat(e.reason()).isEqualTo(TorchSaveFormatException.Reason.CORRUPT_DATA);
                        assertThat(e.entry()).isEqualTo("archive/data/0");
                    }).hasMessageContaining("CRC-32");
        }
    }

    static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i <= haystack.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new AssertionError("not found");
    }

    @Test
    void theProtocolZeroTextOpcodesGiveTheSameValuesAsTheBinaryOnes() throws Exception {
        // {'a': [1, True, None, 2.5, 'x\\n', u'\u00e9', 123456789012345678901234567890], 'b': (3,), 'c2': <memo 4>, 'c': -7}
        String text = "(dp0\nS'a'\np1\n(lp2\nI1\naI01\naNaF2.5\naS'x\\n'\naV\\u00e9\na"
                + "L123456789012345678901234567890L\nasS'b'\np3\n(I3\ntp4\nsS'c2'\ng4\nsS'c'\nI-7\ns.";
        Path f = TorchSaveFiles.writeArchive(tmp.resolve("p0.pt"), "archive",
                text.getBytes(StandardCharsets.ISO_8859_1), Map.of());
        try (TorchSaveReader r = TorchSaveReader.open(f)) {
            Map<?, ?> root = (Map<?, ?>) r.root();
            assertThat(root.get("a")).isEqualTo(java.util.Arrays.asList(1L, true, null, 2.5, "x\n", "\u00e9",
                    new BigInteger("123456789012345678901234567890")));
            assertThat(root.get("b")).isEqualTo(List.of(3L));
            assertThat(root.get("c2")).isSameAs(root.get("b"));
            assertThat(root.get("c")).isEqualTo(-7L);
            assertThat(r.leaves()).containsEntry("a.0", 1L).containsEntry("b.0", 3L);
        }
    }

    @Test
    void anOrderedDictWithStateDictMetadataAndAParameterAreRead() throws Exception {
        Pickle p = new Pickle().proto(2).global("collections", "OrderedDict").op(')').op('R');
        p.mark().str("w").global("torch._utils", "_rebuild_parameter").mark();
        p.tensor(Tensor.contiguous("0", SafetensorsDType.F32, 2), 2);
        p.op(0x88).global("collections", "OrderedDict").op(')').op('R').op('t').op('R').op('u');
        // BUILD with {'_metadata': OrderedDict({'': {'version': 1}})}
        p.op('}').str("_metadata").global("collections", "OrderedDict").op(')').op('R').str("").op('}').str("version")
                .integer(1).op('s').op('s').op('s').op('b').stop();
        Path f = TorchSaveFiles.writeArchive(tmp.resolve("param.pt"), "archive", p.toByteArray(),
                Map.of("0", TorchSaveFiles.f32(3, 4)));
        try (TorchSaveReader r = TorchSaveReader.open(f)) {
            assertThat(r.names()).containsExactly("w");
            assertThat(r.tensor("w").requiresGrad()).isTrue();
            assertThat(r.readFloats("w")).containsExactly(3, 4);
        }
    }

    @Test
    void sharedReferencesStayOneObjectAndTupleKeysWork() throws Exception {
        // d = {(1, 'k'): x, 'again': x} with x = [5] memoized
        Pickle p = new Pickle().proto(2).op('}').mark().integer(1).str("k").op(0x86).op(']').binput(0).integer(5)
                .op('a').str("again").binget(0).op('u').stop();
        Path f = TorchSaveFiles.writeArchive(tmp.resolve("shared.pt"), "archive", p.toByteArray(), Map.of());
        try (TorchSaveReader r = TorchSaveReader.open(f)) {
            Map<?, ?> root = (Map<?, ?>) r.root();
            Object first = root.get(List.of(1L, "k"));
            assertThat(first).isEqualTo(List.of(5L)).isSameAs(root.get("again"));
            assertThat(r.leaves()).containsOnlyKeys("(1, k).0", "again.0");
        }
    }

    @Test
    void aSingleTensorFileIsNamedEmptyAndAbsentNamesAreReported() throws Exception {
        Path f = TorchSaveFiles.writeTree(tmp.resolve("one.pt"), Tensor.contiguous("0", SafetensorsDType.F32, 2),
                Map.of("0", TorchSaveFiles.f32(1, 2)));
        try (TorchSaveReader r = TorchSaveReader.open(f)) {
            assertThat(r.names()).containsExactly("");
            assertThat(r.metadata()).containsEntry("format", "torch.save").containsEntry("archive", "archive");
            assertThatThrownBy(() -> r.info("nope")).isInstanceOfSatisfying(TorchSaveFormatException.class,
                    e -> assertThat(e.reason()).isEqualTo(TorchSaveFormatException.Reason.NO_SUCH_TENSOR))
                    .hasMessageContaining("tensor 'nope'");
        }
    }

    @Test
    void deflatedEntriesAreInflatedWithinTheirDeclaredSizes() throws Exception {
        float[] storage = ramp(1000);
        Pickle p = new Pickle().proto(2).op('}').str("w");
        p.tensor(new Tensor("0", SafetensorsDType.F32, 10, new long[] {20, 30}, new long[] {1, 20}), 1000);
        p.op('s').stop();
        Map<String, byte[]> entries = new LinkedHashMap<>();
        entries.put("archive/data.pkl", p.toByteArray());
        entries.put("archive/data/0", TorchSaveFiles.f32(storage));
        Path f = TorchSaveFiles.writeZip(tmp.resolve("deflated.pt"), entries, true);
        try (TorchSaveReader r = TorchSaveReader.open(f)) {
            assertThat(r.readFloats("w")).containsExactly(view(storage, 10, new long[] {20, 30}, new long[] {1, 20}));
        }
    }
}
