package io.github.cogvideox4j.core.model;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;
import io.github.cogvideox4j.core.io.SafetensorsReader;
import io.github.cogvideox4j.core.io.TensorSource;
import io.github.cogvideox4j.core.testing.Golden;
import io.github.cogvideox4j.core.testing.Tolerance;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * DJL's {@code manager.create(float[])} and {@code x.mul(Number)} wrap Java direct buffers without copying; if autograd
 * saves such a tensor for backward and the Java buffer is collected before backward runs, the gradient reads freed
 * memory. The model must never let such a tensor into the graph: run a forward, collect garbage and overwrite freed
 * native memory, then backward, and the gradients must still equal the reference.
 */
class GarbageCollectionSafetyTest {
    @ParameterizedTest
    @EnumSource(KernelMode.class)
    void gradientsSurviveAGarbageCollectionBetweenForwardAndBackward(KernelMode mode) throws Exception {
        for (String name : new String[] {"b_cogvideox_5b_rope", "g_cogvideox15_5b_i2v_ofs_public"}) {
            Path dir = Golden.path("transformer", name);
            try (NDManager manager = NDManager.newBaseManager();
                    CogVideoXTransformer model = CogVideoXTransformer.load(dir, manager);
                    TensorSource in = SafetensorsReader.open(dir.resolve("inputs.safetensors"));
                    TensorSource grads = SafetensorsReader.open(dir.resolve("grads.safetensors"))) {
                model.setKernelMode(mode);
                TransformerInput input = TransformerInput.of(in.read("hidden_states", manager),
                        in.read("encoder_hidden_states", manager), in.read("timestep", manager));
                if (in.names().contains("ofs")) {
                    input = input.withOfs(in.read("ofs", manager));
                }
                NDArray gradG = in.read("grad_G", manager);
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    NDArray loss = model.forward(input).mul(gradG).sum();
                    scrubFreedDirectMemory();
                    gc.backward(loss);
                }
                for (String key : grads.names()) {
                    if (!key.startsWith("inputs.")) {
                        Tolerance.assertCloseToMax(name + " " + mode + " grad " + key,
                                model.namedParameters().get(key).getGradient().toFloatArray(), grads.readFloats(key),
                                1e-4, 1e-7);
                    }
                }
            }
        }
    }

    @org.junit.jupiter.api.Test
    void objectiveGradientsSurviveAGarbageCollectionBetweenLossAndBackward() throws Exception {
        var config = io.github.cogvideox4j.core.config.CogVideoXConfig.tiny(
                io.github.cogvideox4j.core.config.CogVideoXVariant.COGVIDEOX_1_5_5B_I2V);
        var objective = io.github.cogvideox4j.core.schedule.CogVideoXObjective.of(
                io.github.cogvideox4j.core.schedule.CogVideoXDdimScheduler.fromConfig(
                        Golden.path("scheduler", "ddim_5b_config", "scheduler_config.json")));
        float[][] grads = new float[2][];
        for (int run = 0; run < 2; run++) {
            try (NDManager manager = NDManager.newBaseManager();
                    CogVideoXTransformer model = CogVideoXTransformer.random(config, manager, 5)) {
                ai.djl.engine.Engine.getInstance().setRandomSeed(11);
                var shape = new ai.djl.ndarray.types.Shape(2, 3, 4, 8, 12);
                NDArray latents = manager.randomNormal(shape);
                NDArray noise = manager.randomNormal(new ai.djl.ndarray.types.Shape(2, 4, 4, 8, 12));
                NDArray text = manager.randomNormal(new ai.djl.ndarray.types.Shape(2, 8, 32));
                NDArray image = manager.randomNormal(new ai.djl.ndarray.types.Shape(2, 1, 4, 8, 12));
                var in = io.github.cogvideox4j.core.schedule.TrainingInput.of(latents, text,
                        manager.create(new long[] {17, 901}), noise).withImageLatents(image)
                        .withOfs(manager.create(new float[] {2f}));
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    NDArray loss = objective.loss(model, in);
                    if (run == 1) {
                        scrubFreedDirectMemory();
                    }
                    gc.backward(loss);
                }
                grads[run] = model.namedParameters().get("time_embedding.linear_1.weight").getGradient()
                        .toFloatArray();
            }
        }
        org.assertj.core.api.Assertions.assertThat(grads[1]).containsExactly(grads[0]);
    }

    /** Collects unreachable direct buffers, then reallocates that memory and fills it with a huge value. */
    static void scrubFreedDirectMemory() throws InterruptedException {
        for (int round = 0; round < 3; round++) {
            System.gc();
            Thread.sleep(50);
            List<ByteBuffer> junk = new ArrayList<>();
            for (int i = 0; i < 2000; i++) {
                ByteBuffer b = ByteBuffer.allocateDirect(16 + (i % 64) * 64);
                while (b.remaining() >= 4) {
                    b.putFloat(1.0e30f);
                }
                junk.add(b);
            }
            junk.clear();
        }
    }
}
