package dev.editr1.kernels;

import org.bytedeco.pytorch.Tensor;

/**
 * @param loss    the batch loss Σ valid·(ℓ + β·kl) / Σ valid, f32 [1]
 * @param logProb per-sample log-probability of xNext under the current policy, f32 [B]
 * @param ratio   per-sample ratio ρ = exp(logProb − logProbOld), f32 [B]
 * @param ell     per-sample clipped surrogate ℓ = max(−A·ρ, −A·clip(ρ, 1 − ε, 1 + ε)), f32 [B]
 * @param kl      per-sample KL term before β (0 without vRef), f32 [B]
 * @param grad    ∂loss/∂v_θ [B, ...] in v_θ's dtype, or null when not asked for
 */
public record GrpoLossResult(Tensor loss, Tensor logProb, Tensor ratio, Tensor ell, Tensor kl, Tensor grad) {
    public double lossValue() {
        return Tensors.item(loss);
    }
}
