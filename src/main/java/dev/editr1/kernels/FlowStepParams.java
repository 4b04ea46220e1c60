package dev.editr1.kernels;

/**
 * The scalars of one fused sampler step (SPEC §3), mirroring {@code editr1_flow_step_params}:
 * <pre>
 *   v   = v_uncond ? v_u + guidance·(v_c − v_u) : v_c      (then per-token norm rescale if C &gt; 0)
 *   x̂0  = x − sigma·v
 *   x'  = cX·x + cV·v + cX0·x̂0 + cPrevX0·x0_prev + cNoise·ξ
 * </pre>
 * The coefficients are computed here once per step, in double; the kernel applies them in f32.
 *
 * @param guidance        CFG scale w (used only when v_uncond is given)
 * @param rescaleChannels C &gt; 0: rescale the guided v per token of C channels to the norm of v_c
 *                        (Qwen-Image's true CFG; rows must be token-major); 0: off
 * @param sigma           the current grid value σ
 * @param noiseKey        Philox key for ξ when no noise tensor is given (SDE steps)
 */
public record FlowStepParams(double guidance, long rescaleChannels, double sigma, double cX, double cV, double cX0,
                             double cPrevX0, double cNoise, NoiseKey noiseKey) {

    public FlowStepParams {
        TensorChecks.finiteScalar("flowStep", "guidance", guidance);
        for (double c : new double[] {sigma, cX, cV, cX0, cPrevX0, cNoise})
            TensorChecks.finiteScalar("flowStep", "a step coefficient", c);
        if (rescaleChannels < 0) throw new IllegalArgumentException("flowStep: rescaleChannels must be >= 0");
        if (noiseKey == null) noiseKey = NoiseKey.of(0);
    }

    /** Euler (ODE): x' = x + (σ' − σ)·v. Also first-order DPM-Solver++ and deterministic DDIM. */
    public static FlowStepParams euler(double sigma, double sigmaNext) {
        return new FlowStepParams(1.0, 0, sigma, 1.0, sigmaNext - sigma, 0.0, 0.0, 0.0, null);
    }

    /**
     * DPM-Solver++(2M), data-prediction form (SPEC §3), with α = 1 − σ and λ = log(α/σ). The first
     * step (no previous x̂0: pass {@code Double.NaN} as sigmaPrev) and the last step (σ' = 0) are
     * Euler; after σ_prev = 1 (λ_prev = −∞) the update is first order (D1 = 0).
     *
     * @param sigmaPrev the previous grid value (whose x̂0 is passed as x0_prev), or NaN
     */
    public static FlowStepParams dpmSolver2M(double sigmaPrev, double sigma, double sigmaNext) {
        if (Double.isNaN(sigmaPrev) || sigmaNext == 0.0) return euler(sigma, sigmaNext);
        double alpha = 1.0 - sigma, alphaNext = 1.0 - sigmaNext, alphaPrev = 1.0 - sigmaPrev;
        double lambda = Math.log(alpha / sigma);
        double lambdaNext = Math.log(alphaNext / sigmaNext);
        double h = lambdaNext - lambda;
        double em1 = Math.expm1(-h); // e^(−h) − 1, exact for small h
        double cx = sigmaNext / sigma;
        if (alphaPrev <= 0.0) {
            // λ_prev = −∞ ⇒ r0 = ∞ ⇒ D1 = 0: first order (and no NaN from ∞/∞)
            return new FlowStepParams(1.0, 0, sigma, cx, 0.0, -alphaNext * em1, 0.0, 0.0, null);
        }
        double lambdaPrev = Math.log(alphaPrev / sigmaPrev);
        double r0 = (lambda - lambdaPrev) / h;
        // x' = (σ'/σ)x − α'(e^−h − 1)·D0 − ½α'(e^−h − 1)·(D0 − m1)/r0
        double cx0 = -alphaNext * em1 * (1.0 + 0.5 / r0);
        double cm1 = 0.5 * alphaNext * em1 / r0;
        return new FlowStepParams(1.0, 0, sigma, cx, 0.0, cx0, cm1, 0.0, null);
    }

    /**
     * Flow-GRPO's SDE step (SPEC §3): s = a·sqrt(σ/(1 − σ)) (σ_1 in the denominator when σ = 1),
     * dt = σ' − σ, μ = x·(1 + s²·dt/(2σ)) + v·(1 + s²·(1 − σ)/(2σ))·dt, x' = μ + s·sqrt(−dt)·ξ.
     *
     * @param sigma1 the grid's second value σ_1
     * @param a      the noise level (0.7 in Flow-GRPO)
     * @see SdeStep#of
     */
    public static FlowStepParams sde(double sigma, double sigmaNext, double sigma1, double a, NoiseKey key) {
        return sde(SdeStep.of(sigma, sigmaNext, sigma1, a), key);
    }

    /** The SDE step of {@link SdeStep} (the scalars the GRPO loss re-evaluates the step with). */
    public static FlowStepParams sde(SdeStep step, NoiseKey key) {
        return new FlowStepParams(1.0, 0, step.sigma(), step.cX(), step.cV(), 0.0, 0.0, step.stdLogProb(), key);
    }

    /** The same step with classifier-free guidance w (and optional per-token rescale over C channels). */
    public FlowStepParams withGuidance(double w, long channels) {
        return new FlowStepParams(w, channels, sigma, cX, cV, cX0, cPrevX0, cNoise, noiseKey);
    }

    public FlowStepParams withNoiseKey(NoiseKey key) {
        return new FlowStepParams(guidance, rescaleChannels, sigma, cX, cV, cX0, cPrevX0, cNoise, key);
    }
}
