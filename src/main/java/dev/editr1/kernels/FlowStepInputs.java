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
