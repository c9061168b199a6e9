package io.github.cogvideox4j.lora.cli;

import io.github.cogvideox4j.lora.train.TrainingListener;
import io.github.cogvideox4j.lora.train.listener.JsonlMetricsListener;
import io.github.cogvideox4j.lora.train.listener.LoggingListener;
import io.github.cogvideox4j.lora.train.listener.LossCurveListener;
import io.github.cogvideox4j.lora.train.listener.ProgressBarListener;
import io.github.cogvideox4j.lora.train.listener.TensorBoardListener;
import java.nio.file.Path;
import java.util.List;

/**
 * The listeners the command line attaches to a run (the fine-tuner isolates their failures): {@code metrics.jsonl},
 * the loss-curve PNG (from the metrics, so it survives a resume), TensorBoard event files, SLF4J logging every 50
 * steps, and the console progress bar with an ETA from this process's steps.
 */
final class Listeners {
    private Listeners() {}

    static List<TrainingListener> standard(Path output, long steps) {
        Path metrics = output.resolve("metrics.jsonl");
        long every = Math.max(1, steps / 10);
        return List.of(new JsonlMetricsListener(metrics),
                new LossCurveListener(output.resolve("loss.png"), every, metrics),
                new TensorBoardListener(output.resolve("tensorboard")), new LoggingListener(50),
                new ProgressBarListener());
    }
}
