package io.github.cogvideox4j.core;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import java.util.function.Function;

/**
 * Runs a computation in a temporary sub-manager so that its intermediates are freed when it returns, while its
 * results join the caller's manager. A DJL op's result joins the manager of its first operand (docs/djl-engine.md §4),
 * so the operands the computation uses first are temporarily attached to the scope and return to their own managers
 * afterwards. Autograd keeps what backward needs natively: closing the Java handles of intermediates does not break
 * backward.
 *
 * <p>Thread safety: stateless; the managers and arrays follow DJL's rules (confine them to one thread).
 */
public final class Scopes {
    private Scopes() {}

    /**
     * @param owner the manager the results must belong to
     * @param body the computation, given the temporary scope (allocate new arrays there)
     * @param firstOperands arrays used as first operands inside {@code body} (nulls and repeats are ignored)
     * @return the results of {@code body}, attached to {@code owner}
     */
    public static NDList run(NDManager owner, Function<NDManager, NDList> body, NDArray... firstOperands) {
        try (NDManager scope = owner.newSubManager()) {
            NDList attached = new NDList();
            for (NDArray a : firstOperands) {
                if (a != null && attached.stream().noneMatch(x -> x == a)) {
                    a.tempAttach(scope);
                    attached.add(a);
                }
            }
            NDList out = body.apply(scope);
            out.attach(owner);
            return out;
        }
    }

    /**
     * {@link #run} for a computation with one result.
     *
     * @param owner the manager the result must belong to
     * @param body the computation
     * @param firstOperands arrays used as first operands inside {@code body}
     * @return the result, attached to {@code owner}
     */
    public static NDArray single(NDManager owner, Function<NDManager, NDArray> body, NDArray... firstOperands) {
        return run(owner, s -> new NDList(body.apply(s)), firstOperands).singletonOrThrow();
    }
}
