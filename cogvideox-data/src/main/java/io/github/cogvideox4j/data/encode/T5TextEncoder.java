package io.github.cogvideox4j.data.encode;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import io.github.cogvideox4j.core.text.T5PromptEncoder;
import io.github.cogvideox4j.data.cache.TextEncoder;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * The core T5 prompt encoder as the cache's {@link TextEncoder}: one prompt becomes {@code [226, d_model]} FLOAT32
 * embeddings (the pipeline's padding to 226 tokens).
 *
 * <p>Identity: {@code t5/<fingerprint of text_encoder/ and tokenizer/>/len226/<storage>}, see {@link WeightsIdentity};
 * {@link #identityOf(Path, DataType)} computes it without loading weights.
 *
 * <p>Ownership: the adapter does not own the T5 encoder (the caller closes it). Thread safety: not thread-safe.
 */
public final class T5TextEncoder implements TextEncoder {
    private final T5PromptEncoder t5;
    private final String identity;

    /**
     * @param t5 the loaded encoder
     * @param identity its identity, from {@link #identityOf(Path, DataType)}
     */
    public T5TextEncoder(T5PromptEncoder t5, String identity) {
        this.t5 = Objects.requireNonNull(t5, "t5");
        this.identity = Objects.requireNonNull(identity, "identity");
    }

    /**
     * Loads {@code tokenizer/} and {@code text_encoder/} of a pipeline folder.
     *
     * @param pipelineDir a Diffusers CogVideoX pipeline folder
     * @param storage weight storage, {@link DataType#FLOAT32} or {@link DataType#BFLOAT16} (see the core T5)
     * @param manager parent of the encoder's manager
     * @return the adapter; close the returned {@link #t5()} to free the weights
     * @throws IOException if reading fails
     */
    public static T5TextEncoder load(Path pipelineDir, DataType storage, NDManager manager) throws IOException {
        String id = identityOf(pipelineDir, storage);
        return new T5TextEncoder(T5PromptEncoder.load(pipelineDir, manager, storage), id);
    }

    /**
     * The identity {@link #load} would give, computed from the files alone.
     *
     * @param pipelineDir a Diffusers CogVideoX pipeline folder
     * @param storage weight storage
     * @return the identity
     * @throws IOException if a folder cannot be read
     */
    public static String identityOf(Path pipelineDir, DataType storage) throws IOException {
        return "t5/" + WeightsIdentity.of(List.of(pipelineDir.resolve("text_encoder"), pipelineDir.resolve("tokenizer")))
                + "/len226/" + storage.name().toLowerCase(java.util.Locale.ROOT);
    }

    /** @return the wrapped encoder (not owned by this adapter) */
    public T5PromptEncoder t5() {
        return t5;
    }

    @Override
    public String identity() {
        return identity;
    }

    @Override
    public NDArray encode(String prompt, NDManager manager) {
        try (NDManager scope = manager.newSubManager()) {
            NDArray batch = t5.encode(List.of(prompt), scope);
            NDArray one = batch.squeeze(0);
            one.attach(manager);
            return one;
        }
    }
}
