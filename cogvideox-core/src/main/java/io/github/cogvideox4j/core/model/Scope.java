package io.github.cogvideox4j.core.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import java.util.function.Function;

/**
 * Runs a piece of a forward pass in a temporary sub-manager so that its intermediates are freed when it
 * returns, while its results join the caller's manager (DJL-NOTES section 5: an op's result joins the
 * manager of its first operand, so the operands that come first are temporarily attached to the scope).
 * Autograd keeps what it needs natively: closing the Java handles of intermediates does not break
 * backward.
 */
final class Scope {
    private Scope() {}

    /**
     * @param owner the manager the results must belong to
     * @param firstOperands arrays used as first operands inside {@code body}; temporarily attached to the
     *     scope and returned to their own managers afterwards
     * @param body the computation
     * @return the results of {@code body}, attached to {@code owner}
     */
    static NDList run(NDManager owner, NDList firstOperands, Function<NDManager, NDList> body) {
        try (NDManager scope = owner.newSubManager()) {
            for (NDArray a : firstOperands) {
                a.tempAttach(scope);
            }
            NDList out = body.apply(scope);
            out.attach(owner);
            return out;
        }
    }
}
