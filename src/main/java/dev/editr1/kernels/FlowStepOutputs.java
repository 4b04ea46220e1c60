package dev.editr1.kernels;

import org.bytedeco.pytorch.Tensor;

/**
 * What a sampler step writes.
 *
 * @param xOut        where x' goes: null allocates a new tensor, {@code inputs.x()} steps in place
 * @param x0Out       where x̂0 goes when wanted: null allocates (may be the inputs' x0Prev)
 * @param wantX0      write x̂0 (the next multistep update needs it)
 * @param wantLogProb compute the per-row Gaussian log-prob of x' (stochastic steps)
 */
public record FlowStepOutputs(Tensor xOut, Tensor x0Out, boolean wantX0, boolean wantLogProb) {
    /** x' into a new tensor, nothing else. */
    public static FlowStepOutputs fresh() {
        return new FlowStepOutputs(null, null, false, false);
    }

    /** x' written over x. */
    public static FlowStepOutputs inPlace(Tensor x) {
        return new FlowStepOutputs(x, null, false, false);
    }

    public FlowStepOutputs withX0() {
        return new FlowStepOutputs(xOut, x0Out, true, wantLogProb);
    }

    public FlowStepOutputs withX0Into(Tensor buffer) {
        return new FlowStepOutputs(xOut, buffer, true, wantLogProb);
    }

    public FlowStepOutputs withLogProb() {
        return new FlowStepOutputs(xOut, x0Out, wantX0, true);
    }
}
