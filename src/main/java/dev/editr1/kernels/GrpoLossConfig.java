package dev.editr1.kernels;

/**
 * The Flow-GRPO loss at one SDE step (SPEC §3, §7 baseline): the step every row of a call was
 * drawn with, and the objective's constants ({@link #flowGrpo} gives Flow-GRPO's).
 *
 * @param step      the SDE step σ → σ' (μ's coefficients, the log-prob's std s·sqrt(−dt), the KL's s)
 * @param clipRange ε ≥ 0: the ratio is clipped to [1 − ε, 1 + ε] (1e-4)
 * @param klWeight  β ≥ 0: weight of the KL term to the reference policy (0.04)
 */
public record GrpoLossConfig(SdeStep step, double clipRange, double klWeight) {
    public static final double CLIP_RANGE = 1e-4;
    public static final double KL_WEIGHT = 0.04;

    public GrpoLossConfig {
        if (step == null) throw new IllegalArgumentException("grpoLoss: step is null");
        if (!(clipRange >= 0) || !Double.isFinite(clipRange))
            throw new IllegalArgumentException("grpoLoss: clipRange must be finite and >= 0, got " + clipRange);
        if (!(klWeight >= 0) || !Double.isFinite(klWeight))
            throw new IllegalArgumentException("grpoLoss: klWeight must be finite and >= 0, got " + klWeight);
    }

    /** Flow-GRPO's constants (ε = 1e-4, β = 0.04) at a step. */
    public static GrpoLossConfig flowGrpo(SdeStep step) {
        return new GrpoLossConfig(step, CLIP_RANGE, KL_WEIGHT);
    }

    public GrpoLossConfig withClipRange(double eps) {
        return new GrpoLossConfig(step, eps, klWeight);
    }

    public GrpoLossConfig withKlWeight(double beta) {
        return new GrpoLossConfig(step, clipRange, beta);
    }
}
