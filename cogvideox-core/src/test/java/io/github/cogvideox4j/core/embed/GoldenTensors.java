package io.github.cogvideox4j.core.embed;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.testing.Golden;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/**
 * Array-valued access to golden safetensors files and JSON side files for the embedding tests, over the production
 * {@link SafetensorsReader} and the shared {@link Golden} lookup (which fails, never skips, when data is missing).
 */
final class GoldenTensors {
    static final ObjectMapper JSON = new ObjectMapper();

    private final Path file;

    private GoldenTensors(Path file) {
        this.file = file;
    }

    /** @return the golden folder; fails the test when it is missing */
    static Path goldenDir() {
        return Golden.root();
    }

    static GoldenTensors open(Path file) {
        return new GoldenTensors(file);
    }

    static JsonNode readJson(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(file.toString(), e);
        }
    }

    long[] shape(String name) {
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            return r.info(name).shape();
        } catch (IOException e) {
            throw new UncheckedIOException(file.toString(), e);
        }
    }

    float[] f32(String name) {
        try (SafetensorsReader r = SafetensorsReader.open(file)) {
            return r.readFloats(name);
        } catch (IOException e) {
            throw new UncheckedIOException(file.toString(), e);
        }
    }

    double[] f64(String name) {
        try (SafetensorsReader r = SafetensorsReader.open(file); NDManager m = NDManager.newBaseManager()) {
            return r.read(name, m).toDoubleArray();
        } catch (IOException e) {
            throw new UncheckedIOException(file.toString(), e);
        }
    }

    long[] i64(String name) {
        try (SafetensorsReader r = SafetensorsReader.open(file); NDManager m = NDManager.newBaseManager()) {
            return r.read(name, m).toLongArray();
        } catch (IOException e) {
            throw new UncheckedIOException(file.toString(), e);
        }
    }
}
