package io.github.cogvideox4j.core.model;

import ai.djl.ndarray.NDArray;

/**
 * Receives named intermediates of a forward pass, like a PyTorch forward hook. Names follow the Diffusers
 * module names: {@code time_proj}, {@code time_embedding}, {@code ofs_proj}, {@code ofs_embedding}, {@code emb},
 * {@code patch_embed}, {@code transformer_blocks.<i>.attn1.hidden_states},
 * {@code transformer_blocks.<i>.attn1.encoder_hidden_states}, {@code transformer_blocks.<i>.hidden_states},
 * {@code transformer_blocks.<i>.encoder_hidden_states}, {@code norm_final}, {@code norm_out}, {@code proj_out}.
 *
 * <p>Ownership: the array belongs to a temporary scope of the forward pass and is closed when that scope ends;
 * copy what you keep (for example {@code array.toFloatArray()}, or {@code duplicate()} then {@code attach} to your
 * own manager) and never close it.
 */
@FunctionalInterface
public interface ForwardProbe {
    /** A probe that ignores everything. */
    ForwardProbe NONE = (name, array) -> {};

    /**
     * @param name the Diffusers name of the intermediate
     * @param array its value (borrowed; see the type documentation)
     */
    void accept(String name, NDArray array);
}
