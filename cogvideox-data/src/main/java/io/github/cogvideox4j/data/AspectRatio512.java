package io.github.cogvideox4j.data;

import java.util.List;

/**
 * {@code ASPECT_RATIO_512} of the community CogVideoX1.5 trainer ({@code finetune/data/bucket_sampler.py}, from
 * CogVideoX-Fun): 42 keys (ratio height/width as written in the source, in source order) with a [height, width] at the
 * 512 scale. Order matters: on exact ties of {@code |key - h/w|} the first key wins.
 *
 * <p>Thread safety: immutable.
 */
final class AspectRatio512 {
    /** One table row. */
    record Entry(String key, double ratio, int height, int width) {
    }

    private static final Object[] RAW = {
        "0.25", 256, 1024, "0.26", 256, 992, "0.27", 256, 960, "0.28", 256, 928, "0.32", 288, 896, "0.33", 288, 864,
        "0.35", 288, 832, "0.4", 320, 800, "0.42", 320, 768, "0.48", 352, 736, "0.5", 352, 704, "0.52", 352, 672,
        "0.53", 368, 688, "0.57", 384, 672, "0.6", 384, 640, "0.68", 416, 608, "0.72", 416, 576, "0.78", 448, 576,
        "0.82", 448, 544, "0.88", 480, 544, "0.94", 480, 512, "1.0", 512, 512, "1.07", 512, 480, "1.13", 544, 480,
        "1.21", 544, 448, "1.29", 576, 448, "1.38", 576, 416, "1.46", 608, 416, "1.67", 640, 384, "1.75", 672, 384,
        "1.87", 688, 368, "2.0", 704, 352, "2.09", 736, 352, "2.4", 768, 320, "2.5", 800, 320, "2.89", 832, 288,
        "3.0", 864, 288, "3.11", 896, 288, "3.62", 928, 256, "3.75", 960, 256, "3.88", 992, 256, "4.0", 1024, 256,
    };

    static final List<Entry> ENTRIES = build();

    private AspectRatio512() {
    }

    private static List<Entry> build() {
        Entry[] out = new Entry[RAW.length / 3];
        for (int i = 0; i < out.length; i++) {
            String key = (String) RAW[3 * i];
            out[i] = new Entry(key, Double.parseDouble(key), (Integer) RAW[3 * i + 1], (Integer) RAW[3 * i + 2]);
        }
        return List.of(out);
    }

    /** {@code get_closest_ratio}: the first entry minimising {@code |ratio - h/w|}. */
    static Entry closest(int height, int width) {
        double r = (double) height / width;
        Entry best = ENTRIES.get(0);
        double bestDiff = Math.abs(best.ratio() - r);
        for (Entry e : ENTRIES) {
            double d = Math.abs(e.ratio() - r);
            if (d < bestDiff) {
                best = e;
                bestDiff = d;
            }
        }
        return best;
    }
}
