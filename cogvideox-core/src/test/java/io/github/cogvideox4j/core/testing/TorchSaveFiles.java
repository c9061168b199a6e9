package io.github.cogvideox4j.core.testing;

import io.github.cogvideox4j.core.io.SafetensorsDType;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * Writes {@code torch.save}-format files for tests, without Python: a pickle emitter ({@link Pickle}) for
 * well-formed and hostile streams, and a zip writer for the archive ({@code <name>/data.pkl},
 * {@code <name>/data/<key>}, {@code <name>/byteorder}, {@code <name>/version}). {@link #writeTree} writes a nested
 * structure of dicts, lists, strings, ints and {@link Tensor}s the way {@code torch.save} pickles them.
 */
public final class TorchSaveFiles {
    private TorchSaveFiles() {}

    /** A tensor to write: a view over storage {@code key}. */
    public record Tensor(String key, SafetensorsDType dtype, long offset, long[] shape, long[] stride) {
        /** @return a contiguous view of the whole of storage {@code key} */
        public static Tensor contiguous(String key, SafetensorsDType dtype, long... shape) {
            long[] stride = new long[shape.length];
            long s = 1;
            for (int i = shape.length - 1; i >= 0; i--) {
                stride[i] = s;
                s *= shape[i];
            }
            return new Tensor(key, dtype, 0, shape, stride);
        }
    }

    /** Raw opcodes spliced into a tree. */
    public record Raw(byte[] bytes) {}

    /** A small pickle emitter: each method appends one opcode with its argument. */
    public static final class Pickle {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        public Pickle proto(int p) {
            return op(0x80).u8(p);
        }

        public Pickle op(int op) {
            out.write(op);
            return this;
        }

        public Pickle bytes(byte[] b) {
            out.write(b, 0, b.length);
            return this;
        }

        public Pickle u8(int v) {
            out.write(v);
            return this;
        }

        public Pickle i32(int v) {
            return bytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array());
        }

        public Pickle mark() {
            return op('(');
        }

        public Pickle stop() {
            return op('.');
        }

        public Pickle str(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            return op('X').i32(b.length).bytes(b);
        }

        public Pickle integer(long v) {
            if (v >= 0 && v < 256) {
                return op('K').u8((int) v);
            }
            if (v >= 0 && v < 65536) {
                return op('M').u8((int) (v & 0xFF)).u8((int) (v >> 8));
            }
            if (v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE) {
                return op('J').i32((int) v);
            }
            byte[] be = java.math.BigInteger.valueOf(v).toByteArray();
            op(0x8a).u8(be.length);
            for (int i = be.length - 1; i >= 0; i--) {
                out.write(be[i]);
            }
            return this;
        }

        public Pickle global(String module, String name) {
            return op('c').bytes((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
        }

        public Pickle binput(int i) {
            return op('q').u8(i);
        }

        public Pickle binget(int i) {
            return op('h').u8(i);
        }

        /** A tensor as torch.save pickles it: _rebuild_tensor_v2((storage pid), offset, size, stride, False, {}). */
        public Pickle tensor(Tensor t, long storageNumel) {
            global("torch._utils", "_rebuild_tensor_v2").mark();
            mark().str("storage").global("torch", storageClass(t.dtype())).str(t.key()).str("cpu")
                    .integer(storageNumel).op('t').op('Q');
            integer(t.offset());
            mark();
            for (long d : t.shape()) {
                integer(d);
            }
            op('t').mark();
            for (long s : t.stride()) {
                integer(s);
            }
            op('t').op(0x89).global("collections", "OrderedDict").op(')').op('R');
            return op('t').op('R');
        }

        public byte[] toByteArray() {
            return out.toByteArray();
        }
    }

    /** @return the torch storage class of a dtype, e.g. {@code BFloat16Storage} */
    public static String storageClass(SafetensorsDType dtype) {
        return switch (dtype) {
            case F64 -> "DoubleStorage";
            case F32 -> "FloatStorage";
            case F16 -> "HalfStorage";
            case BF16 -> "BFloat16Storage";
            case I64 -> "LongStorage";
            case I32 -> "IntStorage";
            case I16 -> "ShortStorage";
            case I8 -> "CharStorage";
            case U8 -> "ByteStorage";
            case BOOL -> "BoolStorage";
        };
    }

    /**
     * Writes a pickle of {@code tree} (Maps, Lists, Strings, Longs/Integers, Booleans, null, Doubles, {@link Tensor}s,
     * {@link Raw}) and the storages.
     *
     * @param storages storage key to its raw little-endian bytes
     */
    public static Path writeTree(Path file, Object tree, Map<String, byte[]> storages) throws IOException {
        Map<String, Long> numel = new LinkedHashMap<>();
        Pickle p = new Pickle().proto(2);
        emit(p, tree, storages, numel);
        p.stop();
        return writeArchive(file, "archive", p.toByteArray(), storages);
    }

    private static void emit(Pickle p, Object v, Map<String, byte[]> storages, Map<String, Long> numel) {
        if (v instanceof Map<?, ?> m) {
            p.op('}');
            if (!m.isEmpty()) {
                p.mark();
                for (Map.Entry<?, ?> e : m.entrySet()) {
                    emit(p, e.getKey(), storages, numel);
                    emit(p, e.getValue(), storages, numel);
                }
                p.op('u');
            }
        } else if (v instanceof List<?> l) {
            p.op(']');
            if (!l.isEmpty()) {
                p.mark();
                for (Object o : l) {
                    emit(p, o, storages, numel);
                }
                p.op('e');
            }
        } else if (v instanceof String s) {
            p.str(s);
        } else if (v instanceof Long || v instanceof Integer) {
            p.integer(((Number) v).longValue());
        } else if (v instanceof Boolean b) {
            p.op(b ? 0x88 : 0x89);
        } else if (v == null) {
            p.op('N');
        } else if (v instanceof Double d) {
            p.op('G').bytes(ByteBuffer.allocate(8).order(ByteOrder.BIG_ENDIAN).putDouble(d).array());
        } else if (v instanceof Tensor t) {
            byte[] bytes = storages.get(t.key());
            long n = bytes == null ? 0 : bytes.length / t.dtype().byteSize();
            p.tensor(t, n);
        } else if (v instanceof Raw r) {
            p.bytes(r.bytes());
        } else {
            throw new IllegalArgumentException("cannot pickle " + v.getClass());
        }
    }

    /** Writes a stored zip archive in torch.save's layout. */
    public static Path writeArchive(Path file, String name, byte[] pickle, Map<String, byte[]> storages)
            throws IOException {
        Map<String, byte[]> entries = new LinkedHashMap<>();
        entries.put(name + "/data.pkl", pickle);
        entries.put(name + "/byteorder", "little".getBytes(StandardCharsets.US_ASCII));
        storages.forEach((k, v) -> entries.put(name + "/data/" + k, v));
        entries.put(name + "/version", "3\n".getBytes(StandardCharsets.US_ASCII));
        return writeZip(file, entries, false);
    }

    /** Writes a zip of the given entries, stored or deflated. */
    public static Path writeZip(Path file, Map<String, byte[]> entries, boolean deflate) throws IOException {
        try (OutputStream os = Files.newOutputStream(file); ZipOutputStream zip = new ZipOutputStream(os)) {
            for (Map.Entry<String, byte[]> e : entries.entrySet()) {
                ZipEntry z = new ZipEntry(e.getKey());
                byte[] b = e.getValue();
                if (deflate) {
                    z.setMethod(ZipEntry.DEFLATED);
                } else {
                    CRC32 crc = new CRC32();
                    crc.update(b);
                    z.setMethod(ZipEntry.STORED);
                    z.setSize(b.length);
                    z.setCompressedSize(b.length);
                    z.setCrc(crc.getValue());
                }
                zip.putNextEntry(z);
                zip.write(b);
                zip.closeEntry();
            }
        }
        return file;
    }

    /** @return little-endian F32 bytes */
    public static byte[] f32(float... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        return b.array();
    }
}
