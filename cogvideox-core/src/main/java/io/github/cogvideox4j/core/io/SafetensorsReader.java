package io.github.cogvideox4j.core.io;

import java.io.IOException;
import java.nio.file.Path;

/** TEMPORARY stub (replaced by the io branch). */
public final class SafetensorsReader {
    public static TensorSource open(Path file) throws IOException {
        return SafetensorsFiles.open(file);
    }
}
