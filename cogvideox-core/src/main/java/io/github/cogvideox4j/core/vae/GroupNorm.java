package io.github.cogvideox4j.core.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * {@code torch.nn.GroupNorm} composed from tensor ops (DJL has none): statistics over each group's channels and all
 * of {@code (T, H, W)} of the given array (so per frame chunk), biased variance, then the per-channel affine.
 *
 * <p>Shapes: {@code [B, C, ...] -> [B, C, ...]}. Thread safety: immutable.
 */
final class GroupNorm {
    private final NDArray weight;
    private final NDArray bias;
    private final int groups;
    private final double eps;

    GroupNorm(String name, int channels, int groups, double eps, Params p) {
        this.weight = p.take(name + ".weight", channels);
        this.bias = p.take(name + ".bias", channels);
        this.groups = groups;
        this.eps = eps;
    }

    /**
     * @param x {@code [B, C, T, H, W]}
     * @return the normalized array in x's manager
     */
    NDArray forward(NDArray x) {
        Shape shape = x.getShape();
        long b = shape.get(0);
        long c = shape.get(1);
        // 1. [B, G, C/G * T*H*W]: mean and biased variance per group
        try (NDArray g = x.reshape(b, groups, -1);
                NDArray mean = g.mean(new int[] {2}, true);
                NDArray d = g.sub(mean);
                NDArray sq = d.square();
                NDArray var = sq.mean(new int[] {2}, true);
                NDArray ve = Ops.addScalar(var, eps);
                NDArray std = ve.sqrt();
                NDArray n = d.div(std);
                NDArray back = n.reshape(shape)) {
            // 2. per-channel affine
            long[] affine = new long[shape.dimension()];
            java.util.Arrays.fill(affine, 1);
            affine[1] = c;
            try (NDArray w = weight.reshape(new Shape(affine)); NDArray bb = bias.reshape(new Shape(affine));
                    NDArray scaled = back.mul(w)) {
                return scaled.add(bb);
            }
        }
    }
}
