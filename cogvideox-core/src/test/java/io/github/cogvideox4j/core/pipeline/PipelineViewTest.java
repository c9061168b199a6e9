package io.github.cogvideox4j.core.pipeline;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.testing.Golden;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** {@link CogVideoXPipeline#of}: a non-owning view over loaded components (tiny golden t2v_5b folder). */
class PipelineViewTest {
    /** Embeddings that depend on the prompt length, so positive and negative differ. */
    private static final PromptEncoder STUB = (prompts, m) -> {
        NDArray e = m.arange(0f, 226f * 32f).reshape(1, 226, 32).div(226f * 32f);
        NDArray rows = e.repeat(0, prompts.size());
        return rows.mul(prompts.get(0).length() % 5 + 1f);
    };

    private static GenerationRequest request() {
        return GenerationRequest.builder().prompt("a panda").height(48).width(64).numFrames(9).inferenceSteps(2)
                .seed(11).build();
    }

    @Test
    void viewGeneratesTheSameVideoAsTheLoadedPipeline() throws Exception {
        Path dir = Golden.path("pipeline", "t2v_5b", "model");
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXPipeline pipe = CogVideoXPipeline.load(dir, manager, STUB)) {
            float[] loaded = pipe.generate(request()).toFloatArray();
            try (CogVideoXPipeline view = CogVideoXPipeline.of(manager, pipe.transformer(), pipe.vae(),
                    pipe.scheduler(), STUB)) {
                NDArray video = view.generate(request());
                assertThat(view.className()).isEqualTo("CogVideoXPipeline");
                assertThat(video.getShape()).isEqualTo(new Shape(1, 9, 3, 48, 64));
                assertThat(video.toFloatArray()).containsExactly(loaded);
            }
        }
    }

    @Test
    void closingTheViewLeavesTheComponentsUsable() throws Exception {
        Path dir = Golden.path("pipeline", "t2v_5b", "model");
        try (NDManager manager = NDManager.newBaseManager();
                CogVideoXPipeline pipe = CogVideoXPipeline.load(dir, manager, STUB)) {
            CogVideoXPipeline.of(manager, pipe.transformer(), pipe.vae(), pipe.scheduler(), STUB).close();

            NDArray video = pipe.generate(request());

            assertThat(video.getShape()).isEqualTo(new Shape(1, 9, 3, 48, 64));
            assertThat(Float.isFinite(video.sum().getFloat())).isTrue();
        }
    }
}
