package io.github.cogvideox4j.core.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.lang.reflect.Proxy;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Writer and reader together: every dtype, metadata, layout, widening. */
class SafetensorsRoundTripTest {
    @TempDir
    Path dir;

    private NDManager manager;

    @BeforeEach
    void openManager() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void closeManager() {
        manager.close();
    }

    private Map<String, NDArray> oneOfEachDjlType() {
        Map<String, NDArray> t = new LinkedHashMap<>();
        t.put("f32", manager.create(new float[] {1.5f, -2f, Float.MIN_VALUE, Float.NaN, 3e38f, -0f}, new Shape(2, 3)));
        t.put("f64", manager.create(new double[] {Math.PI, -1e300, 4.9e-324}, new Shape(3)));
        t.put("f16", manager.create(new float[] {0.5f, -65504f, 1e-7f, 1f}, new Shape(2, 2)).toType(DataType.FLOAT16,
                false));
        t.put("i64", manager.create(new long[] {Long.MIN_VALUE, -1, Long.MAX_VALUE}, new Shape(3, 1)));
        t.put("i32", manager.create(new int[] {Integer.MIN_VALUE, 7, Integer.MAX_VALUE}, new Shape(1, 3)));
        t.put("i8", manager.create(new byte[] {-128, 0, 127}, new Shape(3)));
        t.put("u8", manager.create(ByteBuffer.wrap(new byte[] {0, (byte) 200, (byte) 255}), new Shape(3),
                DataType.UINT8));
        t.put("bool", manager.create(new boolean[] {true, false, true, true}, new Shape(2, 2)));
        t.put("scalar", manager.create(42f));
        t.put("empty", manager.create(new Shape(0, 5), DataType.FLOAT32));
        return t;
    }

    @Test
    void aRangedReadReturnsExactlyThoseElementsOfAnF32Tensor() throws IOException {
        float[] values = new float[1000];
        for (int i = 0; i < values.length; i++) {
            values[i] = i * 0.5f - 7;
        }
        Path f = dir.resolve("ranged.safetensors");
        SafetensorsWriter.write(f, Map.of("a", manager.create(new float[] {9f}, new Shape(1)),
                "w", manager.create(values, new Shape(10, 100))), Map.of());
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            float[] dst = new float[12];
            r.readFloats("w", 437, dst, 2, 9);
            assertThat(dst).startsWith(0f, 0f);
            assertThat(java.util.Arrays.copyOfRange(dst, 2, 11)).containsExactly(
                    java.util.Arrays.copyOfRange(values, 437, 446));
            assertThat(dst[11]).isZero();
        }
    }

    @Test
    void aRangedReadOutsideTheTensorOrOfAnotherDtypeFails() throws IOException {
        Path f = dir.resolve("ranged-bad.safetensors");
        SafetensorsWriter.write(f, Map.of("w", manager.create(new float[6], new Shape(6)),
                "d", manager.create(new double[2], new Shape(2))), Map.of());
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            assertThatThrownBy(() -> r.readFloats("w", 4, new float[3], 0, 3))
                    .isInstanceOf(IndexOutOfBoundsException.class);
            assertThatThrownBy(() -> r.readFloats("d", 0, new float[2], 0, 2))
                    .isInstanceOf(SafetensorsFormatException.class).hasMessageContaining("F64");
        }
    }

    @Test
    void roundTripsEveryDjlDtypeWithShapesAndValues() throws IOException {
        Map<String, NDArray> tensors = oneOfEachDjlType();
        Path f = dir.resolve("all.safetensors");
        SafetensorsWriter.write(f, tensors, Map.of());
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            assertThat(r.names()).containsExactlyInAnyOrderElementsOf(tensors.keySet());
            for (Map.Entry<String, NDArray> e : tensors.entrySet()) {
                NDArray expected = e.getValue();
                // FLOAT16 target keeps F16 as F16; every other stored type keeps its own DJL type.
                try (NDArray actual = r.read(e.getKey(), manager, DataType.FLOAT16 == expected.getDataType()
                        ? DataType.FLOAT16 : DataType.FLOAT32)) {
                    assertThat(actual.getDataType()).as(e.getKey()).isEqualTo(expected.getDataType());
                    assertThat(actual.getShape()).as(e.getKey()).isEqualTo(expected.getShape());
                    assertThat(actual.toByteBuffer()).as(e.getKey()).isEqualTo(expected.toByteBuffer());
                }
            }
            assertThat(r.info("f32")).isEqualTo(new TensorInfo("f32", SafetensorsDType.F32, new long[] {2, 3},
                    r.info("f32").begin(), r.info("f32").begin() + 24));
            assertThat(r.info("scalar").shape()).isEmpty();
            assertThat(r.info("scalar").numel()).isEqualTo(1);
            assertThat(r.info("empty").numel()).isZero();
        }
    }

    @Test
    void roundTripsMetadata() throws IOException {
        Map<String, String> meta = Map.of("format", "pt", "lora_adapter_metadata", "{\"r\": 4, \"alpha\": 8}",
                "unicode", "häßlich ✓", "empty", "");
        Path f = dir.resolve("meta.safetensors");
        SafetensorsWriter.write(f, List.of(TensorData.f32("w", new long[] {1}, 1f)), meta);
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            assertThat(r.metadata()).isEqualTo(meta);
        }
    }

    @Test
    void writesNoMetadataKeyWhenMetadataIsEmpty() throws IOException {
        Path f = dir.resolve("nometa.safetensors");
        SafetensorsWriter.write(f, List.of(TensorData.f32("w", new long[] {1}, 1f)), null);
        assertThat(headerText(f)).doesNotContain("__metadata__");
    }

    @Test
    void writesTheReferenceLayoutByteForByte() throws IOException {
        // The Rust library's own doc example, I32 [2,2], with its 8-byte padding: 60 bytes of JSON + 4 spaces.
        ByteBuffer data = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        data.asIntBuffer().put(new int[] {1, 2, 3, 4});
        Path f = dir.resolve("doc.safetensors");
        SafetensorsWriter.write(f, List.of(new TensorData("test", SafetensorsDType.I32, new long[] {2, 2}, data)),
                null);
        byte[] bytes = Files.readAllBytes(f);
        String json = "{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}";
        assertThat(json).hasSize(60);
        ByteBuffer expected = ByteBuffer.allocate(8 + 64 + 16).order(ByteOrder.LITTLE_ENDIAN);
        expected.putLong(64).put((json + "    ").getBytes(StandardCharsets.US_ASCII));
        expected.asIntBuffer();
        for (int v = 1; v <= 4; v++) {
            expected.putInt(v);
        }
        assertThat(bytes).isEqualTo(expected.array());
    }

    @Test
    void laysOutTensorsByDecreasingDtypeThenNameLikeTheReference() throws IOException {
        Path f = dir.resolve("order.safetensors");
        SafetensorsWriter.write(f, List.of(
                TensorData.bits16("h", SafetensorsDType.F16, new long[] {1}, (short) 0),
                TensorData.f32("b", new long[] {1}, 0f),
                TensorData.i64("z", new long[] {1}, 0L),
                TensorData.f32("a", new long[] {1}, 0f),
                TensorData.bf16("g", new long[] {1}, 0f),
                TensorData.f64("d", new long[] {1}, 0.0)), null);
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            assertThat(r.names()).containsExactly("z", "d", "a", "b", "g", "h");
            for (String n : r.names()) {
                assertThat((8 + headerLength(f) + r.info(n).begin()) % r.info(n).dtype().byteSize()).isZero();
            }
        }
        assertThat((8 + headerLength(f)) % 8).isZero();
    }

    @Test
    void widensBf16ToFloat32Exactly() throws IOException {
        short[] bits = new short[65536];
        for (int i = 0; i < bits.length; i++) {
            bits[i] = (short) i;
        }
        Path f = dir.resolve("bf16.safetensors");
        SafetensorsWriter.write(f, List.of(TensorData.bits16("x", SafetensorsDType.BF16, new long[] {256, 256}, bits)),
                null);
        try (SafetensorsReader r = SafetensorsReader.open(f); NDArray a = r.read("x", manager)) {
            assertThat(a.getDataType()).isEqualTo(DataType.FLOAT32);
            assertThat(a.getShape()).isEqualTo(new Shape(256, 256));
            int[] actual = rawBits(a);
            float[] viaJava = r.readFloats("x");
            for (int i = 0; i < bits.length; i++) {
                assertThat(actual[i]).as("bf16 0x%04x", i).isEqualTo(i << 16);
                assertThat(Float.floatToRawIntBits(viaJava[i])).as("bf16 0x%04x", i).isEqualTo(i << 16);
            }
        }
    }

    @Test
    void widensF16ToFloat32Exactly() throws IOException {
        short[] bits = new short[65536];
        for (int i = 0; i < bits.length; i++) {
            bits[i] = (short) i;
        }
        Path f = dir.resolve("f16.safetensors");
        SafetensorsWriter.write(f, List.of(TensorData.bits16("x", SafetensorsDType.F16, new long[] {65536}, bits)),
                null);
        try (SafetensorsReader r = SafetensorsReader.open(f); NDArray a = r.read("x", manager)) {
            assertThat(a.getDataType()).isEqualTo(DataType.FLOAT32);
            int[] actual = rawBits(a);
            for (int i = 0; i < bits.length; i++) {
                assertThat(actual[i]).as("f16 0x%04x", i).isEqualTo(HalfPrecision.f16ToF32Bits(i));
            }
            // F16 read as FLOAT16 keeps the bytes; the engine's own widening agrees with ours on all non-NaN values.
            try (NDArray h = r.read("x", manager, DataType.FLOAT16); NDArray w = h.toType(DataType.FLOAT32, false)) {
                assertThat(h.getDataType()).isEqualTo(DataType.FLOAT16);
                ByteBuffer raw = h.toByteBuffer().order(ByteOrder.nativeOrder());
                for (int i = 0; i < bits.length; i++) {
                    assertThat(raw.getShort(2 * i)).isEqualTo(bits[i]);
                }
                float[] engine = w.toFloatArray();
                for (int i = 0; i < bits.length; i++) {
                    if (!Float.isNaN(engine[i])) {
                        assertThat(engine[i]).as("f16 0x%04x", i).isEqualTo(HalfPrecision.f16ToFloat(i));
                    }
                }
            }
        }
    }

    @Test
    void readsBf16AsFloat16ThroughFloat32() throws IOException {
        Path f = dir.resolve("bf16.safetensors");
        SafetensorsWriter.write(f, List.of(TensorData.bf16("x", new long[] {4}, 1f, -0.5f, 1e6f, 3e-9f)), null);
        try (SafetensorsReader r = SafetensorsReader.open(f); NDArray h = r.read("x", manager, DataType.FLOAT16)) {
            assertThat(h.getDataType()).isEqualTo(DataType.FLOAT16);
            // 1e6 is above the F16 range (65504): infinite; 3e-9 is below its smallest subnormal: zero.
            assertThat(h.toType(DataType.FLOAT32, false).toFloatArray())
                    .containsExactly(1f, -0.5f, Float.POSITIVE_INFINITY, 0f);
        }
    }

    @Test
    void readsF32AsFloat16WhenAsked() throws IOException {
        Path f = dir.resolve("f32.safetensors");
        SafetensorsWriter.write(f, List.of(TensorData.f32("x", new long[] {2}, 0.25f, 3f)), null);
        try (SafetensorsReader r = SafetensorsReader.open(f); NDArray h = r.read("x", manager, DataType.FLOAT16)) {
            assertThat(h.getDataType()).isEqualTo(DataType.FLOAT16);
            assertThat(h.toType(DataType.FLOAT32, false).toFloatArray()).containsExactly(0.25f, 3f);
        }
    }

    @Test
    void widensI16ToInt32() throws IOException {
        Path f = dir.resolve("i16.safetensors");
        SafetensorsWriter.write(f, List.of(TensorData.bits16("x", SafetensorsDType.I16, new long[] {3},
                Short.MIN_VALUE, (short) -1, Short.MAX_VALUE)), null);
        try (SafetensorsReader r = SafetensorsReader.open(f); NDArray a = r.read("x", manager)) {
            assertThat(a.getDataType()).isEqualTo(DataType.INT32);
            assertThat(a.toIntArray()).containsExactly(Short.MIN_VALUE, -1, Short.MAX_VALUE);
        }
    }

    @Test
    void readFloatsNarrowsF64AndCopiesF32() throws IOException {
        Path f = dir.resolve("floats.safetensors");
        SafetensorsWriter.write(f, List.of(TensorData.f64("d", new long[] {2}, Math.PI, 1e300),
                TensorData.f32("s", new long[] {2}, 1.25f, -7f)), null);
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            assertThat(r.readFloats("d")).containsExactly((float) Math.PI, Float.POSITIVE_INFINITY);
            assertThat(r.readFloats("s")).containsExactly(1.25f, -7f);
        }
    }

    @Test
    void readsLargeTensorsThroughTheMappedPath() throws IOException {
        // Above the 1 MiB heap-read threshold, so BF16 decoding reads a mapped region.
        int n = 1 << 20;
        Random rnd = new Random(7);
        float[] values = new float[n];
        for (int i = 0; i < n; i++) {
            values[i] = (float) rnd.nextGaussian();
        }
        Path f = dir.resolve("big.safetensors");
        SafetensorsWriter.write(f, List.of(TensorData.bf16("b", new long[] {1024, 1024}, values),
                TensorData.f32("s", new long[] {n}, values)), null);
        try (SafetensorsReader r = SafetensorsReader.open(f);
                NDArray b = r.read("b", manager);
                NDArray s = r.read("s", manager)) {
            float[] bf = b.toFloatArray();
            float[] sf = s.toFloatArray();
            for (int i = 0; i < n; i += 997) {
                assertThat(bf[i]).isEqualTo(HalfPrecision.bf16ToFloat(HalfPrecision.floatToBf16(values[i])));
                assertThat(sf[i]).isEqualTo(values[i]);
            }
            assertThat(r.readFloats("b")).isEqualTo(bf);
        }
    }

    @Test
    void returnedArraysAreWritableAndOutliveTheReader() throws IOException {
        Path f = dir.resolve("w.safetensors");
        SafetensorsWriter.write(f, List.of(TensorData.f32("w", new long[] {3}, 1f, 2f, 3f)), null);
        NDArray a;
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            a = r.read("w", manager);
        }
        a.addi(1f);
        assertThat(a.toFloatArray()).containsExactly(2f, 3f, 4f);
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            assertThat(r.readFloats("w")).containsExactly(1f, 2f, 3f);
        }
    }

    @Test
    void rejectsBfloat16ArraysBeforeAnyOtherCallOnThem() {
        NDArray bf16 = fakeArray(DataType.BFLOAT16);
        Map<String, NDArray> tensors = new LinkedHashMap<>();
        tensors.put("ok", manager.create(new float[] {1f}));
        tensors.put("bad", bf16);
        Path f = dir.resolve("bad.safetensors");
        assertThatThrownBy(() -> SafetensorsWriter.write(f, tensors, null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("tensor 'bad'")
                .hasMessageContaining("BFLOAT16");
        assertThat(f).doesNotExist();
    }

    @Test
    void rejectsUnknownTypeArraysLikeTorchScriptBf16() {
        Path f = dir.resolve("bad.safetensors");
        assertThatThrownBy(() -> SafetensorsWriter.write(f, Map.of("x", fakeArray(DataType.UNKNOWN)), null))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("UNKNOWN");
    }

    @Test
    void replacesAnExistingFileAtomicallyAndLeavesNoTemporaryFiles() throws IOException {
        Path f = dir.resolve("model.safetensors");
        SafetensorsWriter.write(f, List.of(TensorData.f32("a", new long[] {1}, 1f)), null);
        SafetensorsWriter.write(f, List.of(TensorData.f32("b", new long[] {1}, 2f)), null);
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            assertThat(r.names()).containsExactly("b");
        }
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files).containsExactly(f);
        }
    }

    @Test
    void rejectsDuplicateNamesInTensorDataLists() {
        Path f = dir.resolve("dup.safetensors");
        assertThatThrownBy(() -> SafetensorsWriter.write(f, List.of(TensorData.f32("a", new long[] {1}, 1f),
                TensorData.f32("a", new long[] {1}, 2f)), null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("duplicate tensor name 'a'");
    }

    @Test
    void tensorDataRejectsAByteCountThatDoesNotMatchTheShape() {
        assertThatThrownBy(() -> new TensorData("x", SafetensorsDType.F32, new long[] {3}, ByteBuffer.allocate(8)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("needs 12 bytes, buffer has 8");
    }

    // ---------------------------------------------------------------------------------------------------------

    /** An NDArray whose every method but getDataType fails the test: proves the writer calls nothing else. */
    private static NDArray fakeArray(DataType type) {
        return (NDArray) Proxy.newProxyInstance(NDArray.class.getClassLoader(), new Class<?>[] {NDArray.class},
                (proxy, method, args) -> {
                    if (method.getName().equals("getDataType")) {
                        return type;
                    }
                    if (method.getName().equals("toString")) {
                        return "fake " + type;
                    }
                    throw new AssertionError("the writer called " + method.getName() + " on a " + type + " array");
                });
    }

    private static int[] rawBits(NDArray a) {
        ByteBuffer b = a.toByteBuffer().order(ByteOrder.nativeOrder());
        int[] out = new int[b.remaining() / 4];
        b.asIntBuffer().get(out);
        return out;
    }

    private static long headerLength(Path f) throws IOException {
        return ByteBuffer.wrap(Files.readAllBytes(f), 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    private static String headerText(Path f) throws IOException {
        byte[] all = Files.readAllBytes(f);
        return new String(all, 8, (int) headerLength(f), StandardCharsets.UTF_8);
    }
}
