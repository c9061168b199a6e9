package io.github.cogvideox4j.core.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.config.CogVideoXVariant;
import org.junit.jupiter.api.Test;

/** The hook LoRA uses: adapters add a term to a Linear's output; every Linear is reachable by its Diffusers name. */
class LinearAdapterTest {
    @Test
    void everyAttentionProjectionIsReachableByItsDiffusersName() {
        CogVideoXConfig config = CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_5B);
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(config, manager, 1)) {
            assertThat(model.namedLinears()).containsKeys("transformer_blocks.0.attn1.to_q",
                    "transformer_blocks.1.attn1.to_out.0", "transformer_blocks.1.ff.net.2", "proj_out");
            Linear toV = model.namedLinears().get("transformer_blocks.1.attn1.to_v");
            assertThat(toV.weight()).isSameAs(model.namedParameters().get("transformer_blocks.1.attn1.to_v.weight"));
        }
    }

    @Test
    void anAdapterAddsItsTermAndRemovingItRestoresTheOutput() {
        CogVideoXConfig config = CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_5B);
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXTransformer model = CogVideoXTransformer.random(config, manager, 1)) {
            Linear toQ = model.namedLinears().get("transformer_blocks.0.attn1.to_q");
            NDArray x = manager.randomNormal(new Shape(2, 5, config.innerDim()));
            float[] base = toQ.forward(x).toFloatArray();
            LinearAdapter plusOne = in -> in.onesLike();
            toQ.addAdapter(plusOne);
            float[] adapted = toQ.forward(x).toFloatArray();
            for (int i = 0; i < base.length; i++) {
                assertThat(adapted[i]).isEqualTo(base[i] + 1f);
            }
            assertThat(toQ.removeAdapter(plusOne)).isTrue();
            assertThat(toQ.forward(x).toFloatArray()).containsExactly(base);
        }
    }
}
