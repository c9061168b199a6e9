package io.github.cogvideox4j.data.media;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.github.cogvideox4j.data.manifest.MediaType;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Probe results and content hashes persisted per file, so a 100k-video dataset is probed and hashed once.
 *
 * <p>Storage: a JSON-lines file, one object per probe or hash, appended (and flushed) as results come in; on
 * open the last line per path wins, a torn last line (a crash mid-write) is ignored. An entry is valid while the
 * file's absolute path, size and modification time (nanoseconds where the file system has them) are unchanged;
 * otherwise the file is probed (or hashed) again. Note that a rewrite that keeps both size and modification time
 * (e.g. {@code touch -r}) is not detected; hash with {@link ContentHash#sha256(Path)} directly where that matters.
 *
 * <p>Several processes at once (the ranks of a distributed {@code prepare}): each opens the shared store with
 * {@link #openWithJournal} and appends only to its own journal; one process folds the journals in afterwards with
 * {@link #mergeJournal}. The JSON-lines file is never appended to by two processes.
 *
 * <p>Thread safety: safe for concurrent use; two threads may probe the same new file at once (both results are
 * equal, the last one written wins).
 */
public final class ProbeCache implements MediaProber, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ProbeCache.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path store;
    private final MediaProber delegate;
    private final Map<Path, Entry> entries = new ConcurrentHashMap<>();
    private final AtomicLong probes = new AtomicLong();
    private final AtomicLong hashes = new AtomicLong();
    private final BufferedWriter writer;

    private record Entry(long size, long mtimeNanos, MediaInfo info, String sha256) {}

    private ProbeCache(Path store, MediaProber delegate, BufferedWriter writer) {
        this.store = store;
        this.delegate = delegate;
        this.writer = writer;
    }

    /**
     * Opens (or creates) a probe cache.
     *
     * @param store the JSON-lines file; its folder is created if needed
     * @param delegate the prober used on cache misses (usually {@link FfmpegMedia})
     * @return the cache; close it to close the file
     * @throws IOException if the file cannot be read or opened for appending
     */
    public static ProbeCache open(Path store, MediaProber delegate) throws IOException {
        Path abs = store.toAbsolutePath();
        return open(List.of(abs), abs, delegate);
    }

    /**
     * Opens a probe cache that reads a shared store but appends only to its own journal: one process of several
     * that probe into the same folder at once (one rank of a distributed {@code prepare}) never writes the file the
     * others read. The store and then the journal (the results of an earlier run of this process) are read here,
     * once; later lines of the store are not seen. Fold the journal into the store with {@link #mergeJournal} when
     * no process writes either.
     *
     * @param store the shared JSON-lines file (read only; need not exist)
     * @param journal this process's JSON-lines file; its folder is created if needed
     * @param delegate the prober used on cache misses
     * @return the cache; close it to close the journal
     * @throws IOException if a file cannot be read or the journal cannot be opened for appending
     */
    public static ProbeCache openWithJournal(Path store, Path journal, MediaProber delegate) throws IOException {
        Path abs = journal.toAbsolutePath();
        return open(List.of(store.toAbsolutePath(), abs), abs, delegate);
    }

    /**
     * Appends the complete lines of a journal ({@link #openWithJournal}) to the store and deletes the journal. Call
     * it only while no probe cache has either file open. A torn last line of the journal (its process was killed
     * mid-write) is dropped, and a torn last line of the store is ended first, so no line of the journal is joined
     * to it.
     *
     * @param store the shared JSON-lines file (created if missing)
     * @param journal the journal (nothing happens if it does not exist)
     * @return the number of lines appended
     * @throws IOException if a file cannot be read or written
     */
    public static int mergeJournal(Path store, Path journal) throws IOException {
        if (!Files.exists(journal)) {
            return 0;
        }
        String text = Files.readString(journal, StandardCharsets.UTF_8);
        String complete = text.substring(0, text.lastIndexOf('\n') + 1);
        if (!complete.isEmpty()) {
            Files.createDirectories(store.toAbsolutePath().getParent());
            boolean endsLine = !Files.exists(store) || Files.size(store) == 0 || lastByte(store) == '\n';
            Files.writeString(store, endsLine ? complete : "\n" + complete, StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND, StandardOpenOption.WRITE);
        }
        Files.delete(journal);
        return (int) complete.chars().filter(c -> c == '\n').count();
    }

    private static ProbeCache open(List<Path> readFrom, Path appendTo, MediaProber delegate) throws IOException {
        Objects.requireNonNull(delegate, "delegate");
        Files.createDirectories(appendTo.getParent());
        ProbeCache cache = new ProbeCache(appendTo, delegate, appender(appendTo));
        for (Path file : readFrom) {
            if (Files.exists(file)) {
                List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
                for (int i = 0; i < lines.size(); i++) {
                    cache.load(file, lines.get(i), i + 1);
                }
            }
        }
        return cache;
    }

    private static int lastByte(Path file) throws IOException {
        try (SeekableByteChannel ch = Files.newByteChannel(file)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            ch.position(ch.size() - 1).read(b);
            return b.get(0);
        }
    }

    /** {@inheritDoc} Served from the store when the file is unchanged. */
    @Override
    public MediaInfo probe(Path file) throws IOException {
        Path abs = file.toAbsolutePath().normalize();
        BasicFileAttributes attrs = Files.readAttributes(abs, BasicFileAttributes.class);
        long size = attrs.size();
        long mtime = attrs.lastModifiedTime().to(TimeUnit.NANOSECONDS);
        Entry e = entries.get(abs);
        if (e != null && e.size == size && e.mtimeNanos == mtime && e.info != null) {
            return e.info;
        }
        MediaInfo info = delegate.probe(abs);
        probes.incrementAndGet();
        String hash = e != null && e.size == size && e.mtimeNanos == mtime ? e.sha256 : null;
        put(abs, new Entry(size, mtime, info, hash));
        return info;
    }

    /**
     * The SHA-256 of a file's content, from the store when the file is unchanged.
     *
     * @param file the file
     * @return 64 hex digits
     * @throws IOException if the file cannot be read
     */
    public String contentHash(Path file) throws IOException {
        Path abs = file.toAbsolutePath().normalize();
        BasicFileAttributes attrs = Files.readAttributes(abs, BasicFileAttributes.class);
        long size = attrs.size();
        long mtime = attrs.lastModifiedTime().to(TimeUnit.NANOSECONDS);
        Entry e = entries.get(abs);
        if (e != null && e.size == size && e.mtimeNanos == mtime && e.sha256 != null) {
            return e.sha256;
        }
        String hash = ContentHash.sha256(abs);
        hashes.incrementAndGet();
        MediaInfo info = e != null && e.size == size && e.mtimeNanos == mtime ? e.info : null;
        put(abs, new Entry(size, mtime, info, hash));
        return hash;
    }

    /** @return number of files with a stored probe or hash */
    public int size() {
        return entries.size();
    }

    /** @return probes delegated since this cache was opened (cache misses) */
    public long probesRun() {
        return probes.get();
    }

    /** @return hashes computed since this cache was opened (cache misses) */
    public long hashesRun() {
        return hashes.get();
    }

    /** @return the JSON-lines file this cache appends to (the store, or the journal) */
    public Path store() {
        return store;
    }

    /** Closes the store file. Probing after close fails. */
    @Override
    public void close() throws IOException {
        synchronized (writer) {
            writer.close();
        }
    }

    // ---------------------------------------------------------------------------------------------------------

    private static BufferedWriter appender(Path file) throws IOException {
        return Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                StandardOpenOption.APPEND, StandardOpenOption.WRITE);
    }

    private void put(Path abs, Entry e) throws IOException {
        entries.put(abs, e);
        ObjectNode n = JSON.createObjectNode();
        n.put("path", abs.toString());
        n.put("size", e.size);
        n.put("mtime_ns", e.mtimeNanos);
        if (e.info != null) {
            n.put("type", e.info.type().name());
            n.put("frames", e.info.frames());
            n.put("fps", e.info.fps());
            n.put("height", e.info.height());
            n.put("width", e.info.width());
        }
        if (e.sha256 != null) {
            n.put("sha256", e.sha256);
        }
        String line = JSON.writeValueAsString(n);
        synchronized (writer) {
            writer.write(line);
            writer.write('\n');
            writer.flush();
        }
    }

    private void load(Path file, String line, int lineNumber) {
        if (line.isBlank()) {
            return;
        }
        try {
            JsonNode n = JSON.readTree(line);
            MediaInfo info = n.has("frames") ? new MediaInfo(MediaType.valueOf(n.get("type").asText()),
                    n.get("frames").asInt(), n.get("fps").asDouble(), n.get("height").asInt(), n.get("width").asInt())
                    : null;
            String hash = n.has("sha256") ? n.get("sha256").asText() : null;
            entries.put(Path.of(n.get("path").asText()), new Entry(n.get("size").asLong(), n.get("mtime_ns").asLong(),
                    info, hash));
        } catch (JsonProcessingException | RuntimeException e) {
            LOG.warn("{}:{}: unreadable probe cache line ignored ({})", file, lineNumber, e.getMessage());
        }
    }
}
