package io.github.cogvideox4j.core.io;

import java.nio.file.Path;

/**
 * A {@code torch.save} archive that {@link TorchSaveReader} refuses: a malformed or hostile zip archive, a pickle
 * that calls or names anything outside the allowlist, a truncated stream, an unknown opcode, a tensor view outside
 * its storage, a limit exceeded. The message names the file, the archive entry (e.g.
 * {@code archive/data.pkl} or {@code archive/data/3}), the tensor when one is involved, the {@link Reason} and
 * the details (position in the pickle, expected vs actual).
 *
 * <p>Refusal never has side effects: the pickle is interpreted by a data-only machine that constructs no class
 * and calls nothing but the allowlisted rebuild functions, which are implemented in Java.
 *
 * <p>Thread safety: immutable.
 */
public final class TorchSaveFormatException extends TensorFormatException {
    private static final long serialVersionUID = 1L;

    /** Why a file is refused. */
    public enum Reason {
        /** Not a zip archive at all (e.g. the legacy pre-1.6 {@code torch.save} format, or another file). */
        NOT_AN_ARCHIVE,
        /** The zip structure is broken or hostile: bad signatures, entries outside the file, overlaps, duplicates. */
        MALFORMED_ARCHIVE,
        /** A valid but unsupported variant: encryption, compression methods other than deflate, big-endian data. */
        UNSUPPORTED,
        /** A size or count above the reader's bounds (pickle size, nesting depth, inflated size, integer length). */
        LIMIT_EXCEEDED,
        /** The pickle stream ends before {@code STOP}, or inside an opcode's argument. */
        TRUNCATED,
        /** An opcode that is not part of pickle protocols 0 to 2. */
        UNKNOWN_OPCODE,
        /** A known opcode this reader never runs because it constructs arbitrary objects (INST, OBJ, NEWOBJ, EXT). */
        FORBIDDEN_OPCODE,
        /** A {@code GLOBAL} outside the allowlist, e.g. {@code posix.system} or {@code builtins.eval}. */
        FORBIDDEN_GLOBAL,
        /** A well-formed stream whose operations do not make sense (stack underflow, bad arguments, cycles). */
        MALFORMED_PICKLE,
        /** A storage reference that names no entry, or whose entry has the wrong size or a conflicting type. */
        BAD_STORAGE,
        /** A tensor whose offset, sizes or strides reach outside its storage (or are negative). */
        OUT_OF_BOUNDS,
        /** The stored bytes do not match their checksum, or a BOOL byte is neither 0 nor 1. */
        CORRUPT_DATA,
        /** A tensor name that the file does not hold, or a read the tensor's dtype does not allow. */
        NO_SUCH_TENSOR
    }

    /** The archive entry concerned, or {@code null}. */
    private final String entry;
    /** The reason. */
    private final Reason reason;

    /**
     * @param file the file (never {@code null})
     * @param entry the archive entry concerned, or {@code null} when the archive as a whole is concerned
     * @param tensor the tensor concerned, or {@code null}
     * @param reason why the file is refused
     * @param detail what is wrong, with positions and expected vs actual values
     */
    public TorchSaveFormatException(Path file, String entry, String tensor, Reason reason, String detail) {
        this(file, entry, tensor, reason, detail, null);
    }

    /**
     * @param file the file (never {@code null})
     * @param entry the archive entry concerned, or {@code null} when the archive as a whole is concerned
     * @param tensor the tensor concerned, or {@code null}
     * @param reason why the file is refused
     * @param detail what is wrong, with positions and expected vs actual values
     * @param cause the underlying failure, or {@code null}
     */
    public TorchSaveFormatException(Path file, String entry, String tensor, Reason reason, String detail,
            Throwable cause) {
        super(file, tensor, compose(file, entry, tensor, reason, detail), cause);
        this.entry = entry;
        this.reason = reason;
    }

    /** @return the archive entry concerned (e.g. {@code archive/data.pkl}), or {@code null} */
    public String entry() {
        return entry;
    }

    /** @return why the file is refused */
    public Reason reason() {
        return reason;
    }

    private static String compose(Path file, String entry, String tensor, Reason reason, String detail) {
        StringBuilder sb = new StringBuilder("torch.save file ").append(file);
        if (entry != null) {
            sb.append(", entry '").append(entry).append('\'');
        }
        if (tensor != null) {
            sb.append(", tensor '").append(tensor).append('\'');
        }
        return sb.append(": ").append(reason.name().toLowerCase(java.util.Locale.ROOT).replace('_', ' '))
                .append(": ").append(detail).toString();
    }
}
