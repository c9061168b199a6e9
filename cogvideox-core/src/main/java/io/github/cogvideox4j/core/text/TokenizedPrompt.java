package io.github.cogvideox4j.core.text;

import java.util.Arrays;

/**
 * One tokenized prompt, padded to a fixed length.
 *
 * @param inputIds token ids, EOS-terminated, right-padded with 0
 * @param attentionMask 1 for the real tokens (including EOS), 0 for padding
 * @param untruncatedLength the length with EOS before truncation (greater than the padded length when truncated)
 */
public record TokenizedPrompt(long[] inputIds, long[] attentionMask, int untruncatedLength) {
    /** Copies the arrays. */
    public TokenizedPrompt {
        inputIds = inputIds.clone();
        attentionMask = attentionMask.clone();
    }

    /** @return a copy of the ids */
    @Override
    public long[] inputIds() {
        return inputIds.clone();
    }

    /** @return a copy of the mask */
    @Override
    public long[] attentionMask() {
        return attentionMask.clone();
    }

    /** @return whether the prompt was cut to fit */
    public boolean truncated() {
        return untruncatedLength > inputIds.length;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TokenizedPrompt t && Arrays.equals(inputIds, t.inputIds)
                && Arrays.equals(attentionMask, t.attentionMask) && untruncatedLength == t.untruncatedLength;
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(inputIds) + Arrays.hashCode(attentionMask) + untruncatedLength;
    }

    @Override
    public String toString() {
        return "TokenizedPrompt" + Arrays.toString(Arrays.copyOf(inputIds, Math.min(inputIds.length, 16)))
                + "... (untruncated " + untruncatedLength + ")";
    }
}
