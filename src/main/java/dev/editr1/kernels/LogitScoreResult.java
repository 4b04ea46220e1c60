package dev.editr1.kernels;

import org.bytedeco.pytorch.Tensor;

/**
 * @param score per-row score in [0, 1], f32 [B]; NaN marks a row whose score tokens were all −∞
 *              (unscorable: the judge gave no score token any probability) — never read as 0
 * @param probs renormalized score-token probabilities, f32 [B, K]
 * @param mass  full-vocabulary probability mass on the K tokens, f32 [B]
 */
public record LogitScoreResult(Tensor score, Tensor probs, Tensor mass) {
    /** The number of unscorable rows (NaN scores). */
    public long unscored() {
        long n = 0;
        for (float s : Tensors.toFloats(score)) if (Float.isNaN(s)) n++;
        return n;
    }
}
