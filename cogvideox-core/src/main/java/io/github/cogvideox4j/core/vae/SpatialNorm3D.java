package io.github.cogvideox4j.core.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;

/**
 * {@code CogVideoXSpatialNorm3D}: {@code GroupNorm(f) * conv_y(zq) + conv_b(zq)} where {@code zq} (the decoder's
 * input latents) is nearest-resized to f's {@code (T, H, W)}; for an odd {@code T > 1} the first latent frame is
 * resized to one frame and the rest to {@code T-1} frames. The 1x1x1 convs use no cache.
 *
 * <p>Shapes: f {@code [B, C, T, H, W]}, zq {@code [B, Z, t, h, w]} -> {@code [B, C, T, H, W]}. Thread safety:
 * immutable.
 */
final class SpatialNorm3D {
    private final GroupNorm norm;
    private final CausalConv3d convY;
    private final CausalConv3d convB;

    SpatialNorm3D(String name, int fChannels, int zqChannels, int groups, Params p) {
        this.norm = new GroupNorm(name + ".norm_layer", fChannels, groups, 1e-6, p);
        this.convY = new CausalConv3d(name + ".conv_y", zqChannels, fChannels, 1, p);
        this.convB = new CausalConv3d(name + ".conv_b", zqChannels, fChannels, 1, p);
    }

    NDArray forward(NDArray f, NDArray zq, ConvCache cache) {
        Shape fs = f.getShape();
        long t = fs.get(2);
        // 1. resize zq to f's frames and pixels
        NDArray z;
        if (t > 1 && t % 2 == 1) {
            try (NDArray first = zq.get(new NDIndex(":, :, 0:1")); NDArray rest = zq.get(new NDIndex(":, :, 1:"));
                    NDArray a = resize(first, 1, fs); NDArray b = resize(rest, t - 1, fs)) {
                z = Ops.concat(f, 2, a, b);
            }
        } else {
            z = resize(zq, t, fs);
            z.attach(f.getManager());
        }
        // 2. norm(f) * conv_y(z) + conv_b(z)
        try (z; NDArray y = convY.forward(z, cache); NDArray bb = convB.forward(z, cache);
                NDArray n = norm.forward(f); NDArray m = n.mul(y)) {
            return m.add(bb);
        }
    }

    private static NDArray resize(NDArray z, long frames, Shape fs) {
        try (NDArray a = Ops.nearest(z, 2, frames); NDArray b = Ops.nearest(a, 3, fs.get(3))) {
            return Ops.nearest(b, 4, fs.get(4));
        }
    }
}
