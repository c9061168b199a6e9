package io.github.cogvideox4j.data.cache;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import io.github.cogvideox4j.data.media.ContentHash;
import java.nio.FloatBuffer;
import java.util.concurrent.atomic.AtomicInteger;

/** Small deterministic stand-ins for the VAE and T5, with call counters. */
public final class TinyEncoders {
    private TinyEncoders() {}

    /**
     * "VAE": keeps frames 0, 4, 8, ... (4k+1 -> k+1), average-pools 8x8, channels = RGB + their mean (C = 4);
     * mean || logvar with logvar = -2 everywhere: {@code [8, F_lat, H/8, W/8]}.
     */
    public static final class Vae implements LatentEncoder {
        private final String identity;
        public final AtomicInteger calls = new AtomicInteger();

        public Vae(String identity) {
            this.identity = identity;
        }

        @Override
        public String identity() {
            return identity;
        }

        @Override
        public float scalingFactor() {
            return 0.7f;
        }

        @Override
        public NDArray encodeMoments(NDArray pixels, NDManager manager) {
            calls.incrementAndGet();
            try (NDManager scratch = manager.newSubManager()) {
                pixels.tempAttach(scratch);
                Shape s = pixels.getShape();
                long h = s.get(2) / 8;
                long w = s.get(3) / 8;
                NDArray kept = pixels.get(new NDIndex("::4")); // [Fl, 3, H, W]
                long fl = kept.getShape().get(0);
                NDArray pooled = kept.reshape(fl, 3, h, 8, w, 8).mean(new int[] {5}).mean(new int[] {3}); // [Fl, 3, h, w]
                NDArray rgbm = pooled.concat(pooled.mean(new int[] {1}, true), 1); // [Fl, 4, h, w]
                NDArray mean = rgbm.transpose(1, 0, 2, 3); // [4, Fl, h, w]
                NDArray logvar = scratch.full(mean.getShape(), -2f);
                NDArray out = NDArrays.concat(new NDList(mean, logvar), 0); // [8, Fl, h, w]
                out.attach(manager);
                return out;
            }
        }
    }

    /** "T5": {@code [8, 16]} values derived from the prompt's hash. */
    public static final class Text implements TextEncoder {
        public final AtomicInteger calls = new AtomicInteger();

        @Override
        public String identity() {
            return "tiny-t5/v1";
        }

        @Override
        public NDArray encode(String prompt, NDManager manager) {
            calls.incrementAndGet();
            byte[] h = ContentHash.sha256(prompt).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            float[] v = new float[8 * 16];
            for (int i = 0; i < v.length; i++) {
                v[i] = (h[i % h.length] - 'a') / 16f;
            }
            return manager.create(FloatBuffer.wrap(v), new Shape(8, 16));
        }
    }
}
