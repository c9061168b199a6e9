package io.github.cogvideox4j.lora.train;

import io.github.cogvideox4j.core.config.ConfigException;
import java.util.List;

/**
 * A training configuration with one or more problems, all listed at once: unknown keys, values of the wrong type or
 * out of range, contradictions (a LoRA section together with {@code full_finetune: true}), missing folders. Each
 * problem starts with its key path, e.g. {@code lora.rank: must be > 0, got 0}.
 *
 * <p>Thread safety: immutable.
 */
public class TrainingConfigException extends ConfigException {
    private static final long serialVersionUID = 1L;

    private final List<String> problems;

    /**
     * @param source where the configuration came from (a file, or a description), for the message
     * @param problems every problem found, each {@code "<key path>: <what is wrong>"}; not empty
     */
    public TrainingConfigException(String source, List<String> problems) {
        super(message(source, problems));
        this.problems = List.copyOf(problems);
    }

    /**
     * @param source where the configuration came from
     * @param problem the one problem (e.g. a syntax error)
     * @param cause the parser's exception
     */
    public TrainingConfigException(String source, String problem, Throwable cause) {
        super(message(source, List.of(problem)), cause);
        this.problems = List.of(problem);
    }

    /** @return every problem, each {@code "<key path>: <what is wrong>"}, in the order found */
    public List<String> problems() {
        return problems;
    }

    private static String message(String source, List<String> problems) {
        StringBuilder sb = new StringBuilder();
        sb.append(source).append(": ").append(problems.size())
                .append(problems.size() == 1 ? " problem" : " problems").append(" in the training config:");
        for (String p : problems) {
            sb.append("\n  - ").append(p);
        }
        return sb.toString();
    }
}
