package io.github.cogvideox4j.data;

import com.google.common.base.Preconditions;
import java.util.List;

/** Argument checks shared by the rules. Internal; stateless. */
final class RuleChecks {
    private RuleChecks() {
    }

    static void checkClip(int numFrames, int height, int width) {
        Preconditions.checkArgument(numFrames > 0 && height > 0 && width > 0,
                "clip sizes must be positive, got %sx%sx%s (frames x height x width)", numFrames, height, width);
    }

    static Bucket[] bucketArray(List<Bucket> buckets) {
        Preconditions.checkArgument(buckets != null && !buckets.isEmpty(), "the bucket list is empty");
        Bucket[] out = buckets.toArray(new Bucket[0]);
        for (Bucket b : out) {
            Preconditions.checkArgument(b != null, "the bucket list contains null");
        }
        return out;
    }

    static int[] positiveInts(List<Integer> values, String name) {
        Preconditions.checkArgument(values != null && !values.isEmpty(), "%s is empty", name);
        int[] out = new int[values.size()];
        for (int i = 0; i < out.length; i++) {
            Integer v = values.get(i);
            Preconditions.checkArgument(v != null && v > 0, "%s[%s] must be positive, got %s", name, i, v);
            out[i] = v;
        }
        return out;
    }
}
