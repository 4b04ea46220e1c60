package dev.editr1.kernels;

import org.bytedeco.pytorch.Tensor;

/**
 * The tensors a sampler step reads; every one [B, ...] with x's shape, dtype and device.
 *
 * @param x      the current sample at σ
 * @param vCond  conditional velocity
 * @param vUncond unconditional velocity for CFG, or null
 * @param x0Prev the previous step's x̂0 (multistep), or null
 * @param noise  ξ for a stochastic step, or null (then Philox noise from the params' key)
 * @param xGiven evaluate the log-prob at this x' instead of sampling one, or null
 */
public record FlowStepInputs(Tensor x, Tensor vCond, Tensor vUncond, Tensor x0Prev, Tensor noise, Tensor xGiven) {
    /**
     * Checks every tensor against x (shape, dtype, device, layout), the given output buffers too,
     * and the step's scalars against what is given; returns x's dtype. Both implementations call
     * this before any work.
     *
     * @throws IllegalArgumentException naming the offending argument
     */
    DType check(FlowStepParams p, FlowStepOutputs out) {
        final String k = "flowStep";
        DType dt = TensorChecks.rows(k, "x", x);
        TensorChecks.like(k, "vCond", vCond, "x", x);
        if (vUncond != null) TensorChecks.like(k, "vUncond", vUncond, "x", x);
        if (x0Prev != null) TensorChecks.like(k, "x0Prev", x0Prev, "x", x);
        if (noise != null) TensorChecks.like(k, "noise", noise, "x", x);
        if (xGiven != null) TensorChecks.like(k, "xGiven", xGiven, "x", x);
        if (out.xOut() != null) TensorChecks.like(k, "xOut", out.xOut(), "x", x);
        if (out.x0Out() != null) TensorChecks.like(k, "x0Out", out.x0Out(), "x", x);
        long d = TensorChecks.rowLen(x);
        if (p.rescaleChannels() > 0) {
            if (vUncond == null) throw TensorChecks.bad(k, "rescaleChannels", "needs vUncond (the rescale is part of CFG)");
            if (d % p.rescaleChannels() != 0)
                throw TensorChecks.bad(k, "rescaleChannels", p.rescaleChannels() + " does not divide the row length " + d);
        }
        if (p.cPrevX0() != 0 && x0Prev == null)
            throw TensorChecks.bad(k, "x0Prev", "is null but the step's cPrevX0 is " + p.cPrevX0());
        if ((out.wantLogProb() || xGiven != null) && !(p.cNoise() > 0))
            throw TensorChecks.bad(k, "params", "log-prob and xGiven need a stochastic step (cNoise > 0), got " + p.cNoise());
        return dt;
    }

    public static FlowStepInputs of(Tensor x, Tensor vCond) {
        return new FlowStepInputs(x, vCond, null, null, null, null);
    }

    public FlowStepInputs withUncond(Tensor v) {
        return new FlowStepInputs(x, vCond, v, x0Prev, noise, xGiven);
    }

    public FlowStepInputs withPrevX0(Tensor m1) {
        return new FlowStepInputs(x, vCond, vUncond, m1, noise, xGiven);
    }

    public FlowStepInputs withNoise(Tensor xi) {
        return new FlowStepInputs(x, vCond, vUncond, x0Prev, xi, xGiven);
    }

    public FlowStepInputs withGiven(Tensor next) {
        return new FlowStepInputs(x, vCond, vUncond, x0Prev, noise, next);
    }
}
