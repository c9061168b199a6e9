package io.github.cogvideox4j.core.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv3d;

/**
 * {@code CogVideoXCausalConv3d} with pad mode "first" (and, for kernel 1, the plain {@code CogVideoXSafeConv3d}).
 * Before a k×k×k conv the input is prefixed with {@code k-1} frames: the previous chunk's cache, else copies of the
 * first frame; the cache kept is the last {@code k-1} frames of the prefixed input. Spatial padding {@code (k-1)/2}
 * zeros, stride 1.
 *
 * <p>Shapes: {@code [B, in, T, H, W] -> [B, out, T, H, W]}. Thread safety: immutable (the cache is per call).
 */
final class CausalConv3d {
    private final String name;
    private final NDArray weight;
    private final NDArray bias;
    private final int kernel;

    CausalConv3d(String name, int in, int out, int kernel, Params p) {
        this.name = name;
        this.kernel = kernel;
        this.weight = p.take(name + ".conv.weight", out, in, kernel, kernel, kernel);
        this.bias = p.take(name + ".conv.bias", out);
    }

    /**
     * @param x {@code [B, in, T, H, W]}
     * @param cache the conv caches of this pass (read and updated)
     * @return {@code [B, out, T, H, W]} in x's manager
     */
    NDArray forward(NDArray x, ConvCache cache) {
        if (kernel == 1) {
            return Conv3d.conv3d(x, weight, bias, new Shape(1, 1, 1), new Shape(0, 0, 0), new Shape(1, 1, 1), 1)
                    .singletonOrThrow();
        }
        int pad = kernel - 1;
        // 1. prefix k-1 frames: the cache of the previous chunk, else copies of frame 0
        NDArray cached = cache.get(name);
        NDArray padded;
        if (cached != null) {
            padded = Ops.concat(x, 2, cached, x);
        } else {
            try (NDArray first = x.get(new NDIndex(":, :, 0:1"))) {
                NDArray[] parts = new NDArray[pad + 1];
                for (int i = 0; i < pad; i++) {
                    parts[i] = first;
                }
                parts[pad] = x;
                padded = Ops.concat(x, 2, parts);
            }
        }
        // 2. keep the last k-1 frames of the prefixed input for the next chunk
        try (NDArray last = padded.get(new NDIndex(":, :, -" + pad + ":"))) {
            cache.put(name, last);
        }
        // 3. conv: no temporal padding, spatial zero padding
        int sp = (kernel - 1) / 2;
        try (padded) {
            return Conv3d.conv3d(padded, weight, bias, new Shape(1, 1, 1), new Shape(0, sp, sp), new Shape(1, 1, 1),
                    1).singletonOrThrow();
        }
    }
}
