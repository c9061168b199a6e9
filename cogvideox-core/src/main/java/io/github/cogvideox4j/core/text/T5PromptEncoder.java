package io.github.cogvideox4j.core.text;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.common.base.Preconditions;
import io.github.cogvideox4j.core.EngineArrays;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Prompt embeddings exactly as diffusers' CogVideoX pipelines build them ({@code _get_t5_prompt_embeds}): tokenize
 * with {@code padding="max_length", max_length=226, truncation=True}, run the T5 encoder on the ids <b>without an
 * attention mask</b> (pad tokens are attended to and their outputs are real embeddings), repeat each prompt's
 * embeddings {@code numVideosPerPrompt} times.
 *
 * <p>Owns its tokenizer and encoder (closing it closes both). Thread safety: as {@link T5EncoderModel}.
 */
public final class T5PromptEncoder implements io.github.cogvideox4j.core.pipeline.PromptEncoder {
    private final T5Tokenizer tokenizer;
    private final T5EncoderModel encoder;
    private final int maxLength;

    /**
     * @param tokenizer the tokenizer (now owned by this object)
     * @param encoder the encoder (now owned by this object)
     * @param maxLength the padded length, {@code max_sequence_length} (226 in CogVideoX)
     */
    public T5PromptEncoder(T5Tokenizer tokenizer, T5EncoderModel encoder, int maxLength) {
        Preconditions.checkArgument(maxLength >= 1, "maxLength must be >= 1, got %s", maxLength);
        this.tokenizer = Preconditions.checkNotNull(tokenizer, "tokenizer");
        this.encoder = Preconditions.checkNotNull(encoder, "encoder");
        this.maxLength = maxLength;
    }

    /**
     * Loads {@code <pipeline>/tokenizer} and {@code <pipeline>/text_encoder} with max length 226.
     *
     * @param pipelineDir a Diffusers CogVideoX pipeline folder
     * @param manager the parent of the encoder's manager
     * @param storage {@link DataType#FLOAT32} or {@link DataType#BFLOAT16} (see {@link T5EncoderModel})
     * @return the encoder; the caller closes it
     * @throws IOException if reading fails
     */
    public static T5PromptEncoder load(Path pipelineDir, NDManager manager, DataType storage) throws IOException {
        T5Tokenizer tokenizer = T5Tokenizer.load(pipelineDir.resolve("tokenizer"));
        try {
            T5EncoderModel encoder = T5EncoderModel.load(pipelineDir.resolve("text_encoder"), manager, storage);
            return new T5PromptEncoder(tokenizer, encoder, T5Tokenizer.COGVIDEOX_MAX_LENGTH);
        } catch (IOException | RuntimeException e) {
            tokenizer.close();
            throw e;
        }
    }

    /** @return the tokenizer */
    public T5Tokenizer tokenizer() {
        return tokenizer;
    }

    /** @return the encoder */
    public T5EncoderModel encoder() {
        return encoder;
    }

    /**
     * @param prompts the prompts
     * @param manager the manager of the result
     * @return {@code [B, maxLength]} INT64 ids, owned by {@code manager}
     */
    public NDArray inputIds(List<String> prompts, NDManager manager) {
        Preconditions.checkArgument(!prompts.isEmpty(), "no prompts");
        long[] ids = new long[Math.multiplyExact(prompts.size(), maxLength)];
        for (int i = 0; i < prompts.size(); i++) {
            System.arraycopy(tokenizer.encode(prompts.get(i), maxLength).inputIds(), 0, ids, i * maxLength,
                    maxLength);
        }
        return EngineArrays.create(manager, ids, new Shape(prompts.size(), maxLength));
    }

    /**
     * @param prompts the prompts
     * @param numVideosPerPrompt copies of each prompt's embeddings (consecutive), at least 1
     * @param manager the manager of the result
     * @return {@code [B * numVideosPerPrompt, maxLength, d_model]} FLOAT32, owned by {@code manager}
     */
    public NDArray encode(List<String> prompts, int numVideosPerPrompt, NDManager manager) {
        Preconditions.checkArgument(numVideosPerPrompt >= 1, "numVideosPerPrompt must be >= 1, got %s",
                numVideosPerPrompt);
        try (NDManager scope = manager.newSubManager()) {
            NDArray ids = inputIds(prompts, scope);
            NDArray embeds = encoder.forward(ids);
            if (numVideosPerPrompt > 1) {
                embeds = embeds.repeat(0, numVideosPerPrompt);
            }
            embeds.attach(manager);
            return embeds;
        }
    }

    /**
     * The pipeline's prompt encoding: one embedding row per prompt.
     *
     * @param prompts the prompts
     * @param manager owner of the result
     * @return {@code [B, 226, d_model]} FLOAT32
     */
    @Override
    public NDArray encode(List<String> prompts, NDManager manager) {
        return encode(prompts, 1, manager);
    }

    /** Closes the encoder and the tokenizer. */
    @Override
    public void close() {
        try {
            encoder.close();
        } finally {
            tokenizer.close();
        }
    }
}
