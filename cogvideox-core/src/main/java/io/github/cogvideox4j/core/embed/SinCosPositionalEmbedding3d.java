package io.github.cogvideox4j.core.embed;

/** TEMPORARY stub (replaced by the rope branch). */
public final class SinCosPositionalEmbedding3d {
    private SinCosPositionalEmbedding3d() {}

    public static float[] compute(int embedDim, int gridHeight, int gridWidth, int frames,
            double spatialInterpolationScale, double temporalInterpolationScale) {
        int dt = embedDim / 4, ds = 3 * embedDim / 4, half = ds / 2;
        int hw = gridHeight * gridWidth;
        float[] out = new float[frames * hw * embedDim];
        for (int t = 0; t < frames; t++) {
            double pt = (float) (t / (float) temporalInterpolationScale);
            for (int h = 0; h < gridHeight; h++) {
                double ph = (float) (h / (float) spatialInterpolationScale);
                for (int w = 0; w < gridWidth; w++) {
                    double pw = (float) (w / (float) spatialInterpolationScale);
                    int base = ((t * gridHeight + h) * gridWidth + w) * embedDim;
                    oneD(out, base, dt, pt);
                    oneD(out, base + dt, half, pw);
                    oneD(out, base + dt + half, half, ph);
                }
            }
        }
        return out;
    }

    private static void oneD(float[] out, int off, int d, double pos) {
        int h = d / 2;
        for (int m = 0; m < h; m++) {
            double omega = 1.0 / Math.pow(10000, m / (d / 2.0));
            double a = pos * omega;
            out[off + m] = (float) Math.sin(a);
            out[off + h + m] = (float) Math.cos(a);
        }
    }
}
