package io.github.cogvideox4j.core.io;

import static com.google.common.base.Preconditions.checkNotNull;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import io.github.cogvideox4j.core.kernel.KernelPack;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A model stored as several safetensors shards plus an index, as {@code save_pretrained} writes it:
 * {@code <name>.safetensors.index.json} = {@code {"metadata": {...}, "weight_map": {tensor: shard file}}}.
 *
 * <p>{@link #open(Path)} opens every shard named by the weight map eagerly (each validated as
 * {@link SafetensorsReader} does) and checks that every tensor of the weight map is present in its shard.
 * Tensors a shard holds but the weight map does not mention are not exposed (logged at WARN), as the
 * Python loaders only follow the weight map. Shard file names must stay inside the index's directory.
 *
 * <p>{@link #names()} lists the weight map's tensors shard by shard (shards in file-name order), each
 * shard's tensors by offset. {@link #metadata()} is the index's {@code "metadata"} object with non-string
 * values (e.g. {@code total_size}) given as their JSON text.
 *
 * <p>Thread safety: concurrent reads after open are safe. Ownership: closes its shards on {@link #close()};
 * arrays read belong to the manager passed in.
 */
public final class ShardedSafetensors implements TensorSource {
    private static final Logger LOG = LoggerFactory.getLogger(ShardedSafetensors.class);

    private final Path index;
    private final Map<String, SafetensorsReader> shardOf;
    private final List<SafetensorsReader> shards;
    private final Map<String, String> metadata;

    private ShardedSafetensors(Path index, Map<String, SafetensorsReader> shardOf, List<SafetensorsReader> shards,
            Map<String, String> metadata) {
        this.index = index;
        this.shardOf = shardOf;
        this.shards = shards;
        this.metadata = metadata;
    }

    /**
     * Opens an index and all its shards.
     *
     * @param indexJson a {@code *.safetensors.index.json} file
     * @return the open source; the caller closes it
     * @throws SafetensorsFormatException if the index is malformed (not a JSON object, no
     *     {@code weight_map} object of strings, a shard path leaving the directory), a shard does not exist,
     *     a shard is malformed, or a shard lacks a tensor the index maps to it
     * @throws IOException if a file cannot be read
     */
    public static ShardedSafetensors open(Path indexJson) throws IOException {
        checkNotNull(indexJson, "indexJson");
        Path dir = indexJson.toAbsolutePath().getParent();
        JsonNode root = SafetensorsHeader.parseJson(indexJson, Files.readAllBytes(indexJson), "index");
        if (!root.isObject()) {
            throw new SafetensorsFormatException(indexJson, null, "index must be a JSON object, found "
                    + root.getNodeType());
        }
        Map<String, String> metadata = readMetadata(indexJson, root.get("metadata"));
        JsonNode weightMap = root.get("weight_map");
        if (weightMap == null || !weightMap.isObject()) {
            throw new SafetensorsFormatException(indexJson, null, "expected a \"weight_map\" object of tensor name"
                    + " to shard file, found " + (weightMap == null ? "none" : weightMap.getNodeType()));
        }
        // Shard file -> tensors it must hold, shards in file-name order.
        Map<String, List<String>> byShard = new TreeMap<>();
        for (Map.Entry<String, JsonNode> e : weightMap.properties()) {
            if (!e.getValue().isTextual() || e.getValue().textValue().isEmpty()) {
                throw new SafetensorsFormatException(indexJson, e.getKey(), "weight_map value must be a shard file"
                        + " name, found " + e.getValue().getNodeType() + " " + e.getValue());
            }
            byShard.computeIfAbsent(e.getValue().textValue(), k -> new ArrayList<>()).add(e.getKey());
        }

        List<SafetensorsReader> shards = new ArrayList<>();
        Map<String, SafetensorsReader> shardOf = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, List<String>> e : byShard.entrySet()) {
                Path shardFile = resolveShard(indexJson, dir, e.getKey(), e.getValue());
                SafetensorsReader shard = SafetensorsReader.open(shardFile);
                shards.add(shard);
                for (String name : e.getValue()) {
                    if (!shard.contains(name)) {
                        throw new SafetensorsFormatException(shardFile, name, "the index " + indexJson
                                + " maps this tensor to this shard, but the shard lacks it (it has "
                                + shard.names().size() + " tensors" + SafetensorsReader.sampleNames(shard.names())
                                + ")");
                    }
                }
                Set<String> mapped = Set.copyOf(e.getValue());
                for (String name : shard.names()) {
                    if (mapped.contains(name)) {
                        shardOf.put(name, shard);
                    } else {
                        LOG.warn("{}: tensor '{}' is not in the weight_map of {}; ignored", shardFile, name,
                                indexJson);
                    }
                }
            }
        } catch (IOException | RuntimeException | Error e) {
            for (SafetensorsReader shard : shards) {
                shard.close();
            }
            throw e;
        }
        LOG.debug("opened {}: {} tensors in {} shards", indexJson, shardOf.size(), shards.size());
        return new ShardedSafetensors(indexJson, Collections.unmodifiableMap(shardOf), List.copyOf(shards),
                metadata);
    }

    /** @return the index file */
    public Path indexFile() {
        return index;
    }

    /**
     * @param name a tensor name
     * @return the shard file holding it
     * @throws SafetensorsFormatException if there is no such tensor
     */
    public Path fileOf(String name) {
        return shard(name).file();
    }

    /** {@inheritDoc} */
    @Override
    public Set<String> names() {
        return shardOf.keySet();
    }

    /** {@inheritDoc} */
    @Override
    public boolean contains(String name) {
        return shardOf.containsKey(name);
    }

    /** {@inheritDoc} */
    @Override
    public TensorInfo info(String name) {
        return shard(name).info(name);
    }

    /** {@inheritDoc} */
    @Override
    public Map<String, String> metadata() {
        return metadata;
    }

    /** {@inheritDoc} */
    @Override
    public NDArray read(String name, NDManager manager, DataType target) {
        return shard(name).read(name, manager, target);
    }

    /** {@inheritDoc} (BF16 tensors as views of the mapped shard, as {@link SafetensorsReader#readBf16}) */
    @Override
    public NDArray readBf16(String name, NDManager manager, KernelPack pack) {
        return shard(name).readBf16(name, manager, pack);
    }

    /** {@inheritDoc} */
    @Override
    public float[] readFloats(String name) {
        return shard(name).readFloats(name);
    }

    /** Closes every shard. Idempotent. */
    @Override
    public void close() {
        for (SafetensorsReader shard : shards) {
            shard.close();
        }
    }

    @Override
    public String toString() {
        return "ShardedSafetensors[" + index + ", " + shardOf.size() + " tensors in " + shards.size() + " shards]";
    }

    private SafetensorsReader shard(String name) {
        SafetensorsReader shard = name == null ? null : shardOf.get(name);
        if (shard == null) {
            throw new SafetensorsFormatException(index, name, "no such tensor in the weight_map (it has "
                    + shardOf.size() + " tensors" + SafetensorsReader.sampleNames(names()) + ")");
        }
        return shard;
    }

    private static Path resolveShard(Path indexJson, Path dir, String shardName, List<String> tensors)
            throws IOException {
        Path shardFile;
        try {
            shardFile = dir.resolve(shardName).normalize();
        } catch (InvalidPathException e) {
            throw new SafetensorsFormatException(indexJson, tensors.get(0), "shard name \"" + shardName
                    + "\" is not a valid path", e);
        }
        if (Path.of(shardName).isAbsolute() || !shardFile.startsWith(dir.normalize())
                || shardFile.equals(dir.normalize())) {
            throw new SafetensorsFormatException(indexJson, tensors.get(0), "shard \"" + shardName
                    + "\" must be a file inside " + dir);
        }
        if (!Files.isRegularFile(shardFile)) {
            String listing;
            try (Stream<Path> files = Files.list(dir)) {
                listing = files.map(p -> p.getFileName().toString()).sorted().collect(Collectors.joining(", "));
            }
            throw new SafetensorsFormatException(indexJson, tensors.get(0), "the weight_map maps " + tensors.size()
                    + " tensor(s) to shard \"" + shardName + "\", which does not exist in " + dir
                    + " (it contains: " + listing + ")");
        }
        return shardFile;
    }

    private static Map<String, String> readMetadata(Path indexJson, JsonNode node) {
        if (node == null || node.isNull()) {
            return Map.of();
        }
        if (!node.isObject()) {
            throw new SafetensorsFormatException(indexJson, null, "\"metadata\" must be an object, found "
                    + node.getNodeType());
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            out.put(e.getKey(), e.getValue().isTextual() ? e.getValue().textValue() : e.getValue().toString());
        }
        return Collections.unmodifiableMap(out);
    }
}
