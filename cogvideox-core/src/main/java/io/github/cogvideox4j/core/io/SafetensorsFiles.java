package io.github.cogvideox4j.core.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** TEMPORARY stub (replaced by the io branch): single-file F32/F64/I64/BF16 reader. */
public final class SafetensorsFiles {
    private SafetensorsFiles() {}

    public static TensorSource openModelWeights(Path dir, String baseName) throws IOException {
        return open(dir.resolve(baseName + ".safetensors"));
    }

    public static TensorSource open(Path file) throws IOException {
        byte[] all = Files.readAllBytes(file);
        ByteBuffer bb = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
        int n = (int) bb.getLong(0);
        JsonNode h = new ObjectMapper().readTree(new String(all, 8, n, java.nio.charset.StandardCharsets.UTF_8));
        Map<String, TensorInfo> infos = new LinkedHashMap<>();
        h.fields().forEachRemaining(e -> {
            if (e.getKey().equals("__metadata__")) return;
            JsonNode v = e.getValue();
            long[] shape = new long[v.get("shape").size()];
            for (int i = 0; i < shape.length; i++) shape[i] = v.get("shape").get(i).asLong();
            infos.put(e.getKey(), new TensorInfo(e.getKey(), v.get("dtype").asText(), shape,
                    v.get("data_offsets").get(0).asLong(), v.get("data_offsets").get(1).asLong()));
        });
        int base = 8 + n;
        return new TensorSource() {
            public Set<String> names() { return infos.keySet(); }
            public TensorInfo info(String name) { return infos.get(name); }
            public Map<String, String> metadata() { return Map.of(); }
            public NDArray read(String name, NDManager m, DataType target) {
                TensorInfo t = infos.get(name);
                int len = (int) (t.end() - t.begin());
                ByteBuffer src = ByteBuffer.wrap(all, base + (int) t.begin(), len).slice().order(ByteOrder.LITTLE_ENDIAN);
                Shape shape = new Shape(t.shape());
                switch (t.dtype()) {
                    case "F32": { float[] f = new float[len / 4]; src.asFloatBuffer().get(f); return m.create(f, shape); }
                    case "F64": { double[] f = new double[len / 8]; src.asDoubleBuffer().get(f); return m.create(f, shape); }
                    case "I64": { long[] f = new long[len / 8]; src.asLongBuffer().get(f); return m.create(f, shape); }
                    case "BF16": { float[] f = new float[len / 2]; for (int i = 0; i < f.length; i++) f[i] = Float.intBitsToFloat((src.getShort(2 * i) & 0xFFFF) << 16); return m.create(f, shape); }
                    default: throw new IllegalArgumentException(t.dtype());
                }
            }
            public float[] readFloats(String name) { try (NDManager m = NDManager.newBaseManager()) { return read(name, m).toType(DataType.FLOAT32, false).toFloatArray(); } }
            public void close() {}
        };
    }
}
