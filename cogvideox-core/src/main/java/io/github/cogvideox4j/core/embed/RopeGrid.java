package io.github.cogvideox4j.core.embed;

import io.github.cogvideox4j.core.config.CogVideoXConfig;

/** TEMPORARY stub (replaced by the rope branch). */
public record RopeGrid(int frames, int gridHeight, int gridWidth, GridType type, int baseHeight, int baseWidth) {
    public enum GridType { LINSPACE, SLICE }

    public static RopeGrid forPipeline(CogVideoXConfig c, int latentFrames, int latentHeight, int latentWidth) {
        int p = c.patchSize();
        if (c.patchSizeT() == null) {
            return new RopeGrid(latentFrames, latentHeight / p, latentWidth / p, GridType.LINSPACE,
                    c.sampleHeight() / p, c.sampleWidth() / p);
        }
        int pt = c.patchSizeT();
        return new RopeGrid((latentFrames + pt - 1) / pt, latentHeight / p, latentWidth / p, GridType.SLICE,
                c.sampleHeight() / p, c.sampleWidth() / p);
    }

    public int tokens() {
        return frames * gridHeight * gridWidth;
    }
}
