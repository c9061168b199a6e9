package io.github.cogvideox4j.core.io;

import io.github.cogvideox4j.core.CogVideoXException;
import java.nio.file.Path;

/**
 * A safetensors file (or a sharded index) whose content cannot be used: a malformed or oversized header,
 * inconsistent offsets, an unknown dtype, a tensor that is absent, and so on. The message always names the
 * file, the tensor when one is involved, and the expected versus actual value.
 *
 * <p>This is raised for problems in the <em>content</em> of files; a failure to read them is an
 * {@link java.io.IOException} (or an {@link java.io.UncheckedIOException} from the methods that cannot
 * throw checked exceptions).
 *
 * <p>Thread safety: immutable.
 */
public class SafetensorsFormatException extends CogVideoXException {
    private static final long serialVersionUID = 1L;

    /** The file whose content is wrong ({@link Path} is not serializable, hence transient). */
    private final transient Path file;
    /** The tensor concerned, or {@code null}. */
    private final String tensor;

    /**
     * @param file the file whose content is wrong (never {@code null})
     * @param tensor the tensor concerned, or {@code null} when the problem is not about one tensor
     * @param detail what is wrong, with the expected and the actual value
     */
    public SafetensorsFormatException(Path file, String tensor, String detail) {
        super(compose(file, tensor, detail));
        this.file = file;
        this.tensor = tensor;
    }

    /**
     * @param file the file whose content is wrong (never {@code null})
     * @param tensor the tensor concerned, or {@code null} when the problem is not about one tensor
     * @param detail what is wrong, with the expected and the actual value
     * @param cause the underlying failure (e.g. the JSON parser's exception)
     */
    public SafetensorsFormatException(Path file, String tensor, String detail, Throwable cause) {
        super(compose(file, tensor, detail), cause);
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

    private static String compose(Path file, String tensor, String detail) {
        StringBuilder sb = new StringBuilder("safetensors file ").append(file);
        if (tensor != null) {
            sb.append(", tensor '").append(tensor).append('\'');
        }
        return sb.append(": ").append(detail).toString();
    }
}
