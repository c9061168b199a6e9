package io.github.cogvideox4j.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.EngineArrays;
import io.github.cogvideox4j.core.io.SafetensorsDType;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.io.SafetensorsWriter;
import io.github.cogvideox4j.core.io.TensorData;
import io.github.cogvideox4j.core.io.TensorInfo;
import io.github.cogvideox4j.core.kernel.KernelPack;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Cost of loading a checkpoint into DJL arrays versus only moving its bytes.
 *
 * <p>A file of {@code tensors} tensors of 2.5 M elements each (10 MB as F32; the default 20 tensors give a
 * 200 MB F32 file and a 100 MB BF16 file holding the same values) is generated once per trial. Then:
 * <ul>
 *   <li>{@link #readIntoNDArrays}: {@code SafetensorsReader.open} + {@code read(name, manager)} of every
 *       tensor into FLOAT32 arrays, arrays closed after each pass. F32 tensors are views of the reader's private
 *       mapping of the file (no byte is copied or touched at load); BF16 ones are widened by libtorch from that
 *       mapping into new FLOAT32 memory;</li>
 *   <li>{@link #readIntoBf16Storage}: the same with {@code readBf16(name, manager, pack)}, the bf16 storage of a
 *       frozen base: BF16 tensors are views of the mapping, F32 ones are read and cast by the pack;</li>
 *   <li>{@link #readIntoNDArraysAndSum}: {@link #readIntoNDArrays} plus one engine {@code sum()} per array, so
 *       every byte of a mapped tensor is faulted in from the page cache once (what the first training step pays
 *       for a lazy load): compare with {@link #sumMappedBuffer};</li>
 *   <li>{@link #readBytesIntoDirectBuffer}: the floor for the same bytes: positional {@link FileChannel} reads
 *       into one reused direct buffer;</li>
 *   <li>{@link #sumMappedBuffer}: map each tensor region and sum it as longs (touches every byte once);</li>
 *   <li>{@link #copyFloat32Output}: the floor for the bytes a load into FLOAT32 writes: one engine copy
 *       ({@code duplicate}) of a FLOAT32 tensor of the same shape per tensor, into new memory, arrays closed
 *       after each pass as in {@link #readIntoNDArrays}. A BF16 file widened to FLOAT32 writes these bytes,
 *       twice the bytes it reads, so its load is bounded below by this copy, not by the byte read.</li>
 * </ul>
 * The file stays in the page cache after the first pass, so this measures memory traffic and conversion,
 * not the disk. Ratios of interest, per dtype: readIntoNDArrays and readIntoBf16Storage over
 * readBytesIntoDirectBuffer (issue goal: at most 1.5), readIntoNDArrays over copyFloat32Output (the widening
 * against a memcpy of the bytes it writes), and readIntoNDArraysAndSum over sumMappedBuffer.
 *
 * <p>Run (after {@code mvn -pl cogvideox-bench -am package -DskipTests}):
 * {@code THP_MEM_ALLOC_ENABLE=1 java -Dai.djl.offline=true -cp <classpath> org.openjdk.jmh.Main
 * SafetensorsLoadBench}; a smoke run adds {@code -f 0 -wi 1 -i 1 -r 1s -w 1s}. The MKL vendor switch does
 * not matter here (no GEMM).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Dai.djl.offline=true", "-Xmx2g"})
public class SafetensorsLoadBench {
    private static final int ROWS = 1280;
    private static final int COLS = 2048;

    /** The stored dtype of the generated file. */
    @Param({"F32", "BF16"})
    public String dtype;

    /** Number of 2.5 M-element tensors (20 = 200 MB of FLOAT32 after loading). */
    @Param({"20"})
    public int tensors;

    private Path dir;
    private Path file;
    private NDManager manager;
    private KernelPack pack;
    private ByteBuffer scratch;
    private NDArray float32Tensor;

    /**
     * Generates the file.
     *
     * @throws IOException if writing fails
     */
    @Setup
    public void generate() throws IOException {
        dir = Files.createTempDirectory("safetensors-bench");
        file = dir.resolve("bench.safetensors");
        SafetensorsDType stored = SafetensorsDType.valueOf(dtype);
        int n = ROWS * COLS;
        float[] values = new float[n];
        for (int i = 0; i < n; i++) {
            values[i] = (float) Math.sin(i * 1e-3) * 0.02f;
        }
        TensorData proto = stored == SafetensorsDType.BF16
                ? TensorData.bf16("proto", new long[] {ROWS, COLS}, values)
                : TensorData.f32("proto", new long[] {ROWS, COLS}, values);
        List<TensorData> list = new ArrayList<>();
        for (int t = 0; t < tensors; t++) {
            list.add(new TensorData(String.format("blocks.%02d.weight", t), stored, proto.shape(),
                    proto.littleEndianBytes()));
        }
        SafetensorsWriter.write(file, list, null);
        scratch = ByteBuffer.allocateDirect((int) proto.littleEndianBytes().remaining());
        manager = NDManager.newBaseManager();
        pack = KernelPack.load();
        float32Tensor = EngineArrays.create(manager, values, new Shape(ROWS, COLS));
    }

    /**
     * Removes the file.
     *
     * @throws IOException if deleting fails
     */
    @TearDown
    public void cleanUp() throws IOException {
        pack.close();
        manager.close();
        Files.deleteIfExists(file);
        Files.deleteIfExists(dir);
    }

    /**
     * @param bh sink
     * @throws IOException if reading fails
     */
    @Benchmark
    public void readIntoNDArrays(Blackhole bh) throws IOException {
        try (SafetensorsReader r = SafetensorsReader.open(file); NDManager sub = manager.newSubManager()) {
            for (String name : r.names()) {
                bh.consume(r.read(name, sub));
            }
        }
    }

    /**
     * @param bh sink
     * @throws IOException if reading fails
     */
    @Benchmark
    public void readIntoBf16Storage(Blackhole bh) throws IOException {
        try (SafetensorsReader r = SafetensorsReader.open(file); NDManager sub = manager.newSubManager()) {
            for (String name : r.names()) {
                bh.consume(r.readBf16(name, sub, pack));
            }
        }
    }

    /**
     * @param bh sink
     * @throws IOException if reading fails
     */
    @Benchmark
    public void readIntoNDArraysAndSum(Blackhole bh) throws IOException {
        try (SafetensorsReader r = SafetensorsReader.open(file); NDManager sub = manager.newSubManager()) {
            for (String name : r.names()) {
                NDArray a = r.read(name, sub);
                bh.consume(a.sum().getFloat());
            }
        }
    }

    /**
     * @param bh sink
     * @throws IOException if reading fails
     */
    @Benchmark
    public void readBytesIntoDirectBuffer(Blackhole bh) throws IOException {
        try (SafetensorsReader r = SafetensorsReader.open(file);
                FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long dataStart = ch.size() - totalBytes(r);
            for (String name : r.names()) {
                TensorInfo info = r.info(name);
                scratch.clear().limit((int) info.byteLength());
                long pos = dataStart + info.begin();
                while (scratch.hasRemaining()) {
                    pos += ch.read(scratch, pos);
                }
                bh.consume(scratch.get(0));
            }
        }
    }

    /**
     * @param bh sink
     * @throws IOException if reading fails
     */
    @Benchmark
    public void sumMappedBuffer(Blackhole bh) throws IOException {
        try (SafetensorsReader r = SafetensorsReader.open(file);
                FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long dataStart = ch.size() - totalBytes(r);
            long sum = 0;
            for (String name : r.names()) {
                TensorInfo info = r.info(name);
                MappedByteBuffer m = ch.map(FileChannel.MapMode.READ_ONLY, dataStart + info.begin(), info.byteLength());
                m.order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0, end = m.limit() - 7; i < end; i += 8) {
                    sum += m.getLong(i);
                }
            }
            bh.consume(sum);
        }
    }

    /**
     * @param bh sink
     */
    @Benchmark
    public void copyFloat32Output(Blackhole bh) {
        try (NDManager sub = manager.newSubManager()) {
            for (int t = 0; t < tensors; t++) {
                NDArray copy = float32Tensor.duplicate();
                copy.attach(sub);
                bh.consume(copy);
            }
        }
    }

    private static long totalBytes(SafetensorsReader r) {
        return r.names().stream().mapToLong(n -> r.info(n).byteLength()).sum();
    }
}
