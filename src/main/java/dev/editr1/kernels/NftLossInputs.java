package dev.editr1.kernels;

import org.bytedeco.pytorch.Tensor;

/**
 * The tensors of one DiffusionNFT loss evaluation. Activations [B, ...] share one shape, dtype
 * and device; per-sample values are f32 [B] on the same device.
 *
 * @param x0         clean samples
 * @param target     ε (noise), or x_t when {@code targetIsXt}
 * @param targetIsXt whether target holds x_t instead of ε
 * @param vTheta     the trainable policy's velocity (the gradient is with respect to it)
 * @param vOld       the old policy's velocity
 * @param vRef       the reference (base) velocity, or null (no KL term)
 * @param t          times in [0, 1]
 * @param r          reward-derived optimality in [0, 1]
 * @param valid      1 for samples in the loss, 0 for filtered ones
 */
public record NftLossInputs(Tensor x0, Tensor target, boolean targetIsXt, Tensor vTheta, Tensor vOld, Tensor vRef,
                            Tensor t, Tensor r, Tensor valid) {
    /**
     * Checks the activations against x0 (shape, dtype, device, layout) and the per-sample vectors
     * (f32 [B] on x0's device); returns x0's dtype. Both implementations call this first.
     *
     * @throws IllegalArgumentException naming the offending argument
     */
    DType check() {
        final String k = "nftLoss";
        DType dt = TensorChecks.rows(k, "x0", x0);
        TensorChecks.like(k, "target", target, "x0", x0);
        TensorChecks.like(k, "vTheta", vTheta, "x0", x0);
        TensorChecks.like(k, "vOld", vOld, "x0", x0);
        if (vRef != null) TensorChecks.like(k, "vRef", vRef, "x0", x0);
        long b = x0.size(0);
        TensorChecks.perSample(k, "t", t, b, x0, "x0");
        TensorChecks.perSample(k, "r", r, b, x0, "x0");
        TensorChecks.perSample(k, "valid", valid, b, x0, "x0");
        return dt;
    }
}
