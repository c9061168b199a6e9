package io.github.cogvideox4j.lora.train;

import java.nio.file.Path;

/**
 * Told to listeners when a run starts or resumes.
 *
 * <p>Thread safety: immutable.
 *
 * @param firstStep the first step this process will run (1 for a fresh run, k+1 when resuming after step k)
 * @param totalSteps the last step of the run
 * @param outputDir where the run writes its files
 * @param description a one-line summary (model, LoRA or full, buckets)
 */
public record TrainingStart(long firstStep, long totalSteps, Path outputDir, String description) {}
