package io.github.cogvideox4j.core.pipeline;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import io.github.cogvideox4j.core.testing.Golden;
import io.github.cogvideox4j.core.testing.TestDevice;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** The pipeline runs on its components' device and refuses an owner manager on another one. */
class PipelineDeviceTest {
    private static final PromptEncoder UNUSED = PromptEncoder.unavailable();

    @Test
    void thePipelineIsOnTheDeviceOfItsLoadManager() throws Exception {
        Path dir = Golden.path("pipeline", "t2v_5b", "model");
        try (NDManager manager = NDManager.newBaseManager(TestDevice.get());
                CogVideoXPipeline pipe = CogVideoXPipeline.load(dir, manager, UNUSED)) {
            assertThat(pipe.device()).isEqualTo(TestDevice.get());
            assertThat(pipe.transformer().device()).isEqualTo(TestDevice.get());
            assertThat(pipe.vae().device()).isEqualTo(TestDevice.get());
        }
    }

    @Test
    void anOwnerOnAnotherDeviceFailsBeforeAnythingIsMade() throws Exception {
        Path dir = Golden.path("pipeline", "t2v_5b", "model");
        Device other = TestDevice.get().isGpu() ? Device.cpu() : Device.gpu(0);
        GenerationRequest request = GenerationRequest.builder().prompt("a panda").height(48).width(64).numFrames(9)
                .inferenceSteps(2).seed(11).build();
        try (NDManager manager = NDManager.newBaseManager(TestDevice.get());
                CogVideoXPipeline pipe = CogVideoXPipeline.load(dir, manager, UNUSED);
                NDManager owner = NDManager.newBaseManager(other)) {
            assertThatThrownBy(() -> pipe.generate(request, owner, StepListener.NONE))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessage("generate: the owner manager is on " + other + " but the pipeline on "
                            + TestDevice.get() + "; pass a manager of the pipeline's device (NDManager.newBaseManager("
                            + "pipeline.device()))");
            assertThat(owner.getManagedArrays()).isEmpty();
        }
    }
}
