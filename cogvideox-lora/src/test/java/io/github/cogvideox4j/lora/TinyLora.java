package io.github.cogvideox4j.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.core.config.CogVideoXConfig;
import io.github.cogvideox4j.core.config.CogVideoXVariant;
import io.github.cogvideox4j.core.io.SafetensorsWriter;
import io.github.cogvideox4j.core.io.TensorData;
import io.github.cogvideox4j.core.model.TransformerInput;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/** Test helpers: the tiny 5b-structured config, its inputs, non-zero LoRA weights and crafted LoRA files. */
final class TinyLora {
    static final CogVideoXConfig CONFIG = CogVideoXConfig.tiny(CogVideoXVariant.COGVIDEOX_5B);
    static final int D = CONFIG.innerDim();

    private TinyLora() {}

    static TransformerInput input(NDManager manager, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        Shape shape = new Shape(1, CONFIG.sampleLatentFrames(), CONFIG.inChannels(), CONFIG.sampleHeight(),
                CONFIG.sampleWidth());
        NDArray x = manager.create(gaussian(r, (int) shape.size()), shape);
        Shape ts = new Shape(1, CONFIG.maxTextSeqLength(), CONFIG.textEmbedDim());
        NDArray text = manager.create(gaussian(r, (int) ts.size()), ts);
        return TransformerInput.of(x, text, manager.create(new long[] {500}));
    }

    static float[] gaussian(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            // Box-Muller
            v[i] = (float) (Math.sqrt(-2 * Math.log(1 - r.nextDouble())) * Math.cos(2 * Math.PI * r.nextDouble()));
        }
        return v;
    }

    /** Gives every lora_B (and lora_A) of the adapter random values of about {@code std}. */
    static void randomize(LoraAdapter lora, long seed, double std) {
        SplittableRandom r = new SplittableRandom(seed);
        for (NDArray p : lora.namedParameters().values()) {
            float[] v = gaussian(r, (int) p.getShape().size());
            for (int i = 0; i < v.length; i++) {
                v[i] *= (float) std;
            }
            try (NDArray src = p.getManager().create(v, p.getShape())) {
                p.set(new NDIndex(":"), src);
            }
        }
    }

    /** Writes random A/B for the given modules under the given key function. */
    static void writeFile(Path file, List<String> modules, int rank, long seed, KeyNamer namer,
            Map<String, String> metadata) throws IOException {
        SplittableRandom r = new SplittableRandom(seed);
        List<TensorData> tensors = new ArrayList<>();
        for (String m : modules) {
            tensors.add(TensorData.f32(namer.key(m, true), new long[] {rank, D}, scaled(gaussian(r, rank * D), 0.1)));
            tensors.add(TensorData.f32(namer.key(m, false), new long[] {D, rank}, scaled(gaussian(r, rank * D), 0.1)));
        }
        SafetensorsWriter.write(file, tensors, metadata);
    }

    static float[] scaled(float[] v, double s) {
        for (int i = 0; i < v.length; i++) {
            v[i] *= (float) s;
        }
        return v;
    }

    static List<String> defaultModules() {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < CONFIG.numLayers(); i++) {
            for (String t : LoraConfig.DEFAULT_TARGETS) {
                out.add("transformer_blocks." + i + ".attn1." + t);
            }
        }
        return out;
    }

    /** Names a module's A or B tensor in some file layout. */
    interface KeyNamer {
        String key(String module, boolean isA);
    }

    static float maxAbsDiff(float[] a, float[] b) {
        float m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }
}
