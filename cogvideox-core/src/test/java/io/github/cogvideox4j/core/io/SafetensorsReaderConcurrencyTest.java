package io.github.cogvideox4j.core.io;

import static io.github.cogvideox4j.core.io.Crafted.entry;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ClosedByInterruptException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Concurrent reads, interrupts, and files past 2 GiB. */
class SafetensorsReaderConcurrencyTest {
    @TempDir
    Path dir;

    private Path sample() throws IOException {
        List<TensorData> tensors = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            float[] v = new float[4096];
            for (int i = 0; i < v.length; i++) {
                v[i] = t * 10_000 + i;
            }
            tensors.add(TensorData.f32("f" + t, new long[] {64, 64}, v));
            tensors.add(TensorData.bf16("b" + t, new long[] {64, 64}, v));
        }
        Path f = dir.resolve("c.safetensors");
        SafetensorsWriter.write(f, tensors, null);
        return f;
    }

    @Test
    void concurrentReadsReturnTheSameValuesAsSequentialOnes() throws Exception {
        Path f = sample();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try (SafetensorsReader r = SafetensorsReader.open(f); NDManager m = NDManager.newBaseManager()) {
            List<Future<Boolean>> results = new ArrayList<>();
            for (int task = 0; task < 16; task++) {
                results.add(pool.submit(() -> {
                    for (String name : r.names()) {
                        float[] expected = r.readFloats(name);
                        try (NDManager sub = m.newSubManager(); NDArray a = r.read(name, sub)) {
                            if (!java.util.Arrays.equals(a.toFloatArray(), expected)) {
                                return false;
                            }
                        }
                    }
                    return true;
                }));
            }
            for (Future<Boolean> result : results) {
                assertThat(result.get(60, TimeUnit.SECONDS)).isTrue();
            }
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void anInterruptedReadFailsAndTheReaderKeepsWorkingForOthers() throws Exception {
        Path f = sample();
        try (SafetensorsReader r = SafetensorsReader.open(f)) {
            Throwable[] failure = new Throwable[1];
            Thread t = new Thread(() -> {
                Thread.currentThread().interrupt();
                try {
                    r.readFloats("f0");
                } catch (Throwable e) {
                    failure[0] = e;
                }
            });
            t.start();
            t.join();
            assertThat(failure[0]).isInstanceOf(UncheckedIOException.class)
                    .hasCauseInstanceOf(ClosedByInterruptException.class)
                    .hasMessageContaining("tensor 'f0'");
            // The interrupt closed the shared channel; the reader reopens it for everybody else.
            assertThat(r.readFloats("f1")[1]).isEqualTo(10_001f);
        }
    }

    @Test
    void readsTensorsBeyondTheTwoGiBOffsetOfASparseFile() throws IOException {
        long big = 3L << 30; // a 3 GiB U8 tensor first (sparse: no disk blocks), then a small F32 tensor
        String json = "{" + entry("huge", "U8", "[" + big + "]", 0, big) + ","
                + entry("tail", "F32", "[2]", big, big + 8) + "}";
        byte[] header = json.getBytes(StandardCharsets.UTF_8);
        Path f = dir.resolve("sparse.safetensors");
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length);
            raf.write(prefix.array());
            raf.write(header);
            long dataStart = 8 + header.length;
            raf.setLength(dataStart + big + 8);
            raf.seek(dataStart + big);
            ByteBuffer tail = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(0, 1.5f).putFloat(4, -2f);
            raf.write(tail.array());
        }
        try (SafetensorsReader r = SafetensorsReader.open(f); NDManager m = NDManager.newBaseManager()) {
            assertThat(r.readFloats("tail")).containsExactly(1.5f, -2f);
            try (NDArray a = r.read("tail", m)) {
                assertThat(a.toFloatArray()).containsExactly(1.5f, -2f);
            }
            assertThatThrownBy(() -> r.read("huge", m))
                    .isInstanceOf(SafetensorsFormatException.class)
                    .hasMessageContaining("tensor 'huge'")
                    .hasMessageContaining("too large for one buffer")
                    .hasMessageContaining(String.valueOf(big));
        }
    }
}
