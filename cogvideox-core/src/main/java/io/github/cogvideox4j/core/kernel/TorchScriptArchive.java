package io.github.cogvideox4j.core.kernel;

import static com.google.common.base.Preconditions.checkArgument;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * Writes a minimal TorchScript module archive (the {@code .pt} zip that {@code torch.jit.load} reads) for a
 * module class with no parameters, buffers or attributes other than {@code training}. libtorch compiles the
 * class from the source text of {@code archive/code/__torch__.py} when it loads the archive, so no Python is
 * needed anywhere (docs/djl-engine.md §5).
 *
 * <p>The archive holds four STORED (uncompressed) entries:
 * <ul>
 *   <li>{@code archive/data.pkl} — a protocol-2 pickle of the module object {@code {training: True}};</li>
 *   <li>{@code archive/constants.pkl} — an empty tuple;</li>
 *   <li>{@code archive/version} — {@code "10\n"}: an old version (e.g. 3) makes libtorch apply load-time
 *       upgraders that rewrite {@code gelu} to its old schema without {@code approximate=};</li>
 *   <li>{@code archive/code/__torch__.py} — the class source in the serialized TorchScript dialect
 *       (dtypes as ints, {@code annotate(...)} instead of {@code torch.jit.annotate}).</li>
 * </ul>
 *
 * <p>Thread safety: stateless; safe from any thread.
 */
final class TorchScriptArchive {
    /** The archive format version libtorch 2.7 expects for current operator schemas. */
    static final String VERSION = "10\n";

    private TorchScriptArchive() {}

    /**
     * Builds the archive bytes.
     *
     * @param className the module class name, a Python identifier (qualified as {@code __torch__.<className>})
     * @param classSource the complete source of {@code archive/code/__torch__.py}, defining {@code className}
     * @return the zip archive, ready for {@code torch::jit::load}
     * @throws IllegalArgumentException if {@code className} is not an identifier or is longer than 255 chars
     */
    static byte[] build(String className, String classSource) {
        checkArgument(
                className.matches("[A-Za-z_][A-Za-z0-9_]{0,254}"),
                "TorchScript class name must be a Python identifier, got '%s'",
                className);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(4096);
        try (ZipOutputStream zip = new ZipOutputStream(bytes, StandardCharsets.UTF_8)) {
            putStored(zip, "archive/data.pkl", modulePickle(className));
            putStored(zip, "archive/constants.pkl", new byte[] {(byte) 0x80, 0x02, ')', '.'});
            putStored(zip, "archive/version", VERSION.getBytes(StandardCharsets.US_ASCII));
            putStored(zip, "archive/code/__torch__.py", classSource.getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            // A ByteArrayOutputStream does not fail; this would be a JDK bug.
            throw new UncheckedIOException("writing an in-memory TorchScript archive failed", e);
        }
        return bytes.toByteArray();
    }

    /**
     * The protocol-2 pickle of an instance of {@code __torch__.<className>} whose state is
     * {@code {"training": True}}: PROTO 2, GLOBAL, EMPTY_TUPLE, NEWOBJ, EMPTY_DICT, BINUNICODE "training",
     * NEWTRUE, SETITEM, BUILD, STOP.
     */
    static byte[] modulePickle(String className) {
        ByteArrayOutputStream p = new ByteArrayOutputStream(64);
        p.write(0x80); // PROTO
        p.write(0x02);
        p.write('c'); // GLOBAL module\nname\n
        p.writeBytes("__torch__\n".getBytes(StandardCharsets.US_ASCII));
        p.writeBytes((className + "\n").getBytes(StandardCharsets.US_ASCII));
        p.write(')'); // EMPTY_TUPLE
        p.write(0x81); // NEWOBJ
        p.write('}'); // EMPTY_DICT
        byte[] key = "training".getBytes(StandardCharsets.US_ASCII);
        p.write('X'); // BINUNICODE, 4-byte little-endian length
        p.write(key.length);
        p.write(0);
        p.write(0);
        p.write(0);
        p.writeBytes(key);
        p.write(0x88); // NEWTRUE
        p.write('s'); // SETITEM
        p.write('b'); // BUILD
        p.write('.'); // STOP
        return p.toByteArray();
    }

    private static void putStored(ZipOutputStream zip, String name, byte[] data) throws IOException {
        CRC32 crc = new CRC32();
        crc.update(data);
        ZipEntry entry = new ZipEntry(name);
        entry.setMethod(ZipEntry.STORED);
        entry.setSize(data.length);
        entry.setCompressedSize(data.length);
        entry.setCrc(crc.getValue());
        zip.putNextEntry(entry);
        zip.write(data);
        zip.closeEntry();
    }
}
