package io.github.cogvideox4j.core.io;

import io.github.cogvideox4j.core.io.TorchSaveFormatException.Reason;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * The zip container of a {@code torch.save} file, read defensively: the end-of-central-directory record (and its
 * ZIP64 form, which PyTorch always writes), the central directory, and every local header. Package-private.
 *
 * <p>Rules, each breach a {@link TorchSaveFormatException}: a single-disk archive; the central directory ends where
 * its end record begins and is at most {@value #MAX_CENTRAL_DIRECTORY} bytes; names are strict UTF-8 and unique;
 * no encryption; methods stored (0) or deflate (8); a stored entry's two sizes agree; each local header carries
 * its central name and method; entries lie inside the file, before the central directory, and do not overlap (the
 * overlapping-entries zip bomb). Bytes are only ever read inside an entry's own range: nothing is read past the
 * archive. A deflated entry is inflated into a buffer that grows with the real output and stops at its declared
 * size, which may not exceed {@value #MAX_INFLATED} bytes nor deflate's maximum ratio over the compressed size;
 * producing more or fewer bytes than declared is an error. CRC-32 checks are available for every entry.
 *
 * <p>Thread safety: immutable after {@link #read}; reads may run concurrently (the channel handles that).
 */
final class ZipArchive {
    /** The largest central directory read into memory. */
    static final int MAX_CENTRAL_DIRECTORY = 64 << 20;
    /** The largest uncompressed size a deflated entry may declare (torch.save never compresses). */
    static final long MAX_INFLATED = 1L << 30;
    /** Deflate cannot expand more than about 1032:1; an entry declaring more is lying. */
    private static final long MAX_DEFLATE_RATIO = 1032;

    private static final int EOCD_SIG = 0x06054b50;
    private static final int ZIP64_LOCATOR_SIG = 0x07064b50;
    private static final int ZIP64_EOCD_SIG = 0x06064b50;
    private static final int CENTRAL_SIG = 0x02014b50;
    private static final int LOCAL_SIG = 0x04034b50;

    /** One entry: where its (possibly compressed) bytes lie, and their declared sizes. */
    record Entry(String name, int method, long crc, long compressedSize, long size, long headerOffset,
            long dataOffset) {
        boolean stored() {
            return method == 0;
        }
    }

    private final Path file;
    private final ReopeningChannel channel;
    private final Map<String, Entry> entries;

    private ZipArchive(Path file, ReopeningChannel channel, Map<String, Entry> entries) {
        this.file = file;
        this.channel = channel;
        this.entries = entries;
    }

    /** @return the entries by name, in central-directory order (unmodifiable) */
    Map<String, Entry> entries() {
        return entries;
    }

    /**
     * Parses and validates the archive structure.
     *
     * @throws TorchSaveFormatException if a rule of the class comment is broken
     * @throws IOException if reading fails
     */
    static ZipArchive read(Path file, ReopeningChannel channel) throws IOException {
        long size = channel.size();
        if (size < 22) {
            throw fail(file, null, Reason.NOT_AN_ARCHIVE, "file is " + size + " bytes long, shorter than a zip end "
                    + "record (22 bytes)");
        }
        ByteBuffer head = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        channel.readFullyChecked(head, 0);
        int magic = head.getInt(0);
        if (magic != LOCAL_SIG) {
            throw fail(file, null, Reason.NOT_AN_ARCHIVE, String.format("starts with bytes %08x, not a zip local "
                    + "header (torch.save writes zip archives since PyTorch 1.6; files in the older format must be "
                    + "re-saved)", Integer.reverseBytes(magic)));
        }
        // End of central directory: the last 22 + comment bytes.
        int tailLength = (int) Math.min(size, 22 + 0xFFFF);
        ByteBuffer tail = ByteBuffer.allocate(tailLength).order(ByteOrder.LITTLE_ENDIAN);
        channel.readFullyChecked(tail, size - tailLength);
        int eocd = -1;
        for (int p = tailLength - 22; p >= 0; p--) {
            if (tail.getInt(p) == EOCD_SIG && p + 22 + (tail.getShort(p + 20) & 0xFFFF) == tailLength) {
                eocd = p;
                break;
            }
        }
        if (eocd < 0) {
            throw fail(file, null, Reason.MALFORMED_ARCHIVE, "no end-of-central-directory record (truncated file?)");
        }
        long eocdPos = size - tailLength + eocd;
        int disk = tail.getShort(eocd + 4) & 0xFFFF;
        int cdDisk = tail.getShort(eocd + 6) & 0xFFFF;
        long diskEntries = tail.getShort(eocd + 8) & 0xFFFF;
        long count = tail.getShort(eocd + 10) & 0xFFFF;
        long cdSize = tail.getInt(eocd + 12) & 0xFFFFFFFFL;
        long cdOffset = tail.getInt(eocd + 16) & 0xFFFFFFFFL;
        long cdEnd = eocdPos;
        boolean saturated = count == 0xFFFF || diskEntries == 0xFFFF || cdSize == 0xFFFFFFFFL
                || cdOffset == 0xFFFFFFFFL || disk == 0xFFFF || cdDisk == 0xFFFF;
        ByteBuffer locator = ByteBuffer.allocate(20).order(ByteOrder.LITTLE_ENDIAN);
        boolean zip64 = false;
        if (eocdPos >= 20 + 56) {
            channel.readFullyChecked(locator, eocdPos - 20);
            zip64 = locator.getInt(0) == ZIP64_LOCATOR_SIG;
        }
        if (saturated && !zip64) {
            throw fail(file, null, Reason.MALFORMED_ARCHIVE, "ZIP64 markers but no ZIP64 locator");
        }
        if (zip64) {
            // PyTorch writes the ZIP64 records whatever the size; their values are the authoritative ones.
            long recordPos = locator.getLong(8);
            if (locator.getInt(4) != 0 || locator.getInt(16) != 1) {
                throw fail(file, null, Reason.UNSUPPORTED, "multi-disk archive");
            }
            if (recordPos < 0 || recordPos > eocdPos - 20 - 56) {
                throw fail(file, null, Reason.MALFORMED_ARCHIVE, "ZIP64 record offset " + recordPos
                        + " outside [0, " + (eocdPos - 20 - 56) + "]");
            }
            ByteBuffer record = ByteBuffer.allocate(56).order(ByteOrder.LITTLE_ENDIAN);
            channel.readFullyChecked(record, recordPos);
            if (record.getInt(0) != ZIP64_EOCD_SIG) {
                throw fail(file, null, Reason.MALFORMED_ARCHIVE, "no ZIP64 end record at " + recordPos);
            }
            disk = record.getInt(16);
            cdDisk = record.getInt(20);
            diskEntries = record.getLong(24);
            count = record.getLong(32);
            cdSize = record.getLong(40);
            cdOffset = record.getLong(48);
            cdEnd = recordPos;
        }
        if (disk != 0 || cdDisk != 0 || diskEntries != count) {
            throw fail(file, null, Reason.UNSUPPORTED, "multi-disk archive");
        }
        if (cdSize < 0 || cdOffset < 0 || cdOffset > cdEnd || cdSize != cdEnd - cdOffset) {
            throw fail(file, null, Reason.MALFORMED_ARCHIVE, "central directory [" + cdOffset + ", +" + cdSize
                    + ") does not end at its end record (byte " + cdEnd + ")");
        }
        if (cdSize > MAX_CENTRAL_DIRECTORY) {
            throw fail(file, null, Reason.LIMIT_EXCEEDED, "central directory of " + cdSize + " bytes, more than "
                    + MAX_CENTRAL_DIRECTORY);
        }
        if (count < 0 || count > cdSize / 46) {
            throw fail(file, null, Reason.MALFORMED_ARCHIVE, count + " entries cannot fit a central directory of "
                    + cdSize + " bytes");
        }
        ByteBuffer cd = ByteBuffer.allocate((int) cdSize).order(ByteOrder.LITTLE_ENDIAN);
        channel.readFullyChecked(cd, cdOffset);
        Map<String, Entry> entries = new LinkedHashMap<>();
        int p = 0;
        for (long i = 0; i < count; i++) {
            Entry e = centralEntry(file, cd, p, cdOffset);
            p += 46 + (cd.getShort(p + 28) & 0xFFFF) + (cd.getShort(p + 30) & 0xFFFF) + (cd.getShort(p + 32) & 0xFFFF);
            if (entries.put(e.name(), e) != null) {
                throw fail(file, e.name(), Reason.MALFORMED_ARCHIVE, "the archive holds this name twice");
            }
        }
        if (p != cdSize) {
            throw fail(file, null, Reason.MALFORMED_ARCHIVE, "central directory has " + (cdSize - p)
                    + " bytes after its " + count + " entries");
        }
        Map<String, Entry> located = new LinkedHashMap<>();
        for (Entry e : entries.values()) {
            located.put(e.name(), locate(file, channel, e, cdOffset));
        }
        List<Entry> byOffset = new ArrayList<>(located.values());
        byOffset.sort(Comparator.comparingLong(Entry::headerOffset));
        for (int k = 0; k + 1 < byOffset.size(); k++) {
            Entry a = byOffset.get(k);
            Entry b = byOffset.get(k + 1);
            if (a.dataOffset() + a.compressedSize() > b.headerOffset()) {
                throw fail(file, b.name(), Reason.MALFORMED_ARCHIVE, "overlaps entry '" + a.name() + "' (bytes ["
                        + a.headerOffset() + ", " + (a.dataOffset() + a.compressedSize()) + ") and [" + b.headerOffset()
                        + ", ...))");
            }
        }
        return new ZipArchive(file, channel, Collections.unmodifiableMap(located));
    }

    private static Entry centralEntry(Path file, ByteBuffer cd, int p, long cdOffset) {
        if (p + 46 > cd.capacity() || cd.getInt(p) != CENTRAL_SIG) {
            throw fail(file, null, Reason.MALFORMED_ARCHIVE, "no central directory entry at byte " + (cdOffset + p));
        }
        int flags = cd.getShort(p + 8) & 0xFFFF;
        int method = cd.getShort(p + 10) & 0xFFFF;
        long crc = cd.getInt(p + 16) & 0xFFFFFFFFL;
        long csize = cd.getInt(p + 20) & 0xFFFFFFFFL;
        long usize = cd.getInt(p + 24) & 0xFFFFFFFFL;
        int nameLen = cd.getShort(p + 28) & 0xFFFF;
        int extraLen = cd.getShort(p + 30) & 0xFFFF;
        int commentLen = cd.getShort(p + 32) & 0xFFFF;
        int diskStart = cd.getShort(p + 34) & 0xFFFF;
        long lho = cd.getInt(p + 42) & 0xFFFFFFFFL;
        if (p + 46L + nameLen + extraLen + commentLen > cd.capacity()) {
            throw fail(file, null, Reason.MALFORMED_ARCHIVE, "central directory entry at byte " + (cdOffset + p)
                    + " runs past the directory");
        }
        String name = utf8(file, cd, p + 46, nameLen);
        // ZIP64 extended information: only the fields whose 32-bit value is saturated, in this order.
        int x = p + 46 + nameLen;
        int xEnd = x + extraLen;
        while (x + 4 <= xEnd) {
            int id = cd.getShort(x) & 0xFFFF;
            int len = cd.getShort(x + 2) & 0xFFFF;
            if (x + 4 + len > xEnd) {
                throw fail(file, name, Reason.MALFORMED_ARCHIVE, "extra field runs past its entry");
            }
            if (id == 0x0001) {
                int q = x + 4;
                int end = q + len;
                if (usize == 0xFFFFFFFFL) {
                    usize = zip64Field(file, name, cd, q, end);
                    q += 8;
                }
                if (csize == 0xFFFFFFFFL) {
                    csize = zip64Field(file, name, cd, q, end);
                    q += 8;
                }
                if (lho == 0xFFFFFFFFL) {
                    lho = zip64Field(file, name, cd, q, end);
                    q += 8;
                }
                if (diskStart == 0xFFFF) {
                    if (q + 4 > end) {
                        throw fail(file, name, Reason.MALFORMED_ARCHIVE, "ZIP64 extra field too short");
                    }
                    diskStart = cd.getInt(q);
                }
            }
            x += 4 + len;
        }
        if ((flags & 0x41) != 0) {
            throw fail(file, name, Reason.UNSUPPORTED, "encrypted entry");
        }
        if (method != 0 && method != 8) {
            throw fail(file, name, Reason.UNSUPPORTED, "compression method " + method + " (expected 0, stored, or "
                    + "8, deflate)");
        }
        if (diskStart != 0) {
            throw fail(file, name, Reason.UNSUPPORTED, "entry on disk " + diskStart);
        }
        if (csize < 0 || usize < 0 || lho < 0) {
            throw fail(file, name, Reason.MALFORMED_ARCHIVE, "sizes or offset beyond 2^63");
        }
        if (method == 0 && csize != usize) {
            throw fail(file, name, Reason.MALFORMED_ARCHIVE, "stored entry with compressed size " + csize
                    + " != size " + usize);
        }
        return new Entry(name, method, crc, csize, usize, lho, -1);
    }

    private static long zip64Field(Path file, String name, ByteBuffer cd, int q, int end) {
        if (q + 8 > end) {
            throw fail(file, name, Reason.MALFORMED_ARCHIVE, "ZIP64 extra field too short");
        }
        return cd.getLong(q);
    }

    /** Reads the local header of an entry and checks it against the central directory. */
    private static Entry locate(Path file, ReopeningChannel channel, Entry e, long cdOffset) throws IOException {
        if (e.headerOffset() > cdOffset - 30) {
            throw fail(file, e.name(), Reason.MALFORMED_ARCHIVE, "local header offset " + e.headerOffset()
                    + " outside the entries area [0, " + cdOffset + ")");
        }
        byte[] nameBytes = e.name().getBytes(StandardCharsets.UTF_8);
        ByteBuffer local = ByteBuffer.allocate(30).order(ByteOrder.LITTLE_ENDIAN);
        channel.readFullyChecked(local, e.headerOffset());
        if (local.getInt(0) != LOCAL_SIG) {
            throw fail(file, e.name(), Reason.MALFORMED_ARCHIVE, "no local header at byte " + e.headerOffset());
        }
        int method = local.getShort(8) & 0xFFFF;
        int nameLen = local.getShort(26) & 0xFFFF;
        int extraLen = local.getShort(28) & 0xFFFF;
        if (method != e.method() || nameLen != nameBytes.length) {
            throw fail(file, e.name(), Reason.MALFORMED_ARCHIVE, "local header (method " + method + ", name length "
                    + nameLen + ") disagrees with the central directory (method " + e.method() + ", name length "
                    + nameBytes.length + ")");
        }
        long dataOffset = e.headerOffset() + 30 + nameLen + extraLen;
        if (dataOffset > cdOffset || e.compressedSize() > cdOffset - dataOffset) {
            throw fail(file, e.name(), Reason.MALFORMED_ARCHIVE, "data [" + dataOffset + ", +" + e.compressedSize()
                    + ") reaches past the entries area, which ends at byte " + cdOffset);
        }
        ByteBuffer localName = ByteBuffer.allocate(nameLen);
        channel.readFullyChecked(localName, e.headerOffset() + 30);
        if (!java.util.Arrays.equals(localName.array(), nameBytes)) {
            throw fail(file, e.name(), Reason.MALFORMED_ARCHIVE, "local header names another file");
        }
        return new Entry(e.name(), e.method(), e.crc(), e.compressedSize(), e.size(), e.headerOffset(), dataOffset);
    }

    /**
     * Reads a whole entry into memory and checks its CRC-32.
     *
     * @param limit the largest size accepted
     * @throws TorchSaveFormatException if the entry is larger than {@code limit}, does not inflate to its size, or
     *     fails its checksum
     */
    byte[] readAll(Entry e, long limit) {
        if (e.size() > limit) {
            throw fail(file, e.name(), Reason.LIMIT_EXCEEDED, "entry of " + e.size() + " bytes, more than the "
                    + limit + " this reader accepts");
        }
        byte[] bytes;
        if (e.stored()) {
            ByteBuffer b = ByteBuffer.allocate((int) e.size());
            channel.readFully(b, e.dataOffset(), "entry '" + e.name() + "'");
            bytes = b.array();
        } else {
            bytes = inflate(e);
        }
        checkCrc(e, ByteBuffer.wrap(bytes));
        return bytes;
    }

    /**
     * The bytes {@code [offset, offset + length)} of an entry, little-endian, position 0: mapped for a large range
     * of a stored entry, read into the heap for a small one, inflated (whole, bounded) for a deflated entry.
     */
    ByteBuffer range(Entry e, long offset, int length, int mapThreshold) {
        if (offset < 0 || length < 0 || offset > e.size() - length) {
            throw new IllegalArgumentException("range [" + offset + ", +" + length + ") outside entry " + e.name());
        }
        String what = "entry '" + e.name() + "'";
        if (!e.stored()) {
            return ByteBuffer.wrap(inflate(e), (int) offset, length).slice().order(ByteOrder.LITTLE_ENDIAN);
        }
        if (length <= mapThreshold) {
            ByteBuffer heap = ByteBuffer.allocate(length);
            channel.readFully(heap, e.dataOffset() + offset, what);
            heap.flip();
            return heap.order(ByteOrder.LITTLE_ENDIAN);
        }
        return channel.map(e.dataOffset() + offset, length, what).order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Verifies an entry's CRC-32 over its whole content (streamed through mapped windows for stored entries).
     *
     * @throws TorchSaveFormatException with {@link Reason#CORRUPT_DATA} on a mismatch
     */
    void verify(Entry e) {
        if (!e.stored()) {
            checkCrc(e, ByteBuffer.wrap(inflate(e)));
            return;
        }
        CRC32 crc = new CRC32();
        long done = 0;
        int window = 1 << 26;
        while (done < e.size()) {
            int n = (int) Math.min(window, e.size() - done);
            crc.update(range(e, done, n, 1 << 20));
            done += n;
        }
        if (crc.getValue() != e.crc()) {
            throw crcMismatch(e, crc.getValue());
        }
    }

    private void checkCrc(Entry e, ByteBuffer bytes) {
        CRC32 crc = new CRC32();
        crc.update(bytes.duplicate());
        if (crc.getValue() != e.crc()) {
            throw crcMismatch(e, crc.getValue());
        }
    }

    private TorchSaveFormatException crcMismatch(Entry e, long actual) {
        return fail(file, e.name(), Reason.CORRUPT_DATA, String.format("CRC-32 %08x, the directory says %08x "
                + "(damaged or modified file)", actual, e.crc()));
    }

    private byte[] inflate(Entry e) {
        if (e.size() > MAX_INFLATED) {
            throw fail(file, e.name(), Reason.LIMIT_EXCEEDED, "deflated entry declares " + e.size() + " bytes, more "
                    + "than the " + MAX_INFLATED + " this reader inflates");
        }
        if (e.size() > Math.max(1024, e.compressedSize() * MAX_DEFLATE_RATIO)) {
            throw fail(file, e.name(), Reason.MALFORMED_ARCHIVE, "deflated entry declares " + e.size() + " bytes "
                    + "from " + e.compressedSize() + ": beyond deflate's maximum ratio (a zip bomb?)");
        }
        int csize = (int) Math.min(e.compressedSize(), Integer.MAX_VALUE);
        if (csize != e.compressedSize()) {
            throw fail(file, e.name(), Reason.LIMIT_EXCEEDED, "compressed entry of " + e.compressedSize() + " bytes");
        }
        ByteBuffer input = range(new Entry(e.name(), 0, e.crc(), csize, csize, e.headerOffset(), e.dataOffset()), 0,
                csize, 1 << 20);
        Inflater inflater = new Inflater(true);
        try {
            inflater.setInput(input);
            int declared = (int) e.size();
            byte[] out = new byte[Math.min(declared, 1 << 16)];
            int n = 0;
            while (true) {
                if (n == out.length) {
                    if (n == declared) {
                        // full: the stream must end exactly here
                        byte[] probe = new byte[1];
                        if (inflater.inflate(probe) > 0) {
                            throw fail(file, e.name(), Reason.MALFORMED_ARCHIVE, "inflates to more than its declared "
                                    + declared + " bytes");
                        }
                        break;
                    }
                    out = java.util.Arrays.copyOf(out, (int) Math.min(declared, 2L * out.length));
                }
                int got = inflater.inflate(out, n, out.length - n);
                n += got;
                if (got == 0 && (inflater.finished() || inflater.needsInput() || inflater.needsDictionary())) {
                    break;
                }
            }
            if (n != declared || !inflater.finished()) {
                throw fail(file, e.name(), Reason.MALFORMED_ARCHIVE, "inflates to " + n + " bytes"
                        + (inflater.finished() ? "" : " (stream incomplete)") + ", declared " + declared);
            }
            return out;
        } catch (DataFormatException ex) {
            throw new TorchSaveFormatException(file, e.name(), null, Reason.MALFORMED_ARCHIVE, "bad deflate stream: "
                    + ex.getMessage(), ex);
        } finally {
            inflater.end();
        }
    }

    private static String utf8(Path file, ByteBuffer b, int offset, int length) {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(b.duplicate().position(offset).limit(offset + length)).toString();
        } catch (CharacterCodingException e) {
            throw new TorchSaveFormatException(file, null, null, Reason.MALFORMED_ARCHIVE, "entry name is not UTF-8",
                    e);
        }
    }

    static TorchSaveFormatException fail(Path file, String entry, Reason reason, String detail) {
        return new TorchSaveFormatException(file, entry, null, reason, detail);
    }
}
