package io.github.cogvideox4j.core.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv3d;

/**
 * {@code CogVideoXResnetBlock3D} without time embedding: norm1 -> silu -> conv1 -> norm2 -> silu -> conv2, plus the
 * input (through a 1x1x1 {@code conv_shortcut} when the channel count changes). The norms are GroupNorms in the
 * encoder and {@link SpatialNorm3D}s (conditioned on the latents) in the decoder.
 *
 * <p>Shapes: {@code [B, in, T, H, W] -> [B, out, T, H, W]}. Thread safety: immutable.
 */
final class ResnetBlock3D {
    private final GroupNorm norm1;
    private final GroupNorm norm2;
    private final SpatialNorm3D spatialNorm1;
    private final SpatialNorm3D spatialNorm2;
    private final CausalConv3d conv1;
    private final CausalConv3d conv2;
    private final NDArray shortcutWeight;
    private final NDArray shortcutBias;

    /**
     * @param spatialNormDim latent channels for spatial norms (decoder), or 0 for GroupNorms (encoder)
     */
    ResnetBlock3D(String name, int in, int out, int groups, double eps, int spatialNormDim, Params p) {
        if (spatialNormDim == 0) {
            norm1 = new GroupNorm(name + ".norm1", in, groups, eps, p);
            norm2 = new GroupNorm(name + ".norm2", out, groups, eps, p);
            spatialNorm1 = null;
            spatialNorm2 = null;
        } else {
            norm1 = null;
            norm2 = null;
            spatialNorm1 = new SpatialNorm3D(name + ".norm1", in, spatialNormDim, groups, p);
            spatialNorm2 = new SpatialNorm3D(name + ".norm2", out, spatialNormDim, groups, p);
        }
        conv1 = new CausalConv3d(name + ".conv1", in, out, 3, p);
        conv2 = new CausalConv3d(name + ".conv2", out, out, 3, p);
        if (in != out) {
            shortcutWeight = p.take(name + ".conv_shortcut.weight", out, in, 1, 1, 1);
            shortcutBias = p.take(name + ".conv_shortcut.bias", out);
        } else {
            shortcutWeight = null;
            shortcutBias = null;
        }
    }

    /**
     * @param x {@code [B, in, T, H, W]}
     * @param zq the decoder's latents for spatial norms, or {@code null} in the encoder
     * @param cache the conv caches of this pass
     * @return {@code [B, out, T, H, W]} in x's manager
     */
    NDArray forward(NDArray x, NDArray zq, ConvCache cache) {
        // 1. norm1 -> silu -> conv1
        NDArray h;
        try (NDArray n = spatialNorm1 != null ? spatialNorm1.forward(x, zq, cache) : norm1.forward(x);
                NDArray a = Ops.silu(n)) {
            h = conv1.forward(a, cache);
        }
        // 2. norm2 -> silu -> (dropout 0) -> conv2
        NDArray h2;
        try (h; NDArray n = spatialNorm2 != null ? spatialNorm2.forward(h, zq, cache) : norm2.forward(h);
                NDArray a = Ops.silu(n)) {
            h2 = conv2.forward(a, cache);
        }
        // 3. residual
        try (h2) {
            if (shortcutWeight == null) {
                return h2.add(x);
            }
            try (NDArray s = Conv3d.conv3d(x, shortcutWeight, shortcutBias, new Shape(1, 1, 1), new Shape(0, 0, 0),
                    new Shape(1, 1, 1), 1).singletonOrThrow()) {
                return h2.add(s);
            }
        }
    }
}
