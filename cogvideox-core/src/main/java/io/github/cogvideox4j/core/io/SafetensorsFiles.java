package io.github.cogvideox4j.core.io;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Finds the weights of one model component in a Diffusers/Transformers folder.
 *
 * <p>Thread safety: stateless.
 */
public final class SafetensorsFiles {
    /** Suffix of a single-file checkpoint. */
    public static final String SINGLE_SUFFIX = ".safetensors";
    /** Suffix of a sharded checkpoint's index. */
    public static final String INDEX_SUFFIX = ".safetensors.index.json";

    private SafetensorsFiles() {}

    /**
     * Opens {@code <dir>/<baseName>.safetensors} if it exists, else the sharded
     * {@code <dir>/<baseName>.safetensors.index.json} (the order Diffusers' loader uses).
     *
     * @param dir the component folder (e.g. {@code model/transformer})
     * @param baseName the weights' base name, e.g. {@code "diffusion_pytorch_model"} (Diffusers),
     *     {@code "model"} (Transformers), {@code "diffusion_pytorch_model.fp16"} (a variant)
     * @return the open source; the caller closes it
     * @throws NoSuchFileException if neither file exists; the message lists the folder's contents
     * @throws SafetensorsFormatException if the file or index is malformed
     * @throws IOException if reading fails
     */
    public static TensorSource openModelWeights(Path dir, String baseName) throws IOException {
        checkNotNull(dir, "dir");
        checkNotNull(baseName, "baseName");
        checkArgument(!baseName.isEmpty(), "baseName is empty");
        if (!Files.isDirectory(dir)) {
            throw new NoSuchFileException(dir.toString(), null, "not a directory (looking for " + baseName
                    + SINGLE_SUFFIX + " or " + baseName + INDEX_SUFFIX + ")");
        }
        Path single = dir.resolve(baseName + SINGLE_SUFFIX);
        if (Files.isRegularFile(single)) {
            return SafetensorsReader.open(single);
        }
        Path index = dir.resolve(baseName + INDEX_SUFFIX);
        if (Files.isRegularFile(index)) {
            return ShardedSafetensors.open(index);
        }
        String listing;
        try (Stream<Path> files = Files.list(dir)) {
            listing = files.map(p -> p.getFileName().toString()).sorted().collect(Collectors.joining(", "));
        }
        throw new NoSuchFileException(single.toString(), index.toString(),
                "neither exists; the folder contains: [" + listing + "]");
    }

    /**
     * Opens a file by its name: an index ({@code *.index.json}) as {@link ShardedSafetensors}, anything else
     * as a single {@link SafetensorsReader}.
     *
     * @param file a {@code .safetensors} file or a {@code .safetensors.index.json} index
     * @return the open source; the caller closes it
     * @throws SafetensorsFormatException if the file is malformed
     * @throws IOException if reading fails
     */
    public static TensorSource open(Path file) throws IOException {
        checkNotNull(file, "file");
        return file.getFileName().toString().endsWith(".index.json")
                ? ShardedSafetensors.open(file)
                : SafetensorsReader.open(file);
    }
}
