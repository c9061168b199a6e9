package io.github.cogvideox4j.core.io;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Writes safetensors files that the Python/Rust library reads (and vice versa).
 *
 * <p>Layout, as the reference library ({@code safetensors} {@code prepare}/{@code serialize_to_file})
 * produces it: tensors sorted by decreasing dtype rank of the Rust {@code Dtype} enum (I64, F64, F32, I32,
 * BF16, F16, I16, I8, U8, BOOL — so wider types come first and every tensor is aligned), then by name;
 * data packed without gaps; compact JSON header with {@code __metadata__} first (omitted when empty, keys
 * sorted), padded with spaces so that the data starts at a multiple of 8 bytes.
 *
 * <p>Atomicity: the file is written through {@link AtomicFiles} (a temporary file in the same directory, forced to
 * disk, then moved over {@code file} atomically). A failure leaves any previous file untouched and removes the
 * temporary file.
 *
 * <p>Thread safety: stateless; concurrent writes to <em>different</em> files are safe. The arrays must not
 * be modified while they are written.
 */
public final class SafetensorsWriter {
    private static final ObjectMapper JSON = new ObjectMapper();

    private SafetensorsWriter() {}

    /**
     * Writes DJL arrays as they are: FLOAT32, FLOAT64, FLOAT16, INT64, INT32, INT16, INT8, UINT8 and BOOLEAN
     * become F32, F64, F16, I64, I32, I16, I8, U8 and BOOL.
     *
     * <p>Every array's {@link NDArray#getDataType()} is checked before any other call on any array; arrays of
     * another type (BFLOAT16, or UNKNOWN as bf16 arrays made inside TorchScript report) are refused, because
     * reading them through DJL can abort the JVM. Convert those to FLOAT32 first (inside TorchScript for
     * bf16), or write raw BF16 bits with {@link #write(Path, List, Map)}.
     *
     * @param file the destination; its directory must exist
     * @param tensors name to array; the arrays are only read (one host copy at a time), not closed
     * @param metadata string metadata for {@code __metadata__}, or {@code null}/empty for none
     * @throws IllegalArgumentException if an array's data type cannot be written, or a name is
     *     {@code "__metadata__"}
     * @throws IOException if writing fails
     */
    public static void write(Path file, Map<String, NDArray> tensors, Map<String, String> metadata)
            throws IOException {
        checkNotNull(file, "file");
        checkNotNull(tensors, "tensors");
        // 1. Data types only: refuse anything DJL cannot hand out safely before touching any array further.
        List<String> names = new ArrayList<>(tensors.keySet());
        SafetensorsDType[] dtypes = new SafetensorsDType[names.size()];
        for (int i = 0; i < names.size(); i++) {
            String name = checkNotNull(names.get(i), "tensor name");
            NDArray array = checkNotNull(tensors.get(name), "array of tensor '%s'", name);
            DataType type = array.getDataType();
            dtypes[i] = SafetensorsDType.fromDjl(type);
            checkArgument(dtypes[i] != null, "%s, tensor '%s': cannot write DJL data type %s (writable: FLOAT32,"
                    + " FLOAT64, FLOAT16, INT64, INT32, INT16, INT8, UINT8, BOOLEAN); convert it to FLOAT32 first"
                    + " (bf16 arrays inside TorchScript), or write raw BF16 bits as TensorData",
                    file, name, type.name());
        }
        // 2. Shapes, then stream the data one array at a time.
        List<Entry> entries = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            NDArray array = tensors.get(names.get(i));
            SafetensorsDType dtype = dtypes[i];
            long[] shape = array.getShape().getShape();
            entries.add(new Entry(names.get(i), dtype, shape, () -> littleEndian(array, dtype)));
        }
        writeEntries(file, entries, metadata);
    }

    /**
     * Writes tensors given as raw little-endian bytes (any {@link SafetensorsDType}, including BF16).
     *
     * @param file the destination; its directory must exist
     * @param tensors the tensors; names must be unique
     * @param metadata string metadata for {@code __metadata__}, or {@code null}/empty for none
     * @throws IllegalArgumentException if two tensors share a name
     * @throws IOException if writing fails
     */
    public static void write(Path file, List<TensorData> tensors, Map<String, String> metadata)
            throws IOException {
        checkNotNull(file, "file");
        checkNotNull(tensors, "tensors");
        List<Entry> entries = new ArrayList<>();
        for (TensorData t : tensors) {
            checkNotNull(t, "tensor");
            entries.add(new Entry(t.name(), t.dtype(), t.shape(), t::littleEndianBytes));
        }
        writeEntries(file, entries, metadata);
    }

    // ---------------------------------------------------------------------------------------------------------

    private interface ByteSource {
        ByteBuffer bytes();
    }

    private record Entry(String name, SafetensorsDType dtype, long[] shape, ByteSource source) {
        long byteLength() {
            long n = dtype.byteSize();
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
            return n;
        }
    }

    private static void writeEntries(Path file, List<Entry> entries, Map<String, String> metadata)
            throws IOException {
        Set<String> seen = new HashSet<>();
        for (Entry e : entries) {
            checkArgument(!SafetensorsHeader.METADATA_KEY.equals(e.name()), "%s: '__metadata__' cannot be a tensor"
                    + " name", file);
            checkArgument(seen.add(e.name()), "%s: duplicate tensor name '%s'", file, e.name());
        }
        List<Entry> ordered = new ArrayList<>(entries);
        ordered.sort(Comparator.comparingInt((Entry e) -> -e.dtype().rustRank())
                .thenComparing(Entry::name, SafetensorsWriter::compareUtf8));
        byte[] header = header(ordered, metadata);

        AtomicFiles.writeFile(file.toAbsolutePath(), tmp -> {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
                prefix.putLong(0, header.length);
                writeFully(ch, prefix);
                writeFully(ch, ByteBuffer.wrap(header));
                for (Entry e : ordered) {
                    ByteBuffer bytes = e.source().bytes();
                    if (bytes.remaining() != e.byteLength()) {
                        throw new IllegalStateException(file + ", tensor '" + e.name() + "': expected "
                                + e.byteLength() + " bytes, the array gave " + bytes.remaining());
                    }
                    writeFully(ch, bytes);
                }
            }
        });
    }

    private static byte[] header(List<Entry> ordered, Map<String, String> metadata) {
        ObjectNode root = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode meta = root.putObject(SafetensorsHeader.METADATA_KEY);
            for (Map.Entry<String, String> m : new TreeMap<>(metadata).entrySet()) {
                meta.put(m.getKey(), checkNotNull(m.getValue(), "metadata value of '%s'", m.getKey()));
            }
        }
        long offset = 0;
        for (Entry e : ordered) {
            ObjectNode t = root.putObject(e.name());
            t.put("dtype", e.dtype().name());
            ArrayNode shape = t.putArray("shape");
            Arrays.stream(e.shape()).forEach(shape::add);
            long end = Math.addExact(offset, e.byteLength());
            t.putArray("data_offsets").add(offset).add(end);
            offset = end;
        }
        byte[] json;
        try {
            json = JSON.writeValueAsString(root).getBytes(StandardCharsets.UTF_8);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("serialising a header failed", e);
        }
        int padded = (json.length + 7) / 8 * 8;
        byte[] out = Arrays.copyOf(json, padded);
        Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    /** The array's bytes as little-endian (DJL hands out native order). */
    private static ByteBuffer littleEndian(NDArray array, SafetensorsDType dtype) {
        ByteBuffer bytes = array.toByteBuffer().order(ByteOrder.nativeOrder());
        if (TensorCodec.NATIVE_LITTLE_ENDIAN || dtype.byteSize() == 1) {
            return bytes;
        }
        ByteBuffer le = ByteBuffer.allocate(bytes.remaining()).order(ByteOrder.LITTLE_ENDIAN);
        switch (dtype.byteSize()) {
            case 2:
                le.asShortBuffer().put(bytes.asShortBuffer());
                break;
            case 4:
                le.asIntBuffer().put(bytes.asIntBuffer());
                break;
            default:
                le.asLongBuffer().put(bytes.asLongBuffer());
                break;
        }
        return le;
    }

    /** Byte order of the UTF-8 encodings, as Rust's {@code String} ordering. */
    private static int compareUtf8(String a, String b) {
        return Arrays.compareUnsigned(a.getBytes(StandardCharsets.UTF_8), b.getBytes(StandardCharsets.UTF_8));
    }

    private static void writeFully(FileChannel ch, ByteBuffer src) throws IOException {
        while (src.hasRemaining()) {
            ch.write(src);
        }
    }
}
