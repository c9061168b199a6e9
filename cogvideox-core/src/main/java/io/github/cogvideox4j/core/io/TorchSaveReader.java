package io.github.cogvideox4j.core.io;

import static com.google.common.base.Preconditions.checkNotNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.io.TorchSaveFormatException.Reason;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One {@code torch.save} file (a SAT/DeepSpeed checkpoint, a cogvideox-factory or finetrainers {@code .pt} cache
 * file), opened safely: the archive is parsed defensively, the pickle is run by an allowlist machine that never
 * constructs a class or calls anything, and tensor bytes are read lazily, one tensor per call, straight from the
 * archive. Nothing a file contains is ever executed.
 *
 * <p><b>Format.</b> A zip archive (stored entries, ZIP64 as PyTorch writes it) whose first entry names the archive
 * folder {@code <name>/}: {@code <name>/data.pkl} (pickle protocol 2), {@code <name>/data/<key>} (one raw storage
 * per key), {@code <name>/byteorder} ({@code little}; big-endian files are refused), {@code <name>/version} and
 * {@code <name>/.format_version} (reported in {@link #metadata()}). The legacy pre-1.6 format is refused.
 *
 * <p><b>The allowlist</b> (nothing else can be named): {@code collections.OrderedDict},
 * {@code torch._utils._rebuild_tensor_v2}, {@code torch._utils._rebuild_parameter}, {@code torch.Size}, the typed
 * storages {@code torch.FloatStorage}, {@code DoubleStorage}, {@code HalfStorage}, {@code BFloat16Storage},
 * {@code LongStorage}, {@code IntStorage}, {@code ShortStorage}, {@code CharStorage}, {@code ByteStorage},
 * {@code BoolStorage}, the persistent ids {@code ('storage', type, key, location, size)} that name them, and plain
 * dicts, lists, tuples, strings, numbers, booleans and None. Any other global, any opcode that constructs objects
 * (INST, OBJ, NEWOBJ, EXT*), an unknown opcode, a truncated stream, a storage entry whose size is not
 * {@code size x element size}, or a tensor view whose offset, sizes or strides reach outside its storage (or are
 * negative) is a {@link TorchSaveFormatException} naming the file, the archive entry and the reason. The bounds of
 * the archive reader and the pickle machine (sizes, counts, depth, cycles) are listed in
 * {@code docs/sat-and-pt.md}; the pickle may be at most {@value #MAX_PICKLE_BYTES} bytes.
 *
 * <p><b>Values.</b> {@link #root()} is the unpickled object: {@link Map} (dict, OrderedDict; insertion order),
 * {@link List} (list, tuple), {@link String}, {@link Long} or {@link BigInteger}, {@link Double}, {@link Boolean},
 * {@code null}, {@link TorchSize}, {@link TorchTensor}; deeply unmodifiable, without cycles. As a
 * {@link TensorSource} the reader lists every tensor of the tree under its path: dict keys and list indices joined
 * with {@code '.'} ({@code module.model.diffusion_model.time_embed.0.weight}); a file holding a single tensor
 * names it {@code ""}. {@link #leaves()} lists the non-tensor entries as well, {@link #subtree(String)} gives the
 * tensors of one dict.
 *
 * <p><b>Reading.</b> A view's bytes are taken from its storage entry with positional reads (small) or a memory
 * map (large); strided and offset views (several tensors sharing a storage, transposed tensors, expanded ones) are
 * gathered element by element into row-major order. BF16 and F16 are widened to FLOAT32 exactly, in Java, by the
 * same code as {@link SafetensorsReader} (see {@link TensorSource} for the dtype table); no BFLOAT16 array is ever
 * created through DJL. The first read of a storage checks its CRC-32 against the archive directory. Returned
 * arrays never alias the file.
 *
 * <p>Thread safety: after {@code open}, every method may be called concurrently. Ownership: the reader owns the
 * open file; close it. Arrays it returns belong to the manager passed in.
 */
public final class TorchSaveReader implements TensorSource {
    private static final Logger LOG = LoggerFactory.getLogger(TorchSaveReader.class);

    /** The largest pickle ({@code data.pkl}) accepted, in bytes. */
    public static final int MAX_PICKLE_BYTES = 32 << 20;
    /** The most leaves (tensors and other values) listed when the tree is flattened into paths. */
    public static final int MAX_LEAVES = 1_000_000;
    /** A view may read at most this many times its storage's bytes (see {@link #maxExpandedBytes}). */
    public static final int MAX_EXPANSION = 64;
    /** ... or this many bytes, whichever is more. */
    public static final long MIN_EXPANSION_LIMIT = 4L << 20;
    private static final int MAP_THRESHOLD = 1 << 20;
    private static final int SMALL_ENTRY = 4096;

    private final Path file;
    private final ReopeningChannel channel;
    private final ZipArchive archive;
    private final String archiveName;
    private final Object root;
    private final Map<String, Object> leaves;
    private final Map<String, TorchTensor> tensors;
    private final Map<String, String> metadata;
    private final Set<String> verifiedStorages = ConcurrentHashMap.newKeySet();

    private TorchSaveReader(Path file, ReopeningChannel channel, ZipArchive archive, String archiveName, Object root,
            Map<String, String> metadata) {
        this.file = file;
        this.channel = channel;
        this.archive = archive;
        this.archiveName = archiveName;
        this.root = root;
        this.metadata = metadata;
        this.leaves = Collections.unmodifiableMap(flatten(root));
        Map<String, TorchTensor> t = new LinkedHashMap<>();
        leaves.forEach((k, v) -> {
            if (v instanceof TorchTensor tensor) {
                t.put(k, tensor);
            }
        });
        this.tensors = Collections.unmodifiableMap(t);
    }

    /**
     * Opens a file: parses the archive and runs the whole pickle (no tensor bytes are read).
     *
     * @param file a {@code .pt} / {@code .pth} / {@code *_model_states.pt} file written by {@code torch.save}
     * @return the open reader; the caller closes it
     * @throws TorchSaveFormatException if the file is refused (see the class comment)
     * @throws IOException if the file cannot be opened or read
     */
    public static TorchSaveReader open(Path file) throws IOException {
        checkNotNull(file, "file");
        ReopeningChannel ch = ReopeningChannel.open(file);
        try {
            ZipArchive archive = ZipArchive.read(file, ch);
            if (archive.entries().isEmpty()) {
                throw ZipArchive.fail(file, null, Reason.MALFORMED_ARCHIVE, "the archive is empty");
            }
            String first = archive.entries().keySet().iterator().next();
            int slash = first.indexOf('/');
            if (slash <= 0) {
                throw ZipArchive.fail(file, first, Reason.MALFORMED_ARCHIVE, "the first entry is not inside an archive "
                        + "folder (expected <name>/data.pkl, <name>/data/...)");
            }
            String name = first.substring(0, slash);
            Map<String, String> metadata = new LinkedHashMap<>();
            metadata.put("format", "torch.save");
            metadata.put("archive", name);
            for (String record : List.of("version", ".format_version", ".storage_alignment", "byteorder")) {
                ZipArchive.Entry e = archive.entries().get(name + "/" + record);
                if (e != null) {
                    byte[] text = archive.readAll(e, SMALL_ENTRY);
                    metadata.put(record.startsWith(".") ? record.substring(1) : record,
                            new String(text, StandardCharsets.US_ASCII).trim());
                }
            }
            String order = metadata.getOrDefault("byteorder", "little");
            if (!order.equals("little")) {
                throw ZipArchive.fail(file, name + "/byteorder", Reason.UNSUPPORTED, "byte order '" + order
                        + "' (only little-endian archives are read)");
            }
            String pklName = name + "/data.pkl";
            ZipArchive.Entry pkl = archive.entries().get(pklName);
            if (pkl == null) {
                throw ZipArchive.fail(file, pklName, Reason.MALFORMED_ARCHIVE, "no pickle: the archive holds "
                        + SafetensorsReader.sampleNames(archive.entries().keySet()).replaceFirst("^: ", ""));
            }
            byte[] pickle = archive.readAll(pkl, MAX_PICKLE_BYTES);
            Object root = PickleMachine.run(file, pklName, pickle, (key, dtype, numel, location) ->
                    storage(file, archive, name, pklName, key, dtype, numel));
            TorchSaveReader reader = new TorchSaveReader(file, ch, archive, name, root,
                    Collections.unmodifiableMap(metadata));
            LOG.debug("opened {}: archive '{}', {} entries, {} tensors", file, name, archive.entries().size(),
                    reader.tensors.size());
            return reader;
        } catch (IOException | RuntimeException | Error e) {
            ch.close();
            throw e;
        }
    }

    /** Resolves a persistent id: the entry must exist and hold exactly {@code numel} elements of the dtype. */
    private static PickleMachine.Storage storage(Path file, ZipArchive archive, String name, String pklName, String key,
            SafetensorsDType dtype, long numel) {
        String entryName = name + "/data/" + key;
        ZipArchive.Entry e = archive.entries().get(entryName);
        if (e == null || key.isEmpty() || key.contains("/")) {
            throw new TorchSaveFormatException(file, pklName, null, Reason.BAD_STORAGE, "storage '" + key
                    + "' names no entry (expected " + entryName + ")");
        }
        long bytes;
        try {
            bytes = Math.multiplyExact(numel, (long) dtype.byteSize());
        } catch (ArithmeticException ex) {
            bytes = -1;
        }
        if (bytes != e.size()) {
            throw new TorchSaveFormatException(file, entryName, null, Reason.BAD_STORAGE, "the pickle declares "
                    + numel + " " + dtype + " elements (" + (bytes < 0 ? "more than 2^63" : bytes) + " bytes), the "
                    + "entry holds " + e.size() + " bytes");
        }
        return new PickleMachine.Storage(key, entryName, dtype, numel);
    }

    // ------------------------------------------------------------------------------------------------ the tree

    /** @return the file this reader reads */
    public Path file() {
        return file;
    }

    /** @return the archive folder name (the part before {@code /data.pkl}) */
    public String archiveName() {
        return archiveName;
    }

    /** @return the unpickled object (see the class comment for the Java types), deeply unmodifiable */
    public Object root() {
        return root;
    }

    /**
     * @return every leaf of the tree under its path, in pickle order: tensors, {@link TorchSize}s, strings,
     *     numbers, booleans, {@code null}, and empty dicts and lists (as themselves); unmodifiable
     */
    public Map<String, Object> leaves() {
        return leaves;
    }

    /** @return the tensors by path (the same as {@link #names()}), unmodifiable */
    public Map<String, TorchTensor> tensors() {
        return tensors;
    }

    /**
     * The tensors under one path, named relative to it: {@code subtree("module")} of a DeepSpeed checkpoint names
     * its tensors as the state dict does. The view shares this reader's file; closing it does nothing.
     *
     * @param path a dict path ({@code ""} for the root)
     * @return the tensors below that path
     */
    public TensorSource subtree(String path) {
        checkNotNull(path, "path");
        String prefix = path.isEmpty() ? "" : path + ".";
        Map<String, TorchTensor> sub = new LinkedHashMap<>();
        tensors.forEach((k, v) -> {
            if (k.startsWith(prefix) && k.length() > prefix.length()) {
                sub.put(k.substring(prefix.length()), v);
            }
        });
        return new View(Collections.unmodifiableMap(sub), path);
    }

    /**
     * The tensor stored under a path.
     *
     * @param name the path (see {@link #names()})
     * @return the tensor record
     * @throws TorchSaveFormatException with {@link Reason#NO_SUCH_TENSOR} if there is none
     */
    public TorchTensor tensor(String name) {
        TorchTensor t = name == null ? null : tensors.get(name);
        if (t == null) {
            throw new TorchSaveFormatException(file, null, name, Reason.NO_SUCH_TENSOR, "no such tensor (the file has "
                    + tensors.size() + " tensors" + SafetensorsReader.sampleNames(tensors.keySet()) + ")");
        }
        return t;
    }

    // ------------------------------------------------------------------------------------------------ TensorSource

    /** {@inheritDoc} */
    @Override
    public Set<String> names() {
        return tensors.keySet();
    }

    /** {@inheritDoc} */
    @Override
    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /**
     * {@inheritDoc} Here {@code begin}/{@code end} are the byte range from the view's first element to one past its
     * last within its storage entry.
     */
    @Override
    public TensorInfo info(String name) {
        return infoOf(name, tensor(name));
    }

    /**
     * @return {@code format = torch.save}, {@code archive}, and the archive's {@code version},
     *     {@code format_version}, {@code storage_alignment} and {@code byteorder} records when present
     */
    @Override
    public Map<String, String> metadata() {
        return metadata;
    }

    /** {@inheritDoc} */
    @Override
    public NDArray read(String name, NDManager manager, DataType target) {
        return read(name, tensor(name), manager, target);
    }

    /** {@inheritDoc} */
    @Override
    public float[] readFloats(String name) {
        return readFloats(name, tensor(name));
    }

    /** Closes the file. Idempotent; reads in flight fail. */
    @Override
    public void close() {
        channel.close();
    }

    @Override
    public String toString() {
        return "TorchSaveReader[" + file + ", " + tensors.size() + " tensors]";
    }

    // ------------------------------------------------------------------------------------------------ reading

    private static TensorInfo infoOf(String name, TorchTensor t) {
        long es = t.dtype().byteSize();
        return new TensorInfo(name, t.dtype(), t.shape(), t.storageOffset() * es, t.endElement() * es);
    }

    /**
     * Reads any view of one of this file's storages (a record from {@link #tensors()}, or a narrower view of one, see
     * {@link TorchTensor#narrow}) into a new array; dtype rules as {@link TensorSource#read(String, NDManager,
     * DataType)}.
     *
     * @param name the name to use in messages
     * @param t the view
     * @param manager the owner of the result
     * @param target FLOAT32 or FLOAT16
     * @return a new array of the view's shape, owned by {@code manager}
     * @throws TorchSaveFormatException if the view does not lie inside a storage of this file, or its bytes are
     *     corrupt
     */
    public NDArray read(String name, TorchTensor t, NDManager manager, DataType target) {
        checkNotNull(manager, "manager");
        checkView(name, t);
        SafetensorsReader.checkTarget(target);
        channel.ensureOpen();
        DataType type = TensorCodec.loadType(t.dtype(), target);
        long numel = t.numel();
        checkSize(name, t, numel, type);
        int bytes = (int) (numel * type.getNumOfBytes());
        NDArray array = TensorArrays.create(manager, new Shape(t.shape()), type, bytes, dst -> {
            ByteBuffer src = rowMajorBytes(name, t);
            try {
                TensorCodec.decode(t.dtype(), src, type, dst);
            } catch (InternalError e) {
                throw mappedFault(name, t, e);
            }
            if (t.dtype() == SafetensorsDType.BOOL) {
                long bad = TensorCodec.firstNonBoolean(dst);
                if (bad >= 0) {
                    throw new TorchSaveFormatException(file, t.entry(), name, Reason.CORRUPT_DATA, "BOOL element "
                            + bad + " is byte " + (dst.get((int) bad) & 0xFF) + ": expected 0 or 1");
                }
            }
        });
        return TensorArrays.toTarget(array, target);
    }

    /**
     * Reads any view of one of this file's storages into floats; see {@link TensorSource#readFloats(String)}.
     *
     * @param name the name to use in messages
     * @param t the view
     * @return the view's values, row-major, widened exactly
     * @throws TorchSaveFormatException if the view does not lie inside a storage of this file, is not
     *     floating-point, or its bytes are corrupt
     */
    public float[] readFloats(String name, TorchTensor t) {
        checkView(name, t);
        if (!t.dtype().isFloatingPoint()) {
            throw new TorchSaveFormatException(file, t.entry(), name, Reason.NO_SUCH_TENSOR, "readFloats needs a "
                    + "floating-point dtype (F64, F32, F16, BF16), actual " + t.dtype());
        }
        channel.ensureOpen();
        long numel = t.numel();
        checkSize(name, t, numel, DataType.FLOAT32);
        ByteBuffer src = rowMajorBytes(name, t);
        try {
            return TensorCodec.decodeFloats(t.dtype(), src, (int) numel);
        } catch (InternalError e) {
            throw mappedFault(name, t, e);
        }
    }

    /** A view handed in from outside must lie inside a storage of this archive with the storage's true size. */
    private void checkView(String name, TorchTensor t) {
        checkNotNull(t, "tensor");
        ZipArchive.Entry e = archive.entries().get(t.entry());
        boolean ok = e != null && t.entry().equals(archiveName + "/data/" + t.storageKey())
                && e.size() == t.storageNumel() * t.dtype().byteSize();
        if (ok) {
            try {
                ok = t.endElement() <= t.storageNumel() && t.storageOffset() <= t.storageNumel();
            } catch (ArithmeticException overflow) {
                ok = false;
            }
        }
        if (!ok) {
            throw new TorchSaveFormatException(file, t.entry(), name, Reason.OUT_OF_BOUNDS, t
                    + " is not a view inside a storage of this file");
        }
    }

    private void checkSize(String name, TorchTensor t, long numel, DataType type) {
        int es = t.dtype().byteSize();
        long stored = numel > Long.MAX_VALUE / es ? Long.MAX_VALUE : numel * es; // expanded views may be huge
        String problem = TensorArrays.sizeProblem(stored, numel, t.shape(), type);
        if (problem != null) {
            throw new TorchSaveFormatException(file, t.entry(), name, Reason.LIMIT_EXCEEDED, problem);
        }
        long storageBytes = t.storageNumel() * es;
        if (stored > maxExpandedBytes(storageBytes)) {
            throw new TorchSaveFormatException(file, t.entry(), name, Reason.LIMIT_EXCEEDED, "the view " + t
                    + " expands its " + storageBytes + "-byte storage to " + stored + " bytes (stride 0 or overlapping "
                    + "strides); at most " + maxExpandedBytes(storageBytes) + " bytes (" + MAX_EXPANSION
                    + " x the storage, or " + (MIN_EXPANSION_LIMIT >> 20) + " MiB) may be read from it");
        }
    }

    /**
     * The most bytes a view may produce from a storage of {@code storageBytes}: an expanded (stride-0 or overlapping)
     * view makes a few bytes of the file into any number of elements, a decompression bomb without compression.
     */
    static long maxExpandedBytes(long storageBytes) {
        return storageBytes > Long.MAX_VALUE / MAX_EXPANSION ? Long.MAX_VALUE
                : Math.max(MIN_EXPANSION_LIMIT, storageBytes * MAX_EXPANSION);
    }

    /** The view's elements as little-endian bytes in row-major order, position 0. */
    private ByteBuffer rowMajorBytes(String name, TorchTensor t) {
        ZipArchive.Entry e = archive.entries().get(t.entry());
        if (e == null) {
            throw new IllegalArgumentException(t + " is not a tensor of " + file);
        }
        if (verifiedStorages.add(e.name())) {
            try {
                archive.verify(e);
            } catch (RuntimeException ex) {
                verifiedStorages.remove(e.name());
                throw ex;
            }
        }
        int es = t.dtype().byteSize();
        long numel = t.numel();
        if (numel == 0) {
            return ByteBuffer.allocate(0).order(ByteOrder.LITTLE_ENDIAN);
        }
        long first = t.storageOffset();
        long end = t.endElement();
        if (t.isContiguous()) {
            return archive.range(e, first * es, (int) (numel * es), MAP_THRESHOLD);
        }
        long spanBytes = (end - first) * es;
        if (spanBytes > Integer.MAX_VALUE) {
            throw new TorchSaveFormatException(file, t.entry(), name, Reason.LIMIT_EXCEEDED, "strided view spans "
                    + spanBytes + " bytes of its storage, more than one buffer (" + Integer.MAX_VALUE + ")");
        }
        ByteBuffer span = archive.range(e, first * es, (int) spanBytes, MAP_THRESHOLD);
        return gather(span, t, es);
    }

    /** Copies a strided view (offsets relative to {@code span}) into a row-major buffer. */
    private static ByteBuffer gather(ByteBuffer span, TorchTensor t, int es) {
        long[] shape = t.shape();
        long[] stride = t.stride();
        int rank = shape.length;
        int numel = (int) t.numel();
        ByteBuffer out = ByteBuffer.allocate(numel * es).order(ByteOrder.LITTLE_ENDIAN);
        byte[] element = new byte[es];
        long innerSize = shape[rank - 1];
        long innerStride = stride[rank - 1];
        long[] index = new long[rank];
        long base = 0; // element offset of index[0..rank-2], 0 for the last dimension
        ByteBuffer src = span.duplicate();
        for (long row = 0, rows = numel / innerSize; row < rows; row++) {
            if (innerStride == 1) {
                src.limit((int) ((base + innerSize) * es)).position((int) (base * es));
                out.put(src);
                src.limit(src.capacity());
            } else {
                for (long k = 0; k < innerSize; k++) {
                    src.position((int) ((base + k * innerStride) * es));
                    src.get(element);
                    out.put(element);
                }
            }
            // advance the outer index (odometer over dims 0..rank-2)
            for (int d = rank - 2; d >= 0; d--) {
                index[d]++;
                base += stride[d];
                if (index[d] < shape[d]) {
                    break;
                }
                base -= stride[d] * index[d];
                index[d] = 0;
            }
        }
        out.flip();
        return out;
    }

    private UncheckedIOException mappedFault(String name, TorchTensor t, InternalError e) {
        return new UncheckedIOException(new IOException(file + ", entry '" + t.entry() + "', tensor '" + name
                + "': fault while reading the mapped file (was it modified while open?)", e));
    }

    // ------------------------------------------------------------------------------------------------ flattening

    /** Paths of every leaf, bounded by {@link #MAX_LEAVES} (a shared sub-tree is listed once per path). */
    private Map<String, Object> flatten(Object value) {
        // count first, once per distinct container, so that a blow-up of shared references is refused at once
        long leaves = countLeaves(value, new java.util.IdentityHashMap<>());
        if (leaves > MAX_LEAVES) {
            throw new TorchSaveFormatException(file, archiveName + "/data.pkl", null, Reason.LIMIT_EXCEEDED,
                    "more than " + MAX_LEAVES + " leaves when the structure is listed by path (shared references "
                    + "expand to " + (leaves > MAX_LEAVES + 1L ? "far more" : "more") + ")");
        }
        Map<String, Object> out = new LinkedHashMap<>();
        walk("", value, out);
        return out;
    }

    /** Leaves below {@code value} as paths count them, saturated just above {@link #MAX_LEAVES}. */
    private static long countLeaves(Object value, java.util.IdentityHashMap<Object, Long> memo) {
        boolean container = (value instanceof Map<?, ?> m && !m.isEmpty()) || (value instanceof List<?> l
                && !l.isEmpty());
        if (!container) {
            return 1;
        }
        Long known = memo.get(value);
        if (known != null) {
            return known;
        }
        long n = 0;
        Iterable<?> items = value instanceof Map<?, ?> m ? m.values() : (List<?>) value;
        for (Object item : items) {
            n = Math.min(n + countLeaves(item, memo), MAX_LEAVES + 2L);
        }
        memo.put(value, n);
        return n;
    }

    private void walk(String path, Object value, Map<String, Object> out) {
        if (value instanceof Map<?, ?> m && !m.isEmpty()) {
            for (Map.Entry<?, ?> e : m.entrySet()) {
                walk(join(path, keyText(e.getKey())), e.getValue(), out);
            }
        } else if (value instanceof List<?> l && !l.isEmpty()) {
            for (int i = 0; i < l.size(); i++) {
                walk(join(path, Integer.toString(i)), l.get(i), out);
            }
        } else {
            if (out.size() >= MAX_LEAVES) {
                throw new TorchSaveFormatException(file, archiveName + "/data.pkl", null, Reason.LIMIT_EXCEEDED,
                        "more than " + MAX_LEAVES + " leaves when the structure is listed by path");
            }
            if (out.containsKey(path)) {
                throw new TorchSaveFormatException(file, archiveName + "/data.pkl", null, Reason.MALFORMED_PICKLE,
                        "two entries share the path '" + path + "' (keys containing dots?)");
            }
            out.put(path, value);
        }
    }

    private static String join(String path, String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    private static String keyText(Object key) {
        if (key instanceof List<?> l) {
            StringBuilder sb = new StringBuilder("(");
            for (int i = 0; i < l.size(); i++) {
                sb.append(i == 0 ? "" : ", ").append(keyText(l.get(i)));
            }
            return sb.append(l.size() == 1 ? ",)" : ")").toString();
        }
        return key == null ? "None" : key instanceof Boolean b ? (b ? "True" : "False") : String.valueOf(key);
    }

    /** A named subset of the reader's tensors. */
    private final class View implements TensorSource {
        private final Map<String, TorchTensor> tensors;
        private final String path;

        View(Map<String, TorchTensor> tensors, String path) {
            this.tensors = tensors;
            this.path = path;
        }

        private TorchTensor get(String name) {
            TorchTensor t = name == null ? null : tensors.get(name);
            if (t == null) {
                throw new TorchSaveFormatException(file, null, name, Reason.NO_SUCH_TENSOR, "no such tensor under '"
                        + path + "' (it has " + tensors.size() + " tensors"
                        + SafetensorsReader.sampleNames(tensors.keySet()) + ")");
            }
            return t;
        }

        @Override
        public Set<String> names() {
            return tensors.keySet();
        }

        @Override
        public boolean contains(String name) {
            return tensors.containsKey(name);
        }

        @Override
        public TensorInfo info(String name) {
            return infoOf(name, get(name));
        }

        @Override
        public Map<String, String> metadata() {
            return metadata;
        }

        @Override
        public NDArray read(String name, NDManager manager, DataType target) {
            return TorchSaveReader.this.read(name, get(name), manager, target);
        }

        @Override
        public float[] readFloats(String name) {
            return TorchSaveReader.this.readFloats(name, get(name));
        }

        @Override
        public void close() {
            // the reader owns the file
        }
    }
}
