package io.github.cogvideox4j.core.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import io.github.cogvideox4j.core.CogVideoXException;
import java.util.List;

/**
 * Turns prompts into the text embeddings the transformer conditions on: the T5 encoder of the pipeline folder
 * ({@code tokenizer/} + {@code text_encoder/}), tokenized to {@code max_length} 226 with padding and run without an
 * attention mask (diffusers {@code pipeline_cogvideox.py}, {@code _get_t5_prompt_embeds}).
 * {@link CogVideoXPipeline} uses it for every prompt a {@link GenerationRequest} gives as
 * text; requests that carry embeddings skip it.
 *
 * <p>Ownership: the returned array belongs to {@code manager}. A pipeline given an encoder closes it when the pipeline
 * is closed. Thread safety: implementations need not be thread-safe; the pipeline calls them from its own thread.
 */
@FunctionalInterface
public interface PromptEncoder extends AutoCloseable {

    /**
     * @param prompts one string per batch row (may be empty strings)
     * @param manager the owner of the result
     * @return FLOAT32 {@code [prompts.size(), L, D_text]} embeddings
     * @throws CogVideoXException if the prompts cannot be encoded
     */
    NDArray encode(List<String> prompts, NDManager manager);

    /** Frees the encoder's weights; does nothing by default. */
    @Override
    default void close() { }

    /**
     * The encoder used when none is given: it refuses every call, so only requests with prompt embeddings work.
     *
     * @return an encoder that throws {@link CogVideoXException} naming the missing text encoder
     */
    static PromptEncoder unavailable() {
        return (prompts, manager) -> {
            throw new CogVideoXException("text encoder not available: this pipeline was loaded without a "
                    + "PromptEncoder, so prompts " + prompts + " cannot be encoded; pass promptEmbeds/"
                    + "negativePromptEmbeds in the GenerationRequest or load with CogVideoXPipeline.load(dir, "
                    + "manager, encoder)");
        };
    }
}
