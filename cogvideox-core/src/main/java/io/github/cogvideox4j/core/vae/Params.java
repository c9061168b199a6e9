package io.github.cogvideox4j.core.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What module constructors take their tensors from: either a declaring pass that only records the name and shape of
 * every parameter (no allocation, returns {@code null}), or the loaded state dict.
 *
 * <p>Thread safety: not thread-safe; used during construction only.
 */
final class Params {
    private final Map<String, Shape> declared = new LinkedHashMap<>();
    private final Map<String, NDArray> loaded;

    private Params(Map<String, NDArray> loaded) {
        this.loaded = loaded;
    }

    /** @return a declaring pass */
    static Params declaring() {
        return new Params(null);
    }

    /**
     * @param state the checked state dict
     * @return a pass that hands out its arrays
     */
    static Params of(Map<String, NDArray> state) {
        return new Params(state);
    }

    /**
     * @param name the Diffusers key
     * @param shape its shape
     * @return the array, or {@code null} in a declaring pass
     */
    NDArray take(String name, long... shape) {
        declared.put(name, new Shape(shape));
        if (loaded == null) {
            return null;
        }
        NDArray a = loaded.get(name);
        if (a == null) {
            throw new IllegalStateException("no tensor " + name);
        }
        return a;
    }

    /** @return every name and shape taken so far, in construction order */
    Map<String, Shape> declared() {
        return declared;
    }
}
