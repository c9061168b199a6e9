package io.github.cogvideox4j.core.io;

import java.io.EOFException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedByInterruptException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A read-only file channel shared by concurrent readers that survives other threads' interrupts: an interrupt
 * closes a {@link FileChannel} for every thread, so an operation that finds the channel closed by someone
 * else's interrupt reopens it (checking that the file size did not change) and retries once; an interrupt of
 * the calling thread fails that call. Package-private: the readers of this package use it.
 *
 * <p>Thread safety: all methods may be called concurrently; {@link #close()} makes operations in flight fail
 * with {@link IllegalStateException}.
 */
final class ReopeningChannel implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ReopeningChannel.class);

    /** One operation on the channel. */
    interface ChannelOp<T> {
        T apply(FileChannel channel) throws IOException;
    }

    private final Path file;
    private final long size;
    private final Object reopenLock = new Object();
    private volatile FileChannel channel;
    private volatile boolean closed;

    private ReopeningChannel(Path file, FileChannel channel, long size) {
        this.file = file;
        this.channel = channel;
        this.size = size;
    }

    /**
     * @param file the file to open for reading
     * @return the open channel; the caller closes it
     * @throws IOException if the file cannot be opened
     */
    static ReopeningChannel open(Path file) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
        try {
            return new ReopeningChannel(file, ch, ch.size());
        } catch (IOException | RuntimeException e) {
            try {
                ch.close();
            } catch (IOException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /** @return the file */
    Path file() {
        return file;
    }

    /** @return the file's size when it was opened */
    long size() {
        return size;
    }

    /**
     * Reads exactly {@code dst.remaining()} bytes at {@code position} while opening the file: checked exceptions,
     * no retry.
     */
    void readFullyChecked(ByteBuffer dst, long position) throws IOException {
        readFully(channel, dst, position, file);
    }

    /**
     * Reads exactly {@code dst.remaining()} bytes at {@code position}.
     *
     * @param what what is being read, for messages (e.g. {@code tensor 'x'})
     */
    void readFully(ByteBuffer dst, long position, String what) {
        int start = dst.position();
        apply(what, ch -> {
            dst.position(start); // a retry after an asynchronous close starts over
            readFully(ch, dst, position, file);
            return null;
        });
    }

    /**
     * Maps a read-only region.
     *
     * @param what what is being read, for messages
     */
    ByteBuffer map(long position, int length, String what) {
        return apply(what, ch -> ch.map(FileChannel.MapMode.READ_ONLY, position, length));
    }

    /**
     * Runs an operation on the channel, reopening it once if another thread's interrupt closed it.
     *
     * @param what what is being read, for messages
     * @throws UncheckedIOException for I/O failures and for an interrupt of the calling thread
     * @throws IllegalStateException if the channel was closed by {@link #close()}
     */
    <T> T apply(String what, ChannelOp<T> op) {
        for (int attempt = 0; ; attempt++) {
            FileChannel ch = currentChannel();
            try {
                return op.apply(ch);
            } catch (ClosedByInterruptException e) {
                throw new UncheckedIOException(file + ", " + what + ": read interrupted", e);
            } catch (ClosedChannelException e) {
                if (closed) {
                    throw new IllegalStateException(file + " was closed while " + what + " was being read", e);
                }
                if (attempt > 0) {
                    throw new UncheckedIOException(file + ", " + what + ": channel closed", e);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(file + ", " + what + ": " + e.getMessage(), e);
            }
        }
    }

    /** @throws IllegalStateException if closed */
    void ensureOpen() {
        if (closed) {
            throw new IllegalStateException(file + " is closed");
        }
    }

    /** Closes the file. Idempotent. */
    @Override
    public void close() {
        synchronized (reopenLock) {
            if (closed) {
                return;
            }
            closed = true;
            try {
                channel.close();
            } catch (IOException e) {
                LOG.warn("closing {} failed", file, e);
            }
        }
    }

    private FileChannel currentChannel() {
        FileChannel ch = channel;
        if (ch.isOpen()) {
            return ch;
        }
        synchronized (reopenLock) {
            ensureOpen();
            if (!channel.isOpen()) {
                try {
                    FileChannel fresh = FileChannel.open(file, StandardOpenOption.READ);
                    if (fresh.size() != size) {
                        fresh.close();
                        throw new IOException("size changed from " + size + " to " + fresh.size()
                                + " bytes while open");
                    }
                    LOG.debug("reopened {} after an interrupt closed its channel", file);
                    channel = fresh;
                } catch (IOException e) {
                    throw new UncheckedIOException(file + ": reopening failed", e);
                }
            }
            return channel;
        }
    }

    static void readFully(FileChannel ch, ByteBuffer dst, long position, Path file) throws IOException {
        long pos = position;
        while (dst.hasRemaining()) {
            int n = ch.read(dst, pos);
            if (n < 0) {
                throw new EOFException(file + ": unexpected end of file at byte " + pos);
            }
            pos += n;
        }
    }
}
