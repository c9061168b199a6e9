package io.github.cogvideox4j.core.io;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One safetensors file, opened for lazy reading.
 *
 * <p>{@link #open(Path)} reads and validates the whole header (see the rules below); no tensor bytes are
 * read until {@link #read} or {@link #readFloats} asks for one tensor. Files larger than 2 GiB are fine;
 * one tensor must fit one Java buffer ({@code < 2^31} bytes, stored and decoded).
 *
 * <p>Validation at open, each failure a {@link SafetensorsFormatException} naming the file, the tensor and
 * expected vs actual: the file has at least 8 bytes; header length at most 100,000,000 bytes and inside the
 * file; header strict UTF-8 JSON object without duplicate keys; every entry has a string {@code dtype} of
 * {@link SafetensorsDType}, an integer array {@code shape} and a two-integer {@code data_offsets} (no NaN,
 * fractions or negatives); {@code end - begin == numel * dtype size} (overflow-checked); the tensors,
 * sorted by offset, cover the data buffer exactly with no gap, no overlap and no trailing bytes — the
 * rules of the reference library (huggingface/safetensors {@code Metadata::validate} and
 * {@code read_metadata}); {@code __metadata__} maps strings to strings. When a tensor is read, BOOL bytes
 * must be 0 or 1.
 *
 * <p>How bytes travel: a tensor whose stored layout equals its DJL layout (F32, F64, I64, I32, I8, U8, BOOL,
 * and F16 read as FLOAT16) is read with one positional {@link FileChannel} read straight into the memory
 * of a new, engine-owned array (on a CPU manager); tensors that need widening (BF16, F16, I16) are
 * memory-mapped (or, when small, read into a heap buffer) and converted in Java into that memory. The
 * returned arrays never alias the file.
 *
 * <p>Thread safety: after {@code open}, every method may be called concurrently. Interrupting a thread
 * while it reads fails that read with an {@link UncheckedIOException} wrapping
 * {@link ClosedByInterruptException}; the file is then reopened for the other readers. The file must not be
 * modified while it is open.
 *
 * <p>Ownership: the reader owns the open file; close it (try-with-resources). Arrays it returns belong to
 * the manager passed to {@code read}.
 */
public final class SafetensorsReader implements TensorSource {
    private static final Logger LOG = LoggerFactory.getLogger(SafetensorsReader.class);

    /** Tensors up to this size are read into a heap buffer; larger ones are memory-mapped. */
    private static final int MAP_THRESHOLD = 1 << 20;

    private final Path file;
    private final long dataStart;
    private final SafetensorsHeader header;
    private final ReopeningChannel channel;

    private SafetensorsReader(Path file, ReopeningChannel channel, SafetensorsHeader header) {
        this.file = file;
        this.channel = channel;
        this.header = header;
        this.dataStart = 8 + header.headerLength();
    }

    /**
     * Opens a file and validates its header.
     *
     * @param file a {@code .safetensors} file
     * @return the open reader; the caller closes it
     * @throws SafetensorsFormatException if the header breaks a rule of the class comment
     * @throws IOException if the file cannot be opened or read ({@link java.nio.file.NoSuchFileException}
     *     if it does not exist)
     */
    public static SafetensorsReader open(Path file) throws IOException {
        checkNotNull(file, "file");
        ReopeningChannel ch = ReopeningChannel.open(file);
        try {
            long size = ch.size();
            if (size < 8) {
                throw new SafetensorsFormatException(file, null, "file is " + size
                        + " bytes long: expected at least 8 (the header length)");
            }
            ByteBuffer prefix = ByteBuffer.allocate(8);
            ch.readFullyChecked(prefix, 0);
            long n = SafetensorsHeader.headerLength(file, prefix, size);
            ByteBuffer json = ByteBuffer.allocate((int) n);
            ch.readFullyChecked(json, 8);
            SafetensorsHeader header = SafetensorsHeader.parse(file, json.array(), size - 8 - n);
            LOG.debug("opened {}: {} tensors, header {} bytes, data {} bytes", file, header.tensors().size(), n,
                    size - 8 - n);
            return new SafetensorsReader(file, ch, header);
        } catch (IOException | RuntimeException | Error e) {
            ch.close();
            throw e;
        }
    }

    /** @return the file this reader reads */
    public Path file() {
        return file;
    }

    /** {@inheritDoc} */
    @Override
    public Set<String> names() {
        return header.tensors().keySet();
    }

    /** {@inheritDoc} */
    @Override
    public boolean contains(String name) {
        return header.tensors().containsKey(name);
    }

    /** {@inheritDoc} */
    @Override
    public TensorInfo info(String name) {
        TensorInfo info = name == null ? null : header.tensors().get(name);
        if (info == null) {
            throw new SafetensorsFormatException(file, name, "no such tensor (the file has "
                    + header.tensors().size() + " tensors" + sampleNames(names()) + ")");
        }
        return info;
    }

    /** {@inheritDoc} */
    @Override
    public Map<String, String> metadata() {
        return header.metadata();
    }

    /** {@inheritDoc} */
    @Override
    public NDArray read(String name, NDManager manager, DataType target) {
        checkNotNull(manager, "manager");
        checkTarget(target);
        TensorInfo info = info(name);
        ensureOpen();
        DataType type = TensorCodec.loadType(info.dtype(), target);
        long numel = info.numel();
        long bytes = checkBufferSize(info, numel, type);
        NDArray array = TensorArrays.create(manager, info.djlShape(), type, (int) bytes, dst -> fill(info, type, dst));
        return TensorArrays.toTarget(array, target);
    }

    /** {@inheritDoc} */
    @Override
    public float[] readFloats(String name) {
        TensorInfo info = info(name);
        if (!info.dtype().isFloatingPoint()) {
            throw new SafetensorsFormatException(file, name, "readFloats needs a floating-point dtype (F64, F32,"
                    + " F16, BF16), actual " + info.dtype());
        }
        ensureOpen();
        long numel = info.numel();
        checkBufferSize(info, numel, DataType.FLOAT32);
        ByteBuffer src = sourceBytes(info);
        try {
            return TensorCodec.decodeFloats(info.dtype(), src, (int) numel);
        } catch (InternalError e) {
            throw mappedFault(info, e);
        }
    }

    /**
     * Reads a contiguous run of elements of an F32 tensor (row-major order), mapping only the bytes it needs: how a
     * resumed run takes its part of a sharded optimizer state without reading whole files.
     *
     * @param name an F32 tensor
     * @param first the first element, in {@code [0, numel]}
     * @param dst where the values go
     * @param dstOffset the first index of {@code dst} written
     * @param count how many elements, with {@code first + count <= numel}
     * @throws SafetensorsFormatException if the tensor is not F32
     * @throws IndexOutOfBoundsException if the run is outside the tensor or {@code dst}
     * @throws UncheckedIOException if reading fails
     */
    public void readFloats(String name, long first, float[] dst, int dstOffset, int count) {
        checkNotNull(dst, "dst");
        TensorInfo info = info(name);
        if (info.dtype() != SafetensorsDType.F32) {
            throw new SafetensorsFormatException(file, name, "a ranged read needs an F32 tensor, actual "
                    + info.dtype());
        }
        java.util.Objects.checkFromIndexSize(first, count, info.numel());
        java.util.Objects.checkFromIndexSize(dstOffset, count, dst.length);
        ensureOpen();
        if (count == 0) {
            return;
        }
        long position = dataStart + info.begin() + first * Float.BYTES;
        long bytes = (long) count * Float.BYTES;
        if (bytes > Integer.MAX_VALUE) {
            throw new IndexOutOfBoundsException(file + ", tensor '" + name + "': " + count
                    + " elements do not fit one buffer; read them in parts");
        }
        ByteBuffer mapped = channel.map(position, (int) bytes, what(info));
        try {
            mapped.order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(dst, dstOffset, count);
        } catch (InternalError e) {
            throw mappedFault(info, e);
        }
    }

    /** Closes the file. Idempotent; reads in flight fail. */
    @Override
    public void close() {
        channel.close();
    }

    @Override
    public String toString() {
        return "SafetensorsReader[" + file + ", " + header.tensors().size() + " tensors]";
    }

    static void checkTarget(DataType target) {
        checkArgument(target == DataType.FLOAT32 || target == DataType.FLOAT16,
                "target must be FLOAT32 or FLOAT16, was %s (BFLOAT16 arrays cannot be created through DJL)", target);
    }

    static String sampleNames(Set<String> names) {
        if (names.isEmpty()) {
            return "";
        }
        String shown = names.stream().limit(20).collect(Collectors.joining(", "));
        return ": " + shown + (names.size() > 20 ? ", ..." : "");
    }

    // ---------------------------------------------------------------------------------------------------------

    /** @return the number of bytes of the decoded buffer, guaranteed {@code <= Integer.MAX_VALUE} */
    private long checkBufferSize(TensorInfo info, long numel, DataType type) {
        String problem = TensorArrays.sizeProblem(info.byteLength(), numel, info.shape(), type);
        if (problem != null) {
            throw new SafetensorsFormatException(file, info.name(), problem);
        }
        return numel * type.getNumOfBytes();
    }

    /** Writes the tensor, decoded to {@code type}, into {@code dst} (native order, exactly the right size). */
    private void fill(TensorInfo info, DataType type, ByteBuffer dst) {
        if (TensorCodec.copiesVerbatim(info.dtype(), type)) {
            readTensorBytes(info, dst.duplicate());
        } else {
            ByteBuffer src = sourceBytes(info);
            try {
                TensorCodec.decode(info.dtype(), src, type, dst);
            } catch (InternalError e) {
                throw mappedFault(info, e);
            }
        }
        if (info.dtype() == SafetensorsDType.BOOL) {
            long bad = TensorCodec.firstNonBoolean(dst);
            if (bad >= 0) {
                throw new SafetensorsFormatException(file, info.name(), "BOOL element " + bad + " is byte "
                        + (dst.get((int) bad) & 0xFF) + ": expected 0 or 1");
            }
        }
    }

    /** The stored bytes of a tensor, little-endian, position 0: mapped if large, else read into the heap. */
    private ByteBuffer sourceBytes(TensorInfo info) {
        int size = (int) info.byteLength();
        long position = dataStart + info.begin();
        if (size <= MAP_THRESHOLD) {
            ByteBuffer heap = ByteBuffer.allocate(size);
            readTensorBytes(info, heap);
            heap.flip();
            return heap.order(ByteOrder.LITTLE_ENDIAN);
        }
        return channel.map(position, size, what(info)).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Reads exactly {@code dst.remaining()} bytes of the tensor into {@code dst}. */
    private void readTensorBytes(TensorInfo info, ByteBuffer dst) {
        channel.readFully(dst, dataStart + info.begin(), what(info));
    }

    private static String what(TensorInfo info) {
        return "tensor '" + info.name() + "'";
    }

    private void ensureOpen() {
        channel.ensureOpen();
    }

    private UncheckedIOException mappedFault(TensorInfo info, InternalError e) {
        // The JVM reports a fault on a mapped page (e.g. the file was truncated) as an InternalError.
        return new UncheckedIOException(new IOException(file + ", tensor '" + info.name()
                + "': fault while reading the mapped file (was it modified while open?)", e));
    }
}
