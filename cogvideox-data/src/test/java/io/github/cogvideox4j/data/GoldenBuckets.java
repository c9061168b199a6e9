package io.github.cogvideox4j.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

/** Test helper: loads {@code <golden.dir>/buckets/*.json} and converts JSON arrays. Fails when the folder is missing. */
final class GoldenBuckets {
    private static final ObjectMapper JSON = new ObjectMapper();

    private GoldenBuckets() {
    }

    static Path dir() {
        String dir = System.getProperty("golden.dir");
        if (dir == null || !Files.isDirectory(Path.of(dir, "buckets"))) {
            throw new IllegalStateException("golden.dir missing or without buckets/: " + dir);
        }
        return Path.of(dir, "buckets");
    }

    static JsonNode load(String file) {
        try {
            return JSON.readTree(dir().resolve(file).toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static List<Bucket> buckets(JsonNode array) {
        List<Bucket> out = new ArrayList<>();
        for (JsonNode b : array) {
            out.add(bucket(b));
        }
        return out;
    }

    static Bucket bucket(JsonNode b) {
        return b.size() == 3 ? new Bucket(b.get(0).asInt(), b.get(1).asInt(), b.get(2).asInt())
                : new Bucket(1, b.get(0).asInt(), b.get(1).asInt());
    }

    static List<Integer> ints(JsonNode array) {
        List<Integer> out = new ArrayList<>();
        array.forEach(x -> out.add(x.asInt()));
        return out;
    }

    static int[] intArray(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    static int[] range(int n) {
        return IntStream.range(0, n).toArray();
    }
}
