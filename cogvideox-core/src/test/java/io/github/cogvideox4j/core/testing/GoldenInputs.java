package io.github.cogvideox4j.core.testing;

import ai.djl.ndarray.NDManager;
import io.github.cogvideox4j.core.io.TensorSource;
import io.github.cogvideox4j.core.model.TransformerInput;
import java.util.stream.Stream;

/**
 * The golden transformer cases and the transformer input of one, from its {@code inputs.safetensors}: {@code hidden_states},
 * {@code encoder_hidden_states}, {@code timestep}, and where the case has them {@code ofs} and the RoPE table
 * {@code image_rotary_emb.cos/.sin}. The arrays belong to the given manager.
 */
public final class GoldenInputs {
    private GoldenInputs() {}

    /** @return the names of the golden transformer cases (the subfolders of {@code transformer/}), for parameters */
    public static Stream<String> transformerCases() {
        return Golden.subfolders("transformer").stream().map(p -> p.getFileName().toString());
    }

    /**
     * @param in the case's {@code inputs.safetensors}
     * @param m the manager the arrays are read into
     * @return the input, nothing requiring a gradient
     */
    public static TransformerInput transformerInput(TensorSource in, NDManager m) {
        TransformerInput input = TransformerInput.of(in.read("hidden_states", m), in.read("encoder_hidden_states", m),
                in.read("timestep", m));
        if (in.names().contains("ofs")) {
            input = input.withOfs(in.read("ofs", m));
        }
        if (in.names().contains("image_rotary_emb.cos")) {
            input = input.withRotaryEmbedding(in.read("image_rotary_emb.cos", m), in.read("image_rotary_emb.sin", m));
        }
        return input;
    }
}
