package io.github.cogvideox4j.data.manifest;

/**
 * The dataset layouts of the reference trainers (docs/data-preparation.md §1).
 *
 * <p>Thread safety: immutable.
 */
public enum ManifestLayout {
    /**
     * CogVideo / cogvideox-factory / finetrainers / diffusers examples: {@code prompt(s).txt} or
     * {@code caption(s).txt} plus {@code video(s).txt}, one entry per line, optional {@code images.txt}.
     */
    TWO_FILE,
    /** finetrainers: {@code a.txt} next to {@code a.mp4} (or an image), the whole text file is the caption. */
    CAPTION_PAIRS,
    /** finetrainers / HF datasets: {@code metadata.jsonl}, {@code metadata.json} or {@code metadata.csv}. */
    METADATA,
    /** CogVideoX-Fun (community 1.5 I2V repo): a JSON list of {@code {file_path, text, type}}. */
    FUN_JSON,
    /** SAT: {@code videos/*.mp4} with {@code labels/*.txt} of the same stem, first line = caption. */
    SAT
}
