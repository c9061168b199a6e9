package io.github.cogvideox4j.data.cache;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.github.cogvideox4j.core.io.TorchSaveFormatException;
import io.github.cogvideox4j.core.io.TorchSaveReader;
import io.github.cogvideox4j.core.io.TorchTensor;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Reads the {@code .pt} files the Python trainers cache (cogvideox-factory's {@code video_latents/},
 * {@code prompt_embeds/}, {@code image_latents/}; finetrainers' precomputed dicts; the CogVideo trainer's files
 * saved with {@code torch.save}): one tensor per file, stored either as the whole file or as one entry of a dict
 * that may also hold ints and strings (e.g. {@code {latents, fps, num_frames}}). The files are read with
 * {@link TorchSaveReader}: nothing in them is executed. BF16 and F16 are widened to FLOAT32 exactly.
 *
 * <p>Thread safety: stateless; each read opens its own file.
 */
public final class TorchCacheFiles {
    private TorchCacheFiles() {}

    /**
     * Reads the tensor of a cache file: the whole file when it is a tensor; in a dict, the entry under the first of
     * {@code keys} that holds a tensor, else the dict's only tensor.
     *
     * @param file a {@code .pt} file
     * @param keys the dict keys to look for, in order of preference
     * @param manager owner of the result
     * @return the tensor as FLOAT32 (integer dtypes keep theirs), owned by {@code manager}
     * @throws TorchSaveFormatException if the file is refused, or holds no tensor under {@code keys} and not
     *     exactly one tensor; the message lists what it holds
     * @throws IOException if the file cannot be read ({@link java.nio.file.NoSuchFileException} if absent)
     */
    public static NDArray readTensor(Path file, List<String> keys, NDManager manager) throws IOException {
        Objects.requireNonNull(keys, "keys");
        Objects.requireNonNull(manager, "manager");
        try (TorchSaveReader r = TorchSaveReader.open(file)) {
            return r.read(tensorName(r, keys), manager, DataType.FLOAT32);
        }
    }

    /** @return the name (in {@link TorchSaveReader#names()}) of the file's tensor, as {@link #readTensor} picks it */
    static String tensorName(TorchSaveReader r, List<String> keys) {
        Object root = r.root();
        if (root instanceof TorchTensor) {
            return "";
        }
        if (root instanceof Map<?, ?> dict) {
            for (String k : keys) {
                if (dict.get(k) instanceof TorchTensor) {
                    return k;
                }
            }
            List<String> tensors = new ArrayList<>();
            for (Map.Entry<?, ?> e : dict.entrySet()) {
                if (e.getValue() instanceof TorchTensor && e.getKey() instanceof String k) {
                    tensors.add(k);
                }
            }
            if (tensors.size() == 1) {
                return tensors.get(0);
            }
            throw new TorchSaveFormatException(r.file(), null, null, TorchSaveFormatException.Reason.NO_SUCH_TENSOR,
                    "expected a tensor, or a dict with one tensor or a tensor under " + keys + "; the dict holds "
                    + dict.keySet() + " (tensors: " + tensors + ")");
        }
        throw new TorchSaveFormatException(r.file(), null, null, TorchSaveFormatException.Reason.NO_SUCH_TENSOR,
                "expected a tensor or a dict of tensors, the file holds a "
                + (root == null ? "None" : root instanceof List<?> ? "list" : root.getClass().getSimpleName()));
    }
}
