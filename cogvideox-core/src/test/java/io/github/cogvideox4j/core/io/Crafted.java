package io.github.cogvideox4j.core.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Hand-made safetensors files for the tests: any header text, any data, any declared length. */
final class Crafted {
    private Crafted() {}

    /** A file with the true header length, the JSON text, then {@code dataBytes} bytes of 0x01. */
    static Path file(Path dir, String name, String json, int dataBytes) throws IOException {
        byte[] data = new byte[dataBytes];
        java.util.Arrays.fill(data, (byte) 1);
        return file(dir, name, json.getBytes(StandardCharsets.UTF_8), data);
    }

    /** A file with the true header length, the header bytes, then the data bytes. */
    static Path file(Path dir, String name, byte[] header, byte[] data) throws IOException {
        return raw(dir, name, header.length, header, data);
    }

    /** A file whose length prefix says {@code declaredLength}, followed by the given parts. */
    static Path raw(Path dir, String name, long declaredLength, byte[]... parts) throws IOException {
        int total = 8;
        for (byte[] p : parts) {
            total += p.length;
        }
        ByteBuffer b = ByteBuffer.allocate(total).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(declaredLength);
        for (byte[] p : parts) {
            b.put(p);
        }
        Path file = dir.resolve(name);
        Files.write(file, b.array());
        return file;
    }

    /** One tensor entry as JSON text. */
    static String entry(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin
                + "," + end + "]}";
    }
}
