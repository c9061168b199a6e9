/**
 * The CogVideoX text path: the T5 v1.1 encoder ({@link io.github.cogvideox4j.core.text.T5EncoderModel}, configured
 * by {@link io.github.cogvideox4j.core.text.T5Config}), the T5 SentencePiece tokenizer
 * ({@link io.github.cogvideox4j.core.text.T5Tokenizer}) and the prompt embeddings as the CogVideoX pipelines build
 * them ({@link io.github.cogvideox4j.core.text.T5PromptEncoder}: 226 tokens, EOS, pad 0, no attention mask).
 */
package io.github.cogvideox4j.core.text;
