package io.github.cogvideox4j.lora.train.listener;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;

/**
 * Encodes TensorBoard event records without a protobuf dependency.
 *
 * <p>Record framing (tensorflow/tensorboard {@code summary/writer/record_writer.py}): {@code uint64} payload length,
 * {@code uint32} masked CRC32C of those 8 bytes, the payload, {@code uint32} masked CRC32C of the payload, all
 * little-endian; mask {@code ((crc >>> 15) | (crc << 17)) + 0xa282ead8}. Payload: a {@code tensorboard.Event}
 * ({@code compat/proto/event.proto}): {@code wall_time} = 1 (double), {@code step} = 2 (int64),
 * {@code file_version} = 3 (string), {@code summary} = 5 ({@code Summary}: repeated {@code value} = 1, each
 * {@code tag} = 1 (string), {@code simple_value} = 2 (float)), {@code session_log} = 7 ({@code SessionLog}:
 * {@code status} = 1, {@code START} = 1).
 *
 * <p>Thread safety: stateless.
 */
final class TensorBoardEventWriter {
    /** The {@code file_version} of the first record. */
    static final String FILE_VERSION = "brain.Event:2";

    private static final int MASK_DELTA = 0xa282ead8;

    private TensorBoardEventWriter() {}

    /** @return the masked CRC32C of the bytes */
    static int maskedCrc32c(byte[] data, int offset, int length) {
        CRC32C crc = new CRC32C();
        crc.update(data, offset, length);
        int c = (int) crc.getValue();
        return ((c >>> 15) | (c << 17)) + MASK_DELTA;
    }

    /** Writes one framed record holding {@code payload}. */
    static void writeRecord(OutputStream out, byte[] payload) throws IOException {
        ByteBuffer header = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
        header.putLong(0, payload.length);
        header.putInt(8, maskedCrc32c(header.array(), 0, 8));
        ByteBuffer footer = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        footer.putInt(0, maskedCrc32c(payload, 0, payload.length));
        out.write(header.array());
        out.write(payload);
        out.write(footer.array());
    }

    /** @return the first event of a file: {@code wall_time}, {@code step} 0, {@code file_version} */
    static byte[] fileVersionEvent(double wallTime) {
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        fixed64(e, 1, Double.doubleToRawLongBits(wallTime));
        bytes(e, 3, FILE_VERSION.getBytes(StandardCharsets.UTF_8));
        return e.toByteArray();
    }

    /**
     * @return an event with one scalar summary value
     */
    static byte[] scalarEvent(double wallTime, long step, String tag, float value) {
        ByteArrayOutputStream v = new ByteArrayOutputStream();
        bytes(v, 1, tag.getBytes(StandardCharsets.UTF_8));
        fixed32(v, 2, Float.floatToRawIntBits(value));
        ByteArrayOutputStream summary = new ByteArrayOutputStream();
        bytes(summary, 1, v.toByteArray());
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        fixed64(e, 1, Double.doubleToRawLongBits(wallTime));
        varintField(e, 2, step);
        bytes(e, 5, summary.toByteArray());
        return e.toByteArray();
    }

    /**
     * A {@code SessionLog START} at {@code step}: TensorBoard then discards the events of earlier files with steps
     * {@code >= step} (the orphans of a run resumed from an older checkpoint).
     */
    static byte[] sessionStartEvent(double wallTime, long step) {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        varintField(log, 1, 1); // status = START
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        fixed64(e, 1, Double.doubleToRawLongBits(wallTime));
        varintField(e, 2, step);
        bytes(e, 7, log.toByteArray());
        return e.toByteArray();
    }

    private static void tag(ByteArrayOutputStream out, int field, int wireType) {
        varint(out, ((long) field << 3) | wireType);
    }

    private static void varintField(ByteArrayOutputStream out, int field, long value) {
        tag(out, field, 0);
        varint(out, value);
    }

    private static void fixed64(ByteArrayOutputStream out, int field, long bits) {
        tag(out, field, 1);
        for (int i = 0; i < 8; i++) {
            out.write((int) (bits >>> (8 * i)) & 0xff);
        }
    }

    private static void fixed32(ByteArrayOutputStream out, int field, int bits) {
        tag(out, field, 5);
        for (int i = 0; i < 4; i++) {
            out.write((bits >>> (8 * i)) & 0xff);
        }
    }

    private static void bytes(ByteArrayOutputStream out, int field, byte[] data) {
        tag(out, field, 2);
        varint(out, data.length);
        out.writeBytes(data);
    }

    /** Base-128 varint; negative int64 values take ten bytes, as protobuf encodes them. */
    private static void varint(ByteArrayOutputStream out, long value) {
        long v = value;
        while ((v & ~0x7FL) != 0) {
            out.write((int) ((v & 0x7F) | 0x80));
            v >>>= 7;
        }
        out.write((int) v);
    }
}
