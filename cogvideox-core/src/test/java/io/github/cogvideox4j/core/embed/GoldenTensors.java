package io.github.cogvideox4j.core.embed;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Minimal test-only reader of the golden safetensors files (F32, F64, I64) and JSON side files, plus the golden
 * folder lookup. To be replaced by the real {@code SafetensorsReader}.
 */
final class GoldenTensors {
    static final ObjectMapper JSON = new ObjectMapper();

    private final Path file;
    private final JsonNode header;
    private final long dataStart;

    private GoldenTensors(Path file, JsonNode header, long dataStart) {
        this.file = file;
        this.header = header;
        this.dataStart = dataStart;
    }

    /** @return the golden folder from {@code -Dgolden.dir}; fails (never skips) when it is missing */
    static Path goldenDir() {
        String dir = System.getProperty("golden.dir");
        if (dir == null || !Files.isDirectory(Path.of(dir))) {
            throw new IllegalStateException("golden.dir system property missing or not a directory: " + dir);
        }
        return Path.of(dir);
    }

    static GoldenTensors open(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, len, 0);
            long n = len.flip().getLong();
            ByteBuffer json = ByteBuffer.allocate(Math.toIntExact(n));
            readFully(ch, json, 8);
            return new GoldenTensors(file, JSON.readTree(json.array()), 8 + n);
        } catch (IOException e) {
            throw new UncheckedIOException(file.toString(), e);
        }
    }

    static JsonNode readJson(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(file.toString(), e);
        }
    }

    long[] shape(String name) {
        JsonNode s = entry(name).get("shape");
        long[] out = new long[s.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = s.get(i).asLong();
        }
        return out;
    }

    float[] f32(String name) {
        ByteBuffer b = bytes(name, "F32");
        float[] out = new float[b.remaining() / 4];
        b.asFloatBuffer().get(out);
        return out;
    }

    double[] f64(String name) {
        ByteBuffer b = bytes(name, "F64");
        double[] out = new double[b.remaining() / 8];
        b.asDoubleBuffer().get(out);
        return out;
    }

    long[] i64(String name) {
        ByteBuffer b = bytes(name, "I64");
        long[] out = new long[b.remaining() / 8];
        b.asLongBuffer().get(out);
        return out;
    }

    private JsonNode entry(String name) {
        JsonNode e = header.get(name);
        if (e == null) {
            throw new IllegalArgumentException(file + ": no tensor " + name);
        }
        return e;
    }

    private ByteBuffer bytes(String name, String dtype) {
        JsonNode e = entry(name);
        if (!dtype.equals(e.get("dtype").asText())) {
            throw new IllegalArgumentException(file + ": tensor " + name + " is " + e.get("dtype") + ", expected "
                    + dtype);
        }
        long begin = e.get("data_offsets").get(0).asLong();
        long end = e.get("data_offsets").get(1).asLong();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(end - begin));
            readFully(ch, b, dataStart + begin);
            return b.flip().order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException ex) {
            throw new UncheckedIOException(file + ": " + name, ex);
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer b, long position) throws IOException {
        long pos = position;
        while (b.hasRemaining()) {
            int n = ch.read(b, pos);
            if (n < 0) {
                throw new IOException("unexpected end of file at " + pos);
            }
            pos += n;
        }
    }
}
