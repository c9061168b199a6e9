package io.github.cogvideox4j.core.io;

import static io.github.cogvideox4j.core.io.Crafted.entry;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every malformed-input rule of {@link SafetensorsReader}: each fails cleanly and says what is wrong. */
class SafetensorsReaderValidationTest {
    @TempDir
    Path dir;

    private AbstractThrowableAssert<?, ? extends Throwable> assertOpenFails(Path file) {
        return assertThatThrownBy(() -> SafetensorsReader.open(file).close())
                .isInstanceOf(SafetensorsFormatException.class)
                .hasMessageContaining(file.toString())
                .satisfies(e -> assertThat(((SafetensorsFormatException) e).file()).isEqualTo(file));
    }

    private Path json(String json, int dataBytes) throws IOException {
        return Crafted.file(dir, "t.safetensors", json, dataBytes);
    }

    @Test
    void acceptsAWellFormedCraftedFile() throws IOException {
        Path f = json("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "I8", "[3]", 8, 11) + "}", 11);
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            assertThat(r.names()).containsExactly("a", "b");
            assertThat(r.info("b")).isEqualTo(new TensorInfo("b", SafetensorsDType.I8, new long[] {3}, 8, 11));
        }
    }

    @Test
    void rejectsFileShorterThanEightBytes() throws IOException {
        Path f = dir.resolve("short.safetensors");
        Files.write(f, new byte[] {1, 2, 3});
        assertOpenFails(f).hasMessageContaining("3 bytes").hasMessageContaining("at least 8");
    }

    @Test
    void rejectsEmptyFile() throws IOException {
        Path f = dir.resolve("empty.safetensors");
        Files.write(f, new byte[0]);
        assertOpenFails(f).hasMessageContaining("0 bytes");
    }

    @Test
    void rejectsTruncatedData() throws IOException {
        Path f = json("{" + entry("a", "F32", "[4]", 0, 16) + "}", 10);
        assertOpenFails(f).hasMessageContaining("tensor 'a'").hasMessageContaining("past the end of the data buffer")
                .hasMessageContaining("at most 10");
    }

    @Test
    void rejectsHeaderLengthPastEndOfFile() throws IOException {
        Path f = Crafted.raw(dir, "t.safetensors", 1000, "{}".getBytes(StandardCharsets.UTF_8));
        assertOpenFails(f).hasMessageContaining("header length 1000 runs past the end")
                .hasMessageContaining("at most 2");
    }

    @Test
    void rejectsHeaderLengthOverTheBound() throws IOException {
        Path f = Crafted.raw(dir, "t.safetensors", 100_000_001L, "{}".getBytes(StandardCharsets.UTF_8));
        assertOpenFails(f).hasMessageContaining("100000001").hasMessageContaining("limit of 100000000");
    }

    @Test
    void rejectsHeaderLengthWithTheTopBitSet() throws IOException {
        Path f = Crafted.raw(dir, "t.safetensors", -1L, "{}".getBytes(StandardCharsets.UTF_8));
        assertOpenFails(f).hasMessageContaining("18446744073709551615");
    }

    @Test
    void rejectsHeaderThatIsNotJson() throws IOException {
        assertOpenFails(json("{\"a\": ", 0)).hasMessageContaining("not valid JSON");
    }

    @Test
    void rejectsHeaderThatIsNotAnObject() throws IOException {
        assertOpenFails(json("[1, 2]", 0)).hasMessageContaining("must be a JSON object, found ARRAY");
    }

    @Test
    void rejectsEmptyHeader() throws IOException {
        assertOpenFails(json("        ", 0)).hasMessageContaining("empty");
    }

    @Test
    void rejectsTrailingTokensAfterTheHeaderObject() throws IOException {
        assertOpenFails(json("{} {}", 0)).hasMessageContaining("not valid JSON");
    }

    @Test
    void acceptsSpacePaddingAfterTheHeaderObject() throws IOException {
        try (SafetensorsReader r = SafetensorsReader.open(json("{}      ", 0))) {
            assertThat(r.names()).isEmpty();
        }
    }

    @Test
    void rejectsInvalidUtf8InHeader() throws IOException {
        byte[] header = {'{', '"', (byte) 0xC3, (byte) 0x28, '"', ':', '1', '}'};
        assertOpenFails(Crafted.file(dir, "t.safetensors", header, new byte[0])).hasMessageContaining("UTF-8");
    }

    @Test
    void rejectsOverlappingOffsets() throws IOException {
        Path f = json("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 4, 12) + "}", 12);
        assertOpenFails(f).hasMessageContaining("tensor 'b'").hasMessageContaining("overlap tensor 'a'")
                .hasMessageContaining("expected begin 8");
    }

    @Test
    void rejectsGapBetweenTensors() throws IOException {
        Path f = json("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 12, 20) + "}", 20);
        assertOpenFails(f).hasMessageContaining("tensor 'b'").hasMessageContaining("gap")
                .hasMessageContaining("expected begin 8").hasMessageContaining("actual 12");
    }

    @Test
    void rejectsGapBeforeTheFirstTensor() throws IOException {
        Path f = json("{" + entry("a", "F32", "[2]", 4, 12) + "}", 12);
        assertOpenFails(f).hasMessageContaining("expected begin 0");
    }

    @Test
    void rejectsDataBufferLongerThanTheTensors() throws IOException {
        Path f = json("{" + entry("a", "F32", "[2]", 0, 8) + "}", 9);
        assertOpenFails(f).hasMessageContaining("data buffer is 9 bytes but the tensors cover 8")
                .hasMessageContaining("1 trailing bytes");
    }

    @Test
    void rejectsWrongByteSizeForTheDtype() throws IOException {
        Path f = json("{" + entry("a", "F16", "[2,3]", 0, 24) + "}", 24);
        assertOpenFails(f).hasMessageContaining("tensor 'a'").hasMessageContaining("needs 12 bytes")
                .hasMessageContaining("give 24");
    }

    @Test
    void rejectsShapeWhoseByteCountOverflows() throws IOException {
        Path f = json("{" + entry("a", "F32", "[4611686018427387904, 4]", 0, 0) + "}", 0);
        assertOpenFails(f).hasMessageContaining("overflows");
    }

    @Test
    void rejectsBeginAfterEnd() throws IOException {
        Path f = json("{" + entry("a", "U8", "[0]", 8, 4) + "}", 8);
        assertOpenFails(f).hasMessageContaining("begin is after end");
    }

    @Test
    void rejectsNaNInShape() throws IOException {
        Path f = json("{\"a\":{\"dtype\":\"F32\",\"shape\":[NaN],\"data_offsets\":[0,4]}}", 4);
        assertOpenFails(f).hasMessageContaining("not valid JSON").hasMessageContaining("NaN");
    }

    @Test
    void rejectsInfinityInOffsets() throws IOException {
        Path f = json("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,Infinity]}}", 4);
        assertOpenFails(f).hasMessageContaining("not valid JSON");
    }

    @Test
    void rejectsNegativeDimension() throws IOException {
        Path f = json("{" + entry("a", "F32", "[-1]", 0, 4) + "}", 4);
        assertOpenFails(f).hasMessageContaining("\"shape\"[0] must be a non-negative integer")
                .hasMessageContaining("-1");
    }

    @Test
    void rejectsFractionalOffset() throws IOException {
        Path f = json("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.0]}}", 4);
        assertOpenFails(f).hasMessageContaining("\"data_offsets\"[1]").hasMessageContaining("4.0");
    }

    @Test
    void rejectsExponentNotationInShape() throws IOException {
        Path f = json("{\"a\":{\"dtype\":\"U8\",\"shape\":[1e0],\"data_offsets\":[0,1]}}", 1);
        assertOpenFails(f).hasMessageContaining("\"shape\"[0]");
    }

    @Test
    void rejectsOffsetsBeyondALong() throws IOException {
        Path f = json("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,18446744073709551616]}}", 1);
        assertOpenFails(f).hasMessageContaining("below 2^63");
    }

    @Test
    void rejectsOffsetsWithThreeElements() throws IOException {
        Path f = json("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}}", 1);
        assertOpenFails(f).hasMessageContaining("must have 2 elements, found 3");
    }

    @Test
    void rejectsDuplicateTensorNames() throws IOException {
        Path f = json("{" + entry("a", "U8", "[1]", 0, 1) + "," + entry("a", "U8", "[1]", 1, 2) + "}", 2);
        assertOpenFails(f).hasMessageContaining("Duplicate").hasMessageContaining("'a'");
    }

    @Test
    void rejectsDuplicateKeysInsideAnEntry() throws IOException {
        Path f = json("{\"a\":{\"dtype\":\"U8\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
        assertOpenFails(f).hasMessageContaining("Duplicate").hasMessageContaining("dtype");
    }

    @Test
    void rejectsUnknownDtype() throws IOException {
        Path f = json("{" + entry("a", "F8_E4M3", "[1]", 0, 1) + "}", 1);
        assertOpenFails(f).hasMessageContaining("tensor 'a'").hasMessageContaining("unsupported dtype \"F8_E4M3\"")
                .satisfies(e -> assertThat(((SafetensorsFormatException) e).tensor()).isEqualTo("a"));
    }

    @Test
    void rejectsLowerCaseDtype() throws IOException {
        assertOpenFails(json("{" + entry("a", "f32", "[1]", 0, 4) + "}", 4)).hasMessageContaining("\"f32\"");
    }

    @Test
    void rejectsEntryMissingDtype() throws IOException {
        Path f = json("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
        assertOpenFails(f).hasMessageContaining("lacks \"dtype\"");
    }

    @Test
    void rejectsEntryMissingDataOffsets() throws IOException {
        Path f = json("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4);
        assertOpenFails(f).hasMessageContaining("lacks \"data_offsets\"");
    }

    @Test
    void rejectsEntryOfWrongJsonType() throws IOException {
        assertOpenFails(json("{\"a\":[1,2]}", 0)).hasMessageContaining("must be an object");
    }

    @Test
    void rejectsShapeThatIsNotAnArray() throws IOException {
        Path f = json("{\"a\":{\"dtype\":\"F32\",\"shape\":\"[1]\",\"data_offsets\":[0,4]}}", 4);
        assertOpenFails(f).hasMessageContaining("\"shape\" must be an array");
    }

    @Test
    void rejectsDtypeThatIsNotAString() throws IOException {
        Path f = json("{\"a\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
        assertOpenFails(f).hasMessageContaining("\"dtype\" must be a string");
    }

    @Test
    void rejectsNonStringMetadataValue() throws IOException {
        assertOpenFails(json("{\"__metadata__\":{\"format\":\"pt\",\"n\":3}}", 0))
                .hasMessageContaining("key \"n\" must be a string");
    }

    @Test
    void rejectsMetadataThatIsNotAnObject() throws IOException {
        assertOpenFails(json("{\"__metadata__\":\"pt\"}", 0)).hasMessageContaining("must be an object");
    }

    @Test
    void acceptsNullMetadataAsNone() throws IOException {
        try (SafetensorsReader r = SafetensorsReader.open(json("{\"__metadata__\":null}", 0))) {
            assertThat(r.metadata()).isEmpty();
        }
    }

    @Test
    void ignoresUnknownKeysInAnEntryLikeTheReference() throws IOException {
        Path f = json("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"extra\":true}}", 1);
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            assertThat(r.names()).containsExactly("a");
        }
    }

    @Test
    void acceptsSeveralEmptyTensorsAtTheSameOffset() throws IOException {
        Path f = json("{" + entry("a", "F32", "[0]", 0, 0) + "," + entry("b", "F32", "[2,0]", 0, 0) + ","
                + entry("c", "U8", "[1]", 0, 1) + "}", 1);
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            assertThat(r.names()).containsExactly("a", "b", "c");
        }
    }

    @Test
    void missingTensorNameIsReportedWithTheFileAndTheAvailableNames() throws IOException {
        Path f = json("{" + entry("alpha", "U8", "[1]", 0, 1) + "," + entry("beta", "U8", "[1]", 1, 2) + "}", 2);
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            assertThatThrownBy(() -> r.info("gamma"))
                    .isInstanceOf(SafetensorsFormatException.class)
                    .hasMessageContaining(f.toString())
                    .hasMessageContaining("tensor 'gamma'")
                    .hasMessageContaining("no such tensor")
                    .hasMessageContaining("alpha, beta")
                    .satisfies(e -> assertThat(((SafetensorsFormatException) e).tensor()).isEqualTo("gamma"));
            assertThatThrownBy(() -> r.readFloats("gamma")).isInstanceOf(SafetensorsFormatException.class);
        }
    }

    @Test
    void rejectsBoolByteOtherThanZeroOrOneWhenRead() throws IOException {
        Path f = Crafted.file(dir, "t.safetensors",
                ("{" + entry("m", "BOOL", "[3]", 0, 3) + "}").getBytes(StandardCharsets.UTF_8), new byte[] {1, 0, 2});
        try (SafetensorsReader r = SafetensorsReader.open(f); NDManager m = NDManager.newBaseManager()) {
            assertThatThrownBy(() -> r.read("m", m))
                    .isInstanceOf(SafetensorsFormatException.class)
                    .hasMessageContaining("tensor 'm'")
                    .hasMessageContaining("element 2 is byte 2: expected 0 or 1");
        }
    }

    @Test
    void readFloatsRejectsIntegerTensors() throws IOException {
        Path f = json("{" + entry("i", "I32", "[1]", 0, 4) + "}", 4);
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            assertThatThrownBy(() -> r.readFloats("i")).isInstanceOf(SafetensorsFormatException.class)
                    .hasMessageContaining("actual I32");
        }
    }

    @Test
    void rejectsMissingFileWithAnIoException() {
        Path f = dir.resolve("absent.safetensors");
        assertThatThrownBy(() -> SafetensorsReader.open(f)).isInstanceOf(java.nio.file.NoSuchFileException.class);
    }

    @Test
    void readAfterCloseFailsWithIllegalState() throws IOException {
        Path f = json("{" + entry("a", "F32", "[1]", 0, 4) + "}", 4);
        SafetensorsReader r = SafetensorsReader.open(f);
        r.close();
        r.close(); // idempotent
        assertThatThrownBy(() -> r.readFloats("a")).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
    }

    @Test
    void rejectsReadingAnEmptyTensorWithHugeDimensions() throws IOException {
        Path f = json("{" + entry("e", "F32", "[0, 4611686018427387904, 4611686018427387904]", 0, 0) + "}", 0);
        try (SafetensorsReader r = SafetensorsReader.open(f); NDManager m = NDManager.newBaseManager()) {
            assertThat(r.info("e").numel()).isZero();
            assertThatThrownBy(() -> r.read("e", m)).isInstanceOf(SafetensorsFormatException.class)
                    .hasMessageContaining("too large for one array");
        }
    }

    @Test
    void readsAnEmptyTensorAsAnEmptyArray() throws IOException {
        Path f = json("{" + entry("e", "BF16", "[3, 0]", 0, 0) + "}", 0);
        try (SafetensorsReader r = SafetensorsReader.open(f); NDManager m = NDManager.newBaseManager();
                var a = r.read("e", m)) {
            assertThat(a.getShape().getShape()).containsExactly(3, 0);
            assertThat(r.readFloats("e")).isEmpty();
        }
    }
}
