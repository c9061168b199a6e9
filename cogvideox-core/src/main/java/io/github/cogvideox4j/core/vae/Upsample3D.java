package io.github.cogvideox4j.core.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;

/**
 * {@code CogVideoXUpsample3D}: nearest 2x upsampling (with {@code compress_time}: an odd frame count > 1 keeps frame 0
 * single and doubles the rest, an even count doubles all, one frame stays one) then a 3x3 Conv2d (padding 1) per
 * frame.
 *
 * <p>Shapes: {@code [B, C, T, H, W] -> [B, C, T', 2H, 2W]}. Thread safety: immutable.
 */
final class Upsample3D {
    private final NDArray weight;
    private final NDArray bias;
    private final boolean compressTime;

    Upsample3D(String name, int channels, boolean compressTime, Params p) {
        this.weight = p.take(name + ".conv.weight", channels, channels, 3, 3);
        this.bias = p.take(name + ".conv.bias", channels);
        this.compressTime = compressTime;
    }

    NDArray forward(NDArray x) {
        long t = x.getShape().get(2);
        // 1. nearest upsampling
        NDArray h;
        if (compressTime && t > 1 && t % 2 == 1) {
            try (NDArray first = x.get(new NDIndex(":, :, 0:1")); NDArray rest = x.get(new NDIndex(":, :, 1:"));
                    NDArray a = spatial(first); NDArray r2 = Ops.nearest(rest, 2, 2 * (t - 1));
                    NDArray b = spatial(r2)) {
                h = Ops.concat(x, 2, a, b);
            }
        } else if (compressTime && t > 1) {
            try (NDArray r2 = Ops.nearest(x, 2, 2 * t)) {
                h = spatial(r2);
            }
        } else {
            h = spatial(x);
        }
        // 2. 3x3 conv per frame
        Shape s = h.getShape();
        long b = s.get(0);
        long c = s.get(1);
        long tt = s.get(2);
        try (h; NDArray perm = h.transpose(0, 2, 1, 3, 4);
                NDArray frames = perm.reshape(b * tt, c, s.get(3), s.get(4));
                NDArray y = Conv2d.conv2d(frames, weight, bias, new Shape(1, 1), new Shape(1, 1), new Shape(1, 1), 1)
                        .singletonOrThrow();
                NDArray back = y.reshape(b, tt, y.getShape().get(1), y.getShape().get(2), y.getShape().get(3))) {
            return back.transpose(0, 2, 1, 3, 4).duplicate();
        }
    }

    private static NDArray spatial(NDArray x) {
        try (NDArray a = Ops.nearest(x, 3, 2 * x.getShape().get(3))) {
            return Ops.nearest(a, 4, 2 * x.getShape().get(4));
        }
    }
}
