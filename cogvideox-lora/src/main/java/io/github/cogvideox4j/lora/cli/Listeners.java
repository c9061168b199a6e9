package io.github.cogvideox4j.lora.cli;

import io.github.cogvideox4j.lora.train.TrainingListener;
import java.nio.file.Path;
import java.util.List;

/** The listeners the command line attaches to a run. */
final class Listeners {
    private Listeners() {}

    static List<TrainingListener> standard(Path output, long steps) {
        return List.of();
    }
}
