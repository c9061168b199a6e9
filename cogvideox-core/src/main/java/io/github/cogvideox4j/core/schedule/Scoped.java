package io.github.cogvideox4j.core.schedule;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import java.util.function.Function;

/**
 * Runs a computation in a temporary sub-manager so that its intermediates are freed when it returns, while its
 * results join the caller's manager. The given operands are temporarily attached to the scope (an op's result
 * joins the manager of its first operand) and return to their own managers afterwards. Autograd keeps what it
 * needs natively, so closing intermediates does not break backward.
 */
final class Scoped {
    private Scoped() {}

    static NDList run(NDManager owner, Function<NDManager, NDList> body, NDArray... operands) {
        try (NDManager scope = owner.newSubManager()) {
            NDList attached = new NDList();
            for (NDArray a : operands) {
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

    static NDArray single(NDManager owner, Function<NDManager, NDArray> body, NDArray... operands) {
        return run(owner, s -> new NDList(body.apply(s)), operands).singletonOrThrow();
    }
}
