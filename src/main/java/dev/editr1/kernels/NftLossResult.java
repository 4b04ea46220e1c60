package dev.editr1.kernels;

import org.bytedeco.pytorch.Tensor;

/**
 * @param loss the batch loss, f32 [1]
 * @param ell  per-sample ℓ, f32 [B]
 * @param kl   per-sample kl, f32 [B]
 * @param grad ∂loss/∂v_θ [B, ...] in v_θ's dtype, or null when not asked for
 */
public record NftLossResult(Tensor loss, Tensor ell, Tensor kl, Tensor grad) {
    public double lossValue() {
        return Tensors.item(loss);
    }
}
