package io.github.cogvideox4j.lora.train;

import static com.google.common.base.Preconditions.checkArgument;
import static com.google.common.base.Preconditions.checkNotNull;

import ai.djl.ndarray.NDArray;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One complete checkpoint as {@link CheckpointStore#latest} read it back.
 *
 * <p>Ownership: the arrays belong to the {@code NDManager} passed to {@code latest}; close that manager (or the
 * arrays) when done. The state and manifest nodes are private copies the caller may modify. Thread safety: the
 * record is immutable, the arrays and the nodes are not thread-safe.
 *
 * @param step the training step the checkpoint holds (the last finished step)
 * @param dir the checkpoint folder ({@code checkpoint-<step>})
 * @param tensors tensor name to array, in the order they were saved (unmodifiable): the tensors rank 0 wrote
 * @param state the JSON state saved with it (schedule, sampler and RNG positions, config, provenance)
 * @param manifest the manifest written last ({@value CheckpointStore#MANIFEST_FILE}): world size, the files of every
 *     rank, and the caller's fields (global batch size, optimizer layout)
 */
public record Checkpoint(long step, Path dir, Map<String, NDArray> tensors, ObjectNode state, ObjectNode manifest) {
    /** Checks the arguments and makes the map unmodifiable (order kept). */
    public Checkpoint {
        checkArgument(step >= 0, "step must be >= 0, got %s", step);
        checkNotNull(dir, "dir");
        checkNotNull(tensors, "tensors");
        checkNotNull(state, "state");
        checkNotNull(manifest, "manifest");
        tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
    }
}
