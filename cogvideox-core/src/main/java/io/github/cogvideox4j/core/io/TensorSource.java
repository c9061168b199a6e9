package io.github.cogvideox4j.core.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.Map;
import java.util.Set;

/** TEMPORARY stub (replaced by the io branch). */
public interface TensorSource extends AutoCloseable {
    Set<String> names();

    TensorInfo info(String name);

    Map<String, String> metadata();

    NDArray read(String name, NDManager manager, DataType target);

    default NDArray read(String name, NDManager manager) {
        return read(name, manager, DataType.FLOAT32);
    }

    float[] readFloats(String name);

    @Override
    void close();
}
