package io.github.cogvideox4j.core.io;

import io.github.cogvideox4j.core.CogVideoXException;
import java.nio.file.Path;

/**
 * A tensor file whose content cannot be used: the common parent of {@link SafetensorsFormatException}
 * (safetensors files and sharded indexes) and {@link TorchSaveFormatException} ({@code torch.save} archives). The
 * message always names the file, the tensor when one is involved, and what is wrong.
 *
 * <p>This is raised for problems in the <em>content</em> of files; a failure to read them is an
 * {@link java.io.IOException} (or an {@link java.io.UncheckedIOException}).
 *
 * <p>Thread safety: immutable.
 */
public class TensorFormatException extends CogVideoXException {
    private static final long serialVersionUID = 1L;

    /** The file whose content is wrong ({@link Path} is not serializable, hence transient). */
    private final transient Path file;
    /** The tensor concerned, or {@code null}. */
    private final String tensor;

    /**
     * @param file the file whose content is wrong (never {@code null})
     * @param tensor the tensor concerned, or {@code null} when the problem is not about one tensor
     * @param message the complete message, naming the file and the tensor
     * @param cause the underlying failure, or {@code null}
     */
    protected TensorFormatException(Path file, String tensor, String message, Throwable cause) {
        super(message, cause);
        this.file = file;
        this.tensor = tensor;
    }

    /** @return the file whose content is wrong */
    public Path file() {
        return file;
    }

    /** @return the tensor concerned, or {@code null} when the problem is not about a single tensor */
    public String tensor() {
        return tensor;
    }
}
