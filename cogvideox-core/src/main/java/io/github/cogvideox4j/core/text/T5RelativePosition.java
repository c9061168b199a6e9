package io.github.cogvideox4j.core.text;

import com.google.common.base.Preconditions;

/**
 * T5's bidirectional relative position buckets ({@code T5Attention._relative_position_bucket}) and the position bias
 * they index.
 *
 * <p>For {@code rel = key - query}: half the buckets per direction (keys after the query get the upper half); within
 * a half, distances below {@code n/2} get their own bucket and larger ones a log-spaced bucket up to
 * {@code max_distance}, computed as in PyTorch in float32 ({@code log(d / maxExact) / log(maxDistance / maxExact)
 * * (n - maxExact)}) and truncated toward zero. Thread safety: stateless.
 */
public final class T5RelativePosition {
    private T5RelativePosition() {}

    /**
     * @param rel {@code key_position - query_position}
     * @param numBuckets buckets of both directions together (32 for T5)
     * @param maxDistance distance where the last bucket starts (128 for T5)
     * @return the bucket in {@code [0, numBuckets)}
     */
    public static int bucket(int rel, int numBuckets, int maxDistance) {
        Preconditions.checkArgument(numBuckets >= 4 && numBuckets % 4 == 0, "numBuckets %s", numBuckets);
        int half = numBuckets / 2;
        int b = rel > 0 ? half : 0;
        int n = Math.abs(rel);
        int maxExact = half / 2;
        if (n < maxExact) {
            return b + n;
        }
        // float32 like torch: log(n.float() / maxExact) / log(maxDistance / maxExact) * (half - maxExact)
        float ratio = (float) n / (float) maxExact;
        float log = (float) Math.log(ratio);
        float denom = (float) Math.log((double) maxDistance / maxExact);
        float scaled = log / denom * (float) (half - maxExact);
        int large = maxExact + (int) scaled;
        return b + Math.min(large, half - 1);
    }

    /**
     * The additive position bias {@code [heads, q, k]} (row-major) for one sequence length:
     * {@code bias[h, i, j] = table[bucket(j - i), h]}.
     *
     * @param table {@code relative_attention_bias.weight} {@code [numBuckets, heads]}, row-major
     * @param heads attention heads
     * @param length sequence length (queries = keys)
     * @param numBuckets buckets
     * @param maxDistance max distance
     * @return a new {@code heads * length * length} array
     */
    public static float[] bias(float[] table, int heads, int length, int numBuckets, int maxDistance) {
        Preconditions.checkArgument(table.length == numBuckets * heads, "relative_attention_bias has %s values, "
                + "expected %s x %s", table.length, numBuckets, heads);
        int[] bucketOfRel = new int[2 * length - 1];
        for (int r = 0; r < bucketOfRel.length; r++) {
            bucketOfRel[r] = bucket(r - (length - 1), numBuckets, maxDistance);
        }
        float[] out = new float[Math.multiplyExact(heads, Math.multiplyExact(length, length))];
        for (int h = 0; h < heads; h++) {
            for (int i = 0; i < length; i++) {
                int row = (h * length + i) * length;
                for (int j = 0; j < length; j++) {
                    out[row + j] = table[bucketOfRel[j - i + length - 1] * heads + h];
                }
            }
        }
        return out;
    }
}
