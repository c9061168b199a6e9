package io.github.cogvideox4j.lora.train;

import io.github.cogvideox4j.core.CogVideoXException;
import java.util.List;

/**
 * A run whose planned peak memory ({@link MemoryPlan}) exceeds its {@code memory_budget_gb}. The message holds the
 * breakdown and the switches that would make the plan fit.
 *
 * <p>Thread safety: immutable.
 */
public class MemoryBudgetException extends CogVideoXException {
    private static final long serialVersionUID = 1L;

    private final transient MemoryPlan plan;
    private final transient List<MemoryPlan.Suggestion> suggestions;

    /**
     * @param message the breakdown and the suggestions
     * @param plan the plan that does not fit
     * @param suggestions the switches that fit, each with its plan (possibly empty)
     */
    public MemoryBudgetException(String message, MemoryPlan plan, List<MemoryPlan.Suggestion> suggestions) {
        super(message);
        this.plan = plan;
        this.suggestions = List.copyOf(suggestions);
    }

    /** @return the plan that exceeds the budget */
    public MemoryPlan plan() {
        return plan;
    }

    /** @return the switches whose plan fits the budget (unmodifiable) */
    public List<MemoryPlan.Suggestion> suggestions() {
        return suggestions;
    }
}
