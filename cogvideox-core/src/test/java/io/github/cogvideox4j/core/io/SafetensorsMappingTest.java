package io.github.cogvideox4j.core.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import io.github.cogvideox4j.core.kernel.KernelPack;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The mapped read path of {@link SafetensorsReader}: floating-point tensors as views of a private, copy-on-write
 * mapping of the file (F32, and BF16 for bf16 storage), BF16 widened by libtorch, and the fallbacks.
 */
class SafetensorsMappingTest {
    @TempDir
    Path dir;

    private NDManager manager;
    private KernelPack pack;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
        pack = KernelPack.load();
    }

    @AfterEach
    void close() {
        pack.close();
        manager.close();
    }

    private static float[] ramp(int n, float scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) Math.sin(i * 0.37) * scale + i * 1e-3f;
        }
        return v;
    }

    private Path twoTensorFile(SafetensorsDType dtype) throws IOException {
        Path f = dir.resolve(dtype + ".safetensors");
        TensorData a = dtype == SafetensorsDType.BF16 ? TensorData.bf16("a", new long[] {3, 5}, ramp(15, 2f))
                : TensorData.f32("a", new long[] {3, 5}, ramp(15, 2f));
        TensorData b = dtype == SafetensorsDType.BF16 ? TensorData.bf16("b", new long[] {7}, ramp(7, -3f))
                : TensorData.f32("b", new long[] {7}, ramp(7, -3f));
        SafetensorsWriter.write(f, List.of(a, b), null);
        return f;
    }

    private static int[] floatBits(NDArray a) {
        ByteBuffer raw = a.toByteBuffer().order(ByteOrder.nativeOrder());
        int[] bits = new int[raw.remaining() / 4];
        for (int i = 0; i < bits.length; i++) {
            bits[i] = raw.getInt(i * 4);
        }
        return bits;
    }

    private static int[] floatBits(float[] values) {
        int[] bits = new int[values.length];
        for (int i = 0; i < values.length; i++) {
            bits[i] = Float.floatToRawIntBits(values[i]);
        }
        return bits;
    }

    @Test
    void anF32TensorReadsAsTheStoredValuesBitForBit() throws IOException {
        Path f = twoTensorFile(SafetensorsDType.F32);
        try (SafetensorsReader r = SafetensorsReader.open(f); NDArray a = r.read("a", manager);
                NDArray b = r.read("b", manager)) {
            assertThat(a.getDataType()).isEqualTo(DataType.FLOAT32);
            assertThat(a.getShape()).isEqualTo(new Shape(3, 5));
            assertThat(floatBits(a)).containsExactly(floatBits(r.readFloats("a")));
            assertThat(floatBits(b)).containsExactly(floatBits(r.readFloats("b")));
        }
    }

    @Test
    void aBf16TensorIsWidenedToFloat32ByTheEngineExactly() throws IOException {
        Path f = twoTensorFile(SafetensorsDType.BF16);
        try (SafetensorsReader r = SafetensorsReader.open(f); NDArray a = r.read("a", manager)) {
            assertThat(a.getDataType()).isEqualTo(DataType.FLOAT32);
            assertThat(floatBits(a)).containsExactly(floatBits(r.readFloats("a"))); // Java's exact widening
        }
    }

    @Test
    void twoReadsOfOneTensorDoNotShareMemory() throws IOException {
        Path f = twoTensorFile(SafetensorsDType.BF16);
        try (SafetensorsReader r = SafetensorsReader.open(f); NDArray first = r.readBf16("b", manager, pack);
                NDArray second = r.readBf16("b", manager, pack); NDArray delta = manager.ones(new Shape(7))) {
            pack.addIntoBf16(first, delta);
            try (NDArray a = pack.toFloat32(first); NDArray b = pack.toFloat32(second); NDArray c = r.read("b", manager)) {
                assertThat(b.toFloatArray()).containsExactly(r.readFloats("b"));
                assertThat(c.toFloatArray()).containsExactly(r.readFloats("b"));
                assertThat(a.toFloatArray()).isNotEqualTo(b.toFloatArray());
            }
        }
    }

    @Test
    void writingAMappedArrayChangesNeitherTheFileNorALaterRead() throws IOException {
        Path f = twoTensorFile(SafetensorsDType.F32);
        byte[] before = Files.readAllBytes(f);
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            float original;
            try (NDArray a = r.read("a", manager)) {
                original = a.getFloat(1, 2);
                a.set(new NDIndex("1, 2"), 1234.5f);
                assertThat(a.getFloat(1, 2)).isEqualTo(1234.5f);
            }
            try (NDArray again = r.read("a", manager)) {
                assertThat(again.getFloat(1, 2)).isEqualTo(original);
            }
        }
        assertThat(Files.readAllBytes(f)).isEqualTo(before);
    }

    @Test
    void aMappedArrayOutlivesTheReaderAndTheDeletedFile() throws IOException {
        Path f = twoTensorFile(SafetensorsDType.F32);
        NDArray a;
        float[] expected;
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            a = r.read("a", manager);
            expected = r.readFloats("a");
        }
        Files.delete(f);
        assertThat(a.toFloatArray()).containsExactly(expected);
        a.close();
    }

    @Test
    void aMappedWeightCanBeSavedForABackwardLikeAnOwnedCopy() throws IOException {
        Path f = twoTensorFile(SafetensorsDType.F32);
        try (SafetensorsReader r = SafetensorsReader.open(f); NDManager step = manager.newSubManager()) {
            NDArray mapped = r.read("a", step); // [3, 5]
            NDArray owned = step.create(r.readFloats("a"), new Shape(3, 5));
            assertThat(inputGradient(mapped, step)).containsExactly(inputGradient(owned, step));
        }
    }

    private static float[] inputGradient(NDArray w, NDManager step) {
        NDArray x = step.ones(new Shape(2, 3));
        x.setRequiresGradient(true);
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            gc.backward(x.matMul(w).sum());
        }
        return x.getGradient().toFloatArray();
    }

    @Test
    void aMappedParameterTakesInPlaceUpdates() throws IOException {
        Path f = twoTensorFile(SafetensorsDType.F32);
        try (SafetensorsReader r = SafetensorsReader.open(f); NDArray p = r.read("b", manager)) {
            float[] start = p.toFloatArray();
            p.setRequiresGradient(true);
            p.subi(1f); // what an optimizer step does, outside a collector
            float[] after = p.toFloatArray();
            for (int i = 0; i < start.length; i++) {
                assertThat(after[i]).isEqualTo(start[i] - 1f);
            }
        }
    }

    @Test
    void readBf16GivesTheStoredBf16ValuesOfABf16File() throws IOException {
        Path f = twoTensorFile(SafetensorsDType.BF16);
        try (SafetensorsReader r = SafetensorsReader.open(f); NDArray h = r.readBf16("a", manager, pack);
                NDArray wide = pack.toFloat32(h)) {
            assertThat(h.getDataType()).as("bf16, as DJL reports TorchScript-made bf16").isEqualTo(DataType.UNKNOWN);
            assertThat(wide.getShape()).isEqualTo(new Shape(3, 5));
            assertThat(floatBits(wide)).containsExactly(floatBits(r.readFloats("a")));
        }
    }

    @Test
    void readBf16OfAnF32FileRoundsLikeThePackCast() throws IOException {
        Path f = twoTensorFile(SafetensorsDType.F32);
        try (SafetensorsReader r = SafetensorsReader.open(f); NDArray h = r.readBf16("a", manager, pack);
                NDArray wide = pack.toFloat32(h); NDArray f32 = r.read("a", manager);
                NDArray cast = pack.toBf16(f32); NDArray castWide = pack.toFloat32(cast)) {
            assertThat(floatBits(wide)).containsExactly(floatBits(castWide));
        }
    }

    @Test
    void readBf16RefusesAnIntegerTensor() throws IOException {
        Path f = dir.resolve("ints.safetensors");
        SafetensorsWriter.write(f, Map.of("i", manager.create(new int[] {1, 2, 3})), Map.of());
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            assertThatThrownBy(() -> r.readBf16("i", manager, pack))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("'i'").hasMessageContaining("I32");
        }
    }

    @Test
    void aTensorAtAMisalignedOffsetIsReadByCopyWithTheSameValues() throws IOException {
        // The data starts at an offset of 1 mod 4, so the F32 tensor cannot be a view of the mapping.
        StringBuilder json = new StringBuilder("{" + Crafted.entry("m", "F32", "[2]", 0, 8) + "}");
        while ((8 + json.length()) % 4 != 1) {
            json.append(' '); // trailing spaces are allowed padding
        }
        byte[] padded = json.toString().getBytes(StandardCharsets.UTF_8);
        ByteBuffer data = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(1.25f).putFloat(-7f);
        Path f = Crafted.file(dir, "misaligned.safetensors", padded, data.array());
        try (SafetensorsReader r = SafetensorsReader.open(f); NDArray m = r.read("m", manager)) {
            assertThat(m.toFloatArray()).containsExactly(1.25f, -7f);
        }
    }

    @Test
    void aFileReplacedBetweenOpenAndTheFirstReadIsRefused() throws IOException {
        Path f = twoTensorFile(SafetensorsDType.F32);
        Path other = dir.resolve("other.safetensors");
        SafetensorsWriter.write(other, List.of(TensorData.f32("a", new long[] {3, 5}, new float[15]),
                TensorData.f32("b", new long[] {7}, new float[7])), null);
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            Files.move(other, f, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            assertThatThrownBy(() -> r.read("a", manager))
                    .isInstanceOf(SafetensorsFormatException.class)
                    .hasMessageContaining(f.toString())
                    .hasMessageContaining("'a'")
                    .hasMessageContaining("replaced or resized");
        }
    }

    @Test
    void mappingMoreThanTheFileHoldsFailsNamingTheFile() throws IOException {
        Path f = twoTensorFile(SafetensorsDType.F32);
        long tooMany = Files.size(f) / 4 + 1;
        assertThatThrownBy(() -> pack.mapFile(f, tooMany, KernelPack.FileElement.FLOAT32, manager))
                .isInstanceOf(io.github.cogvideox4j.core.CogVideoXException.class)
                .hasMessageContaining(f.toString())
                .hasMessageContaining(tooMany + " FLOAT32 elements");
    }

    @Test
    void aClosedReaderRefusesToRead() throws IOException {
        Path f = twoTensorFile(SafetensorsDType.F32);
        SafetensorsReader r = SafetensorsReader.open(f);
        r.close();
        assertThatThrownBy(() -> r.read("a", manager)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> r.readBf16("a", manager, pack)).isInstanceOf(IllegalStateException.class);
    }
}
