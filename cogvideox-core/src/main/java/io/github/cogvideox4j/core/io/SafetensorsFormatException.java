package io.github.cogvideox4j.core.io;

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
public class SafetensorsFormatException extends TensorFormatException {
    private static final long serialVersionUID = 1L;

    /**
     * @param file the file whose content is wrong (never {@code null})
     * @param tensor the tensor concerned, or {@code null} when the problem is not about one tensor
     * @param detail what is wrong, with the expected and the actual value
     */
    public SafetensorsFormatException(Path file, String tensor, String detail) {
        super(file, tensor, compose(file, tensor, detail), null);
    }

    /**
     * @param file the file whose content is wrong (never {@code null})
     * @param tensor the tensor concerned, or {@code null} when the problem is not about one tensor
     * @param detail what is wrong, with the expected and the actual value
     * @param cause the underlying failure (e.g. the JSON parser's exception)
     */
    public SafetensorsFormatException(Path file, String tensor, String detail, Throwable cause) {
        super(file, tensor, compose(file, tensor, detail), cause);
    }

    private static String compose(Path file, String tensor, String detail) {
        StringBuilder sb = new StringBuilder("safetensors file ").append(file);
        if (tensor != null) {
            sb.append(", tensor '").append(tensor).append('\'');
        }
        return sb.append(": ").append(detail).toString();
    }
}
