package io.github.cogvideox4j.core.io;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.github.cogvideox4j.core.kernel.KernelPack;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.EnumMap;
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
 * <p>How bytes travel. On a CPU manager, floating-point tensors (F32, F16, BF16) whose offset in the file is a
 * multiple of their element size (every file the reference writer makes: it pads the header to 8 bytes) are
 * <b>mapped</b>: the file is mapped once per element type, private and copy-on-write ({@link KernelPack#mapFile},
 * through the {@link KernelPack#shared()} pack), and each tensor is a view of its bytes (F32 as FLOAT32, F16 as
 * FLOAT16) or, when it must be widened (BF16 as FLOAT32), a FLOAT32 copy made by libtorch from that view. So
 * loading costs no copy in Java and, for tensors kept in their stored type, no copy at all: the pages come
 * from the page cache when first touched, and stay shared with it until written. {@link #readBf16} gives BF16
 * tensors as bf16 views the same way. Every other tensor (integer and BOOL tensors, F64, misaligned
 * offsets, other devices) is read with one positional {@link FileChannel} read into the memory of a new,
 * engine-owned array, or memory-mapped in Java and converted into it when it needs widening (F16 as FLOAT32,
 * which keeps signalling NaNs signalling, and I16).
 *
 * <p>A mapped array may be modified in place (the change stays in memory, copy-on-write; two reads of one tensor
 * never share memory: a tensor read again is cut from a fresh mapping) and stays valid after the reader is
 * closed. The file itself must then not be truncated or rewritten in place while such arrays
 * live (a truncated page ends the JVM with SIGBUS in native code); replacing it by renaming a new file over it,
 * as every writer of this SDK does, is safe. A file found replaced or resized between {@link #open} and its
 * mapping is refused with a {@link SafetensorsFormatException}.
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
    /** The file's identity and size when opened, to refuse mapping a file replaced since. */
    private final Object fileKey;
    private final long fileSize;
    /** Guards the lazily made mappings, their manager, and closing. */
    private final Object mapLock = new Object();
    private final Map<KernelPack.FileElement, Mapping> mappings = new EnumMap<>(KernelPack.FileElement.class);
    private NDManager mapManager;

    private SafetensorsReader(Path file, ReopeningChannel channel, SafetensorsHeader header, Object fileKey,
            long fileSize) {
        this.file = file;
        this.channel = channel;
        this.header = header;
        this.dataStart = 8 + header.headerLength();
        this.fileKey = fileKey;
        this.fileSize = fileSize;
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
            return new SafetensorsReader(file, ch, header,
                    Files.readAttributes(file, BasicFileAttributes.class).fileKey(), size);
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
        KernelPack.FileElement element = mappedElement(info, manager);
        if (element == KernelPack.FileElement.FLOAT16 && type == DataType.FLOAT16) {
            return slice(info, element, false, manager); // a view
        }
        if (element == KernelPack.FileElement.FLOAT32 && type == DataType.FLOAT32) {
            return TensorArrays.toTarget(slice(info, element, false, manager), target); // a view
        }
        if (element == KernelPack.FileElement.BFLOAT16 && type == DataType.FLOAT32) {
            // Widened by libtorch (a bit shift: exact, NaN payloads kept). F16 → FLOAT32 stays in Java, which
            // keeps signalling NaNs as they are (libtorch's conversion quiets them).
            return TensorArrays.toTarget(slice(info, element, true, manager), target);
        }
        NDArray array = TensorArrays.create(manager, info.djlShape(), type, (int) bytes, dst -> fill(info, type, dst));
        return TensorArrays.toTarget(array, target);
    }

    /**
     * {@inheritDoc}
     *
     * <p>Here a BF16 tensor on a CPU manager is a view of the mapped file (see the class comment): no copy, no
     * rounding. Other tensors are read as FLOAT32 and cast by {@code pack}.
     */
    @Override
    public NDArray readBf16(String name, NDManager manager, KernelPack pack) {
        checkNotNull(manager, "manager");
        checkNotNull(pack, "pack");
        TensorInfo info = info(name);
        KernelPack.FileElement element = mappedElement(info, manager);
        if (element == KernelPack.FileElement.BFLOAT16) {
            checkBufferSize(info, info.numel(), DataType.FLOAT32);
            return slice(info, element, false, manager);
        }
        return TensorSource.super.readBf16(name, manager, pack);
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

    /**
     * Closes the file and the reader's mappings. Idempotent; reads in flight fail. Arrays already read stay valid
     * (a mapped array keeps its pages mapped).
     */
    @Override
    public void close() {
        synchronized (mapLock) {
            mappings.clear();
            if (mapManager != null) {
                mapManager.close();
            }
            channel.close(); // inside the lock: a read that holds it next sees the reader closed
        }
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

    /**
     * @return how the tensor can be mapped, or {@code null} when it is read instead: only floating-point tensors of
     *     F32, F16 and BF16 with at least one element, at an offset that is a multiple of the element size, for a
     *     CPU manager
     */
    private KernelPack.FileElement mappedElement(TensorInfo info, NDManager manager) {
        KernelPack.FileElement element;
        switch (info.dtype()) {
            case F32:
                element = KernelPack.FileElement.FLOAT32;
                break;
            case F16:
                element = KernelPack.FileElement.FLOAT16;
                break;
            case BF16:
                element = KernelPack.FileElement.BFLOAT16;
                break;
            default:
                return null;
        }
        boolean cpu = manager.getDevice().getDeviceType().equals(Device.Type.CPU)
                && "PyTorch".equals(manager.getEngine().getEngineName());
        boolean aligned = (dataStart + info.begin()) % element.bytes() == 0;
        return cpu && aligned && info.numel() > 0 ? element : null;
    }

    /**
     * A view of the tensor in the file's mapping as {@code element}, or its FLOAT32 widening. A region is handed
     * out as a view at most once per mapping: a tensor read again after that gets a fresh mapping (copy-on-write
     * is per mapping), so no two reads ever share memory, and a widening never sees a change made to a view.
     */
    private NDArray slice(TensorInfo info, KernelPack.FileElement element, boolean widen, NDManager manager) {
        Mapping mapping;
        synchronized (mapLock) {
            ensureOpen();
            mapping = mappings.get(element);
            if (mapping == null || mapping.viewed.contains(info.name())) {
                mapping = new Mapping(map(info, element));
                mappings.put(element, mapping); // an earlier mapping lives on in its views
            }
            if (!widen) {
                mapping.viewed.add(info.name());
            }
        }
        long first = (dataStart + info.begin()) / element.bytes();
        KernelPack pack = KernelPack.shared();
        NDArray view = pack.mappedSlice(mapping.array, first, info.djlShape(), manager);
        if (!widen) {
            return view;
        }
        try (view) {
            return pack.toFloat32(view); // a FLOAT32 copy in `manager`; the view is closed at once
        }
    }

    /** One mapping of the file and the tensors already handed out as views of it. */
    private static final class Mapping {
        final NDArray array;
        final Set<String> viewed = new java.util.HashSet<>();

        Mapping(NDArray array) {
            this.array = array;
        }
    }

    /** Maps the whole file as {@code element}s; refuses a file replaced or resized since {@link #open}. */
    private NDArray map(TensorInfo info, KernelPack.FileElement element) {
        if (mapManager == null) {
            mapManager = NDManager.newBaseManager(Device.cpu(), "PyTorch");
        }
        NDArray mapping = KernelPack.shared().mapFile(file, fileSize / element.bytes(), element, mapManager);
        Object keyNow;
        long sizeNow;
        try {
            BasicFileAttributes now = Files.readAttributes(file, BasicFileAttributes.class);
            keyNow = now.fileKey();
            sizeNow = now.size();
        } catch (IOException e) {
            mapping.close();
            throw new UncheckedIOException(file + ": cannot check the file after mapping it", e);
        }
        if (sizeNow != fileSize || !java.util.Objects.equals(keyNow, fileKey)) {
            mapping.close();
            throw new SafetensorsFormatException(file, info.name(), "the file was replaced or resized since it was"
                    + " opened (size " + fileSize + " -> " + sizeNow + " bytes, file key " + fileKey + " -> "
                    + keyNow + "): expected the file that was opened; open it again");
        }
        return mapping;
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
