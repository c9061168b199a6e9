package io.github.cogvideox4j.core.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;

/**
 * {@code CogVideoXDownsample3D}: with {@code compress_time}, averages frame pairs (keeping frame 0 alone when the
 * frame count is odd); then zero-pads one column right and one row at the bottom and applies a stride-2 3x3 Conv2d
 * to every frame.
 *
 * <p>Shapes: {@code [B, C, T, H, W] -> [B, C, T', (H-1)/2+1... , ...]} with {@code T' = T/2} (even), {@code T/2+1}
 * (odd, compressing) or {@code T}. Thread safety: immutable.
 */
final class Downsample3D {
    private final NDArray weight;
    private final NDArray bias;
    private final boolean compressTime;

    Downsample3D(String name, int channels, boolean compressTime, Params p) {
        this.weight = p.take(name + ".conv.weight", channels, channels, 3, 3);
        this.bias = p.take(name + ".conv.bias", channels);
        this.compressTime = compressTime;
    }

    NDArray forward(NDArray x) {
        NDArray h = x.duplicate();
        // 1. temporal average of frame pairs
        if (compressTime) {
            long t = h.getShape().get(2);
            try (NDArray in = h) {
                if (t % 2 == 1) {
                    try (NDArray first = in.get(new NDIndex(":, :, 0:1")); NDArray rest = in.get(new NDIndex(":, :, 1:"));
                            NDArray pooled = pairMean(rest)) {
                        h = Ops.concat(x, 2, first, pooled);
                    }
                } else {
                    h = pairMean(in);
                }
            }
        }
        // 2. pad right/bottom with zeros, stride-2 conv per frame
        NDArray hh = h;
        Shape s = hh.getShape();
        long b = s.get(0);
        long c = s.get(1);
        long t = s.get(2);
        try (hh; NDArray col = hh.getManager().zeros(new Shape(b, c, t, s.get(3), 1));
                NDArray wide = Ops.concat(hh, 4, hh, col);
                NDArray row = hh.getManager().zeros(new Shape(b, c, t, 1, s.get(4) + 1));
                NDArray padded = Ops.concat(hh, 3, wide, row);
                NDArray perm = padded.transpose(0, 2, 1, 3, 4);
                NDArray frames = perm.reshape(b * t, c, s.get(3) + 1, s.get(4) + 1);
                NDArray y = Conv2d.conv2d(frames, weight, bias, new Shape(2, 2), new Shape(0, 0), new Shape(1, 1), 1)
                        .singletonOrThrow();
                NDArray back = y.reshape(b, t, c, y.getShape().get(2), y.getShape().get(3))) {
            return back.transpose(0, 2, 1, 3, 4).duplicate();
        }
    }

    private static NDArray pairMean(NDArray x) {
        Shape s = x.getShape();
        if (s.get(2) == 0) {
            return x.duplicate();
        }
        try (NDArray r = x.reshape(s.get(0), s.get(1), s.get(2) / 2, 2, s.get(3), s.get(4))) {
            return r.mean(new int[] {3});
        }
    }
}
