package io.github.cogvideox4j.lora.train.listener;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.cogvideox4j.lora.train.StepResult;
import io.github.cogvideox4j.lora.train.TrainingStart;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The event files against the format description (TensorBoard {@code record_writer.py}, {@code event.proto}): bytes
 * of one event written out by hand, record CRCs, and a file parsed back with an independent decoder.
 */
class TensorBoardListenerTest {
    @TempDir
    Path tmp;

    private static final Clock CLOCK = Clock.fixed(Instant.parse("2026-03-04T05:06:07.5Z"), ZoneOffset.UTC);

    @Test
    void crc32cIsCastagnoliAndTheMaskIsTensorFlows() {
        byte[] check = "123456789".getBytes(StandardCharsets.US_ASCII);
        CRC32C crc = new CRC32C();
        crc.update(check);
        assertThat(crc.getValue()).isEqualTo(0xE3069283L); // the CRC-32C check value
        // mask: rotate right by 15, add 0xa282ead8 (mod 2^32), computed by hand for 0xE3069283
        assertThat(TensorBoardEventWriter.maskedCrc32c(check, 0, check.length)).isEqualTo(0xc78ab0e5);
    }

    @Test
    void scalarEventHasTheProtoFieldLayout() {
        byte[] event = TensorBoardEventWriter.scalarEvent(1.5, 3, "loss", 0.25f);
        // Event{wall_time(1, fixed64) = 1.5, step(2, varint) = 3, summary(5, len) = Summary{value(1, len) =
        //   Value{tag(1, len) = "loss", simple_value(2, fixed32) = 0.25f}}}
        assertThat(HexFormat.of().formatHex(event)).isEqualTo(
                "09" + "000000000000f83f" + "1003" + "2a0d" + "0a0b" + "0a046c6f7373" + "150000803e");
    }

    @Test
    void firstEventCarriesTheFileVersion() {
        byte[] event = TensorBoardEventWriter.fileVersionEvent(2.0);
        assertThat(HexFormat.of().formatHex(event)).isEqualTo("09" + "0000000000000040" + "1a0d"
                + HexFormat.of().formatHex("brain.Event:2".getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void recordFramesThePayloadWithLengthAndMaskedCrcs() throws IOException {
        byte[] payload = {1, 2, 3};
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        TensorBoardEventWriter.writeRecord(out, payload);
        ByteBuffer b = ByteBuffer.wrap(out.toByteArray()).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(b.remaining()).isEqualTo(8 + 4 + 3 + 4);
        assertThat(b.getLong(0)).isEqualTo(3);
        assertThat(b.getInt(8)).isEqualTo(maskedCrc(out.toByteArray(), 0, 8));
        assertThat(b.getInt(15)).isEqualTo(maskedCrc(payload, 0, 3));
    }

    @Test
    void eventFileParsesBackWithValidCrcsAndTheExpectedScalars() throws IOException {
        TensorBoardListener l = new TensorBoardListener(tmp.resolve("tb"), CLOCK);
        l.onStart(new TrainingStart(1, 10, tmp, "test"));
        l.onStep(new StepResult(1, 0, 0.5, 1e-3, 2.0, false, "9x64x96", 10));
        l.onStep(new StepResult(2, 0, Double.NaN, 1e-3, Double.POSITIVE_INFINITY, true, "9x64x96", 10));
        l.onValidation(2, 0.375);
        l.onEnd(2);
        assertThat(l.file().getFileName().toString()).startsWith("events.out.tfevents.1772600767.");

        List<Event> events = parse(l.file());
        assertThat(events.get(0).fileVersion).isEqualTo("brain.Event:2");
        assertThat(events.get(0).wallTime).isEqualTo(1772600767.5);
        assertThat(events.subList(1, events.size())).extracting(e -> e.step + " " + e.tag + " " + e.value)
                .containsExactly("1 loss 0.5", "1 lr 0.001", "1 grad_norm 2.0", "2 lr 0.001",
                        "2 validation/loss 0.375");
    }

    @Test
    void resumeOpensANewFileThatStartsASessionAtTheFirstStep() throws IOException {
        TensorBoardListener l = new TensorBoardListener(tmp, CLOCK);
        l.onStart(new TrainingStart(1, 10, tmp, "first"));
        l.onStep(new StepResult(1, 0, 0.5, 1e-3, 2.0, false, "b", 10));
        Path first = l.file();
        l.close();
        l.onStart(new TrainingStart(6, 10, tmp, "resumed"));
        l.onStep(new StepResult(6, 0, 0.25, 1e-3, 1.0, false, "b", 10));
        l.onEnd(6);
        assertThat(l.file()).isNotEqualTo(first);
        try (Stream<Path> files = Files.list(tmp)) {
            assertThat(files.filter(p -> p.getFileName().toString().contains("tfevents"))).hasSize(2);
        }
        List<Event> events = parse(l.file());
        assertThat(events.get(0).fileVersion).isEqualTo("brain.Event:2");
        assertThat(events.get(1).step).isEqualTo(6);
        assertThat(events.get(1).sessionStatus).isEqualTo(1); // SessionLog.START
        assertThat(events.get(2).tag).isEqualTo("loss");
        assertThat(events.get(2).step).isEqualTo(6);
    }

    // ---- an independent reader of the format -------------------------------------------------------------

    private static final class Event {
        double wallTime;
        long step;
        String fileVersion;
        String tag;
        Float value;
        Integer sessionStatus;
    }

    private static int maskedCrc(byte[] data, int off, int len) {
        CRC32C c = new CRC32C();
        c.update(data, off, len);
        long v = c.getValue();
        long rotated = ((v >>> 15) | (v << 17)) & 0xffffffffL;
        return (int) ((rotated + 0xa282ead8L) & 0xffffffffL);
    }

    private static List<Event> parse(Path file) throws IOException {
        byte[] all = Files.readAllBytes(file);
        ByteBuffer b = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
        List<Event> out = new ArrayList<>();
        while (b.hasRemaining()) {
            int start = b.position();
            long length = b.getLong();
            assertThat(b.getInt()).as("length CRC at %d", start).isEqualTo(maskedCrc(all, start, 8));
            byte[] payload = new byte[(int) length];
            b.get(payload);
            assertThat(b.getInt()).as("payload CRC at %d", start).isEqualTo(maskedCrc(payload, 0, payload.length));
            out.add(decodeEvent(payload));
        }
        return out;
    }

    private static Event decodeEvent(byte[] p) {
        Event e = new Event();
        Proto r = new Proto(p);
        while (r.more()) {
            long key = r.varint();
            int field = (int) (key >>> 3);
            int wire = (int) (key & 7);
            if (field == 1 && wire == 1) {
                e.wallTime = Double.longBitsToDouble(r.fixed64());
            } else if (field == 2 && wire == 0) {
                e.step = r.varint();
            } else if (field == 3 && wire == 2) {
                e.fileVersion = new String(r.bytes(), StandardCharsets.UTF_8);
            } else if (field == 5 && wire == 2) {
                Proto summary = new Proto(r.bytes());
                while (summary.more()) {
                    assertThat(summary.varint()).isEqualTo((1 << 3) | 2); // repeated Value value = 1
                    Proto value = new Proto(summary.bytes());
                    while (value.more()) {
                        long k = value.varint();
                        if (k == ((1 << 3) | 2)) {
                            e.tag = new String(value.bytes(), StandardCharsets.UTF_8);
                        } else if (k == ((2 << 3) | 5)) {
                            e.value = Float.intBitsToFloat(value.fixed32());
                        } else {
                            throw new AssertionError("unexpected Value field key " + k);
                        }
                    }
                }
            } else if (field == 7 && wire == 2) {
                Proto log = new Proto(r.bytes());
                assertThat(log.varint()).isEqualTo(1 << 3); // status = 1, varint
                e.sessionStatus = (int) log.varint();
            } else {
                throw new AssertionError("unexpected Event field " + field + " wire type " + wire);
            }
        }
        return e;
    }

    private static final class Proto {
        private final ByteBuffer b;

        Proto(byte[] data) {
            b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        }

        boolean more() {
            return b.hasRemaining();
        }

        long varint() {
            long v = 0;
            for (int shift = 0; ; shift += 7) {
                int x = b.get() & 0xff;
                v |= (long) (x & 0x7f) << shift;
                if ((x & 0x80) == 0) {
                    return v;
                }
            }
        }

        long fixed64() {
            return b.getLong();
        }

        int fixed32() {
            return b.getInt();
        }

        byte[] bytes() {
            byte[] out = new byte[(int) varint()];
            b.get(out);
            return out;
        }
    }
}
