package io.github.cogvideox4j.core.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.CogVideoXException;
import io.github.cogvideox4j.core.testing.Golden;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Inputs the model refuses, with messages that say why, and the documented opt-ins. */
class TransformerInputValidationTest {
    private NDManager manager;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    private CogVideoXTransformer model(String goldenCase) throws Exception {
        return CogVideoXTransformer.load(Golden.path("transformer", goldenCase), manager);
    }

    private TransformerInput input(CogVideoXTransformer model, long b, long f, long h, long w, long textLen) {
        var c = model.config();
        NDArray x = manager.randomNormal(new Shape(b, f, c.inChannels(), h, w));
        NDArray text = manager.randomNormal(new Shape(b, textLen, c.textEmbedDim()));
        NDArray t = manager.create(new long[] {500}).repeat(b);
        return TransformerInput.of(x, text, t);
    }

    @Test
    void rejectsTextLengthOtherThanTheSincosTableRows() throws Exception {
        try (CogVideoXTransformer model = model("a_cogvideox_2b_sincos")) {
            assertThatThrownBy(() -> model.forward(input(model, 1, 3, 8, 12, 7)))
                    .isInstanceOf(CogVideoXException.class)
                    .hasMessageContaining("text length must be 8, got 7");
        }
    }

    @Test
    void acceptsAnyTextLengthForRotaryModels() throws Exception {
        try (CogVideoXTransformer model = model("b_cogvideox_5b_rope")) {
            NDArray out = model.forward(input(model, 1, 2, 6, 12, 5));
            assertThat(out.getShape()).isEqualTo(new Shape(1, 2, 4, 6, 12));
        }
    }

    @Test
    void rejectsOddLatentFramesWhenPatchSizeTIsTwo() throws Exception {
        try (CogVideoXTransformer model = model("d_cogvideox15_5b_rope_pt2")) {
            assertThatThrownBy(() -> model.forward(input(model, 1, 3, 6, 10, 8)))
                    .isInstanceOf(CogVideoXException.class)
                    .hasMessageContaining("3 latent frames is not a multiple of patch_size_t = 2");
        }
    }

    @Test
    void rejectsMissingOfsForTheOfsModel() throws Exception {
        try (CogVideoXTransformer model = model("g_cogvideox15_5b_i2v_ofs_public")) {
            assertThatThrownBy(() -> model.forward(input(model, 1, 2, 4, 10, 8)))
                    .isInstanceOf(CogVideoXException.class)
                    .hasMessageContaining("OFS embedding")
                    .hasMessageContaining("2.0");
        }
    }

    @Test
    void rejectsOfsForAModelWithoutOfsEmbedding() throws Exception {
        try (CogVideoXTransformer model = model("b_cogvideox_5b_rope")) {
            TransformerInput in = input(model, 1, 2, 6, 12, 8).withOfs(manager.create(new float[] {2f}));
            assertThatThrownBy(() -> model.forward(in))
                    .isInstanceOf(CogVideoXException.class)
                    .hasMessageContaining("has no OFS embedding");
        }
    }

    @Test
    void rejectsLearnedTableAtAnUntrainedHeightAndWidth() throws Exception {
        try (CogVideoXTransformer model = model("f_cogvideox_5b_i2v_learned_pos_public")) {
            assertThatThrownBy(() -> model.forward(input(model, 1, 4, 8, 10, 8)))
                    .isInstanceOf(CogVideoXException.class)
                    .hasMessageContaining("learned positional table covers only latent 6x10")
                    .hasMessageContaining("withSincosAtUntrainedSize");
        }
    }

    @Test
    void usesSincosTableAtAnUntrainedSizeWhenOptedIn() throws Exception {
        try (CogVideoXTransformer model = model("f_cogvideox_5b_i2v_learned_pos_public")) {
            NDArray out = model.forward(input(model, 1, 4, 8, 10, 8).withSincosAtUntrainedSize());
            assertThat(out.getShape()).isEqualTo(new Shape(1, 4, 4, 8, 10));
            assertThat(out.isInfinite().any().getBoolean() || out.isNaN().any().getBoolean()).isFalse();
        }
    }

    @Test
    void fallsBackToSincosLikeTheReferenceWhenOnlyTheFrameCountDiffers() throws Exception {
        try (CogVideoXTransformer model = model("f_cogvideox_5b_i2v_learned_pos_public")) {
            // Table rows cover 4 latent frames at 6x10; 2 frames silently use the sincos table in the reference.
            NDArray out = model.forward(input(model, 1, 2, 6, 10, 8));
            assertThat(out.getShape()).isEqualTo(new Shape(1, 2, 4, 6, 10));
        }
    }

    @Test
    void rejectsAWrongChannelCount() throws Exception {
        try (CogVideoXTransformer model = model("f_cogvideox_5b_i2v_learned_pos_public")) {
            NDArray x = manager.randomNormal(new Shape(1, 4, 4, 6, 10));
            TransformerInput in = TransformerInput.of(x, manager.randomNormal(new Shape(1, 8, 32)),
                    manager.create(new long[] {1}));
            assertThatThrownBy(() -> model.forward(in))
                    .isInstanceOf(CogVideoXException.class)
                    .hasMessageContaining("4 channels, the model expects in_channels = 8")
                    .hasMessageContaining("image latents");
        }
    }

    @Test
    void rejectsARotaryTableOfTheWrongSize() throws Exception {
        try (CogVideoXTransformer model = model("b_cogvideox_5b_rope")) {
            NDArray cos = manager.ones(new Shape(10, 32));
            TransformerInput in = input(model, 1, 2, 6, 12, 8).withRotaryEmbedding(cos, cos);
            assertThatThrownBy(() -> model.forward(in))
                    .isInstanceOf(CogVideoXException.class)
                    .hasMessageContaining("RoPE tables must be [N_video_tokens, head_dim] = (36, 32)");
        }
    }

    @Test
    void rejectsATimestepVectorOfTheWrongLength() throws Exception {
        try (CogVideoXTransformer model = model("b_cogvideox_5b_rope")) {
            TransformerInput good = input(model, 2, 2, 6, 12, 8);
            TransformerInput in = TransformerInput.of(good.hiddenStates(), good.encoderHiddenStates(),
                    manager.create(new long[] {1, 2, 3}));
            assertThatThrownBy(() -> model.forward(in))
                    .isInstanceOf(CogVideoXException.class)
                    .hasMessageContaining("timestep must be [B=2] or [1], got (3)");
        }
    }

    @Test
    void refusesAnUnknownWeightDtypeWithAnExceptionInsteadOfAbortingTheJvm() {
        // BFLOAT16 is legal since bf16 storage goes through the kernel pack (MixedPrecisionTest); UNKNOWN is not
        assertThatThrownBy(() -> CogVideoXTransformer.load(Golden.path("transformer", "b_cogvideox_5b_rope"), manager,
                DataType.UNKNOWN))
                .isInstanceOf(CogVideoXException.class)
                .satisfies(e -> assertThat(e.getMessage()).contains("UNKNOWN"));
        assertThat(manager.create(1f).getFloat()).isEqualTo(1f); // the JVM is still alive
    }

    @Test
    void refusesBf16InputArraysWithAnExceptionInsteadOfAbortingTheJvm() throws Exception {
        try (CogVideoXTransformer model = model("b_cogvideox_5b_rope");
                io.github.cogvideox4j.core.kernel.KernelPack pack = io.github.cogvideox4j.core.kernel.KernelPack.load()) {
            TransformerInput good = input(model, 1, 2, 6, 12, 8);
            NDArray bf16 = pack.toBf16(good.hiddenStates());    // DJL reports UNKNOWN for TorchScript-made bf16
            TransformerInput in = TransformerInput.of(bf16, good.encoderHiddenStates(), good.timestep());
            assertThatThrownBy(() -> model.forward(in))
                    .isInstanceOf(CogVideoXException.class)
                    .hasMessageContaining("hiddenStates");
            assertThat(model.forward(good).getShape().size()).isEqualTo(2 * 4 * 6 * 12); // still alive
        }
    }

    @Test
    void returnsTheSampleInTheInputsManagerAndFreesTemporaries() throws Exception {
        try (CogVideoXTransformer model = model("b_cogvideox_5b_rope");
                NDManager caller = manager.newSubManager()) {
            int modelArrays = managedArrays(manager) - managedArrays(caller);
            NDArray x = caller.randomNormal(new Shape(1, 2, 4, 6, 12));
            TransformerInput in = TransformerInput.of(x, caller.randomNormal(new Shape(1, 8, 32)),
                    caller.create(new long[] {10}));
            int before = caller.getManagedArrays().size();
            NDArray out = model.forward(in);
            assertThat(out.getManager()).isSameAs(caller);
            assertThat(caller.getManagedArrays()).hasSize(before + 1);
            assertThat(managedArrays(manager) - managedArrays(caller)).isEqualTo(modelArrays);
        }
    }

    private static int managedArrays(NDManager m) {
        return m.getManagedArrays().size();
    }
}
