package io.github.cogvideox4j.core.kernel;

import io.github.cogvideox4j.core.CogVideoXException;

/**
 * A tensor or a requested data type that must not reach DJL's native code: {@code BFLOAT16} (DJL 0.36's JNI
 * aborts the whole JVM on it) or {@code UNKNOWN} (how DJL reports a bf16 tensor made inside TorchScript). The
 * message names the tensor or request, the data type found and what to do instead.
 *
 * <p>Thread safety: immutable.
 */
public class UnsupportedDTypeException extends CogVideoXException {
    private static final long serialVersionUID = 1L;

    /** @param message what was rejected, naming the tensor and the expected versus actual data type */
    public UnsupportedDTypeException(String message) {
        super(message);
    }
}
