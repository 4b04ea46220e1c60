package dev.editr1.kernels;

import org.bytedeco.pytorch.Tensor;

/**
 * The tensors of one Flow-GRPO loss evaluation at one stored SDE step. Activations [B, ...] share
 * one shape, dtype and device; per-sample values are f32 [B] on the same device.
 *
 * @param x          the stored samples at σ (the step's input x_t)
 * @param xNext      the stored samples the rollout drew at σ' (x_{t−1})
 * @param vTheta     the current policy's velocity at (x, σ) (the gradient is with respect to it)
 * @param vRef       the reference velocity (adapters off), or null (no KL term)
 * @param advantage  per-sample advantages A, finite
 * @param logProbOld the log-probabilities of xNext recorded at rollout time, finite
 * @param valid      1 for samples in the loss, 0 for filtered ones
 */
public record GrpoLossInputs(Tensor x, Tensor xNext, Tensor vTheta, Tensor vRef, Tensor advantage, Tensor logProbOld,
                             Tensor valid) {
    /**
     * Checks the activations against x (shape, dtype, device, layout) and the per-sample vectors
     * (f32 [B] on x's device); returns x's dtype. Both implementations call this first.
     *
     * @throws IllegalArgumentException naming the offending argument
     */
    DType check() {
        final String k = "grpoLoss";
        DType dt = TensorChecks.rows(k, "x", x);
        TensorChecks.like(k, "xNext", xNext, "x", x);
        TensorChecks.like(k, "vTheta", vTheta, "x", x);
        if (vRef != null) TensorChecks.like(k, "vRef", vRef, "x", x);
        long b = x.size(0);
        TensorChecks.perSample(k, "advantage", advantage, b, x, "x");
        TensorChecks.perSample(k, "logProbOld", logProbOld, b, x, "x");
        TensorChecks.perSample(k, "valid", valid, b, x, "x");
        return dt;
    }
}
