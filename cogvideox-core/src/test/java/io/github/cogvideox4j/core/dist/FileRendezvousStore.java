package io.github.cogvideox4j.core.dist;

import io.github.cogvideox4j.core.io.AtomicFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Base64;
import java.util.OptionalInt;

/**
 * A test-only {@link RendezvousStore} over a folder shared by the ranks of one machine: a key is a file (written to
 * a temporary name, then moved in atomically), {@code get} polls until the file exists or the timeout passes. Each
 * rank records its process id; a rank whose process is gone without a goodbye file is lost.
 */
final class FileRendezvousStore implements RendezvousStore {
    private final Path dir;
    private final int rank;
    private final int worldSize;
    private final Duration timeout;

    /**
     * @param dir the shared folder (created if missing)
     * @param rank this rank
     * @param worldSize the number of ranks
     * @param timeout how long {@code get} waits
     */
    FileRendezvousStore(Path dir, int rank, int worldSize, Duration timeout) {
        this.dir = dir;
        this.rank = rank;
        this.worldSize = worldSize;
        this.timeout = timeout;
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        set("pid/" + rank, Long.toString(ProcessHandle.current().pid()).getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public void set(String key, byte[] value) {
        Path target = file(key);
        try {
            AtomicFiles.write(target, value);
        } catch (IOException e) {
            throw new UncheckedIOException("rank " + rank + " cannot set " + key, e);
        }
    }

    @Override
    public byte[] get(String key) {
        Path f = file(key);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            try {
                return Files.readAllBytes(f);
            } catch (NoSuchFileException e) {
                if (System.nanoTime() > deadline) {
                    throw new ProcessGroupException("rank " + rank + ": key " + key + " was not set within "
                            + timeout, lostRank().orElse(-1), null);
                }
                sleep();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    @Override
    public long add(String key, long delta) {
        Path lockFile = dir.resolve("lock");
        try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
            FileLock lock = ch.lock();
            try {
                Path f = file(key);
                long value = Files.exists(f) ? Long.parseLong(Files.readString(f)) : 0;
                value += delta;
                set(key, Long.toString(value).getBytes(StandardCharsets.UTF_8));
                return value;
            } finally {
                lock.release();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public OptionalInt lostRank() {
        for (int r = 0; r < worldSize; r++) {
            Path pid = file("pid/" + r);
            if (!Files.exists(pid) || Files.exists(file("bye/" + r))) {
                continue;
            }
            try {
                long p = Long.parseLong(Files.readString(pid));
                if (ProcessHandle.of(p).map(h -> !h.isAlive()).orElse(true)) {
                    return OptionalInt.of(r);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return OptionalInt.empty();
    }

    @Override
    public void close() {
        set("bye/" + rank, new byte[0]);
    }

    private Path file(String key) {
        String name = Base64.getUrlEncoder().withoutPadding().encodeToString(key.getBytes(StandardCharsets.UTF_8));
        return dir.resolve("k-" + name);
    }

    private static void sleep() {
        try {
            Thread.sleep(5);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
