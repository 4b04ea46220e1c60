package dev.editr1.kernels;

/**
 * The scalars of one Flow-GRPO SDE step σ → σ' (SPEC §3), computed once per step in double:
 * <pre>
 *   s  = a·sqrt(σ/(1 − σ))            (σ_1 in the denominator when σ = 1)
 *   dt = σ' − σ
 *   μ  = cX·x + cV·v,   cX = 1 + s²·dt/(2σ),   cV = (1 + s²·(1 − σ)/(2σ))·dt
 *   x' = μ + stdLogProb·ξ,   stdLogProb = s·sqrt(−dt)
 * </pre>
 * Rollouts take it through {@link FlowStepParams#sde(SdeStep, NoiseKey)}; the GRPO loss re-evaluates
 * the same step through {@link GrpoLossConfig}, so both sides use one computation.
 *
 * @param sigma      σ, the step's current grid value, in (0, 1]
 * @param sigmaNext  σ', the next grid value, in [0, σ)
 * @param stdDev     s, Flow-GRPO's {@code std_dev_t}; its KL term is scaled by s alone
 * @param cX         coefficient of x in μ
 * @param cV         coefficient of v in μ
 * @param stdLogProb s·sqrt(−dt), the standard deviation of x' given x (the log-prob's)
 */
public record SdeStep(double sigma, double sigmaNext, double stdDev, double cX, double cV, double stdLogProb) {
    /** Flow-GRPO's noise level a. */
    public static final double NOISE_LEVEL = 0.7;

    public SdeStep {
        for (double v : new double[] {sigma, sigmaNext, cX, cV}) TensorChecks.finiteScalar("sdeStep", "a step scalar", v);
        if (!(stdDev > 0) || !Double.isFinite(stdDev))
            throw new IllegalArgumentException("sdeStep: stdDev must be finite and > 0, got " + stdDev);
        if (!(stdLogProb > 0) || !Double.isFinite(stdLogProb))
            throw new IllegalArgumentException("sdeStep: stdLogProb must be finite and > 0, got " + stdLogProb);
    }

    /**
     * The step σ → σ' of a grid whose second value is σ_1, with noise level a (Flow-GRPO: 0.7).
     *
     * @throws IllegalArgumentException unless 0 &lt; σ ≤ 1, 0 ≤ σ' &lt; σ, a &gt; 0, and σ_1 &lt; 1 when σ = 1
     */
    public static SdeStep of(double sigma, double sigmaNext, double sigma1, double a) {
        if (!(sigma > 0 && sigma <= 1)) throw new IllegalArgumentException("sdeStep: sigma must be in (0, 1], got " + sigma);
        if (!(sigmaNext >= 0 && sigmaNext < sigma))
            throw new IllegalArgumentException("sdeStep: sigmaNext must be in [0, sigma = " + sigma + "), got " + sigmaNext);
        if (!(a > 0) || !Double.isFinite(a)) throw new IllegalArgumentException("sdeStep: a must be finite and > 0, got " + a);
        double denom = 1.0 - (sigma == 1.0 ? sigma1 : sigma);
        if (!(denom > 0))
            throw new IllegalArgumentException("sdeStep: at sigma = 1 the denominator uses sigma1, which must be < 1, got " + sigma1);
        double s = a * Math.sqrt(sigma / denom);
        double dt = sigmaNext - sigma;
        double cx = 1.0 + s * s * dt / (2.0 * sigma);
        double cv = (1.0 + s * s * (1.0 - sigma) / (2.0 * sigma)) * dt;
        return new SdeStep(sigma, sigmaNext, s, cx, cv, s * Math.sqrt(-dt));
    }
}
