package dev.editr1.flow;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.IntFunction;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import dev.editr1.kernels.FlowStepInputs;
import dev.editr1.kernels.FlowStepOutputs;
import dev.editr1.kernels.FlowStepParams;
import dev.editr1.kernels.FlowStepResult;
import dev.editr1.kernels.KernelOps;
import dev.editr1.kernels.NativeMemory;
import dev.editr1.kernels.NoiseKey;
import dev.editr1.kernels.Scopes;
import dev.editr1.kernels.SdeStep;

/**
 * The samplers on the fused step kernel: the ODE solvers Euler and DPM-Solver++(2M) (SPEC §3), with
 * optional classifier-free guidance (and Qwen's per-token norm rescale), and Flow-GRPO's SDE
 * ({@link #sampleSde}), which also records its steps and their log-probabilities. Steps run in place on a private
 * copy of the starting noise; the previous x̂0 of the multistep solver lives in one buffer the
 * kernel overwrites. Each step runs in its own {@code PointerScope}, so the model's activations of
 * a step are freed before the next one: a rollout holds one step's memory, whatever the step count.
 */
public final class Sampler {
    public enum Solver {
        EULER, DPM2M;

        public static Solver parse(String s) {
            return switch (s.toLowerCase(Locale.ROOT)) {
                case "euler" -> EULER;
                case "dpm2m", "dpm++2m", "dpmsolver++2m", "dpm-solver++(2m)" -> DPM2M;
                default -> throw new IllegalArgumentException("unknown solver '" + s + "' (euler, dpm2m)");
            };
        }
    }

    /** The model's velocity at (x, σ); no autograd is needed. */
    public interface VelocityField {
        Velocity at(Tensor x, double sigma);
    }

    private final KernelOps ops;

    public Sampler(KernelOps ops) {
        this.ops = ops;
    }

    /**
     * Integrates from x1 (noise at σ = 1) along the grid (ending in 0) and returns x0.
     *
     * @param guidance CFG scale (used when the field returns an unconditional velocity)
     * @param rescaleChannels per-token norm rescale channels (0: off)
     */
    public Tensor sample(VelocityField field, Tensor x1, double[] sigmas, Solver solver, double guidance,
                         long rescaleChannels) {
        if (sigmas.length < 2 || sigmas[sigmas.length - 1] != 0.0)
            throw new IllegalArgumentException("a sigma grid ends with 0 and has at least one step");
        try (NoGradGuard g = new NoGradGuard()) {
            // the state that lives across steps: x (updated in place) and the multistep solver's x̂0
            Tensor x = x1.clone();
            Tensor prevX0 = solver == Solver.DPM2M ? torch.empty_like(x) : null;
            for (int i = 0; i + 1 < sigmas.length; i++) {
                // one scope per step: the model's activations and the velocity die with the step
                try (PointerScope step = new PointerScope()) {
                    Velocity v = field.at(x, sigmas[i]);
                    NativeMemory.mark();
                    FlowStepParams p = solver == Solver.DPM2M
                            ? FlowStepParams.dpmSolver2M(i == 0 ? Double.NaN : sigmas[i - 1], sigmas[i], sigmas[i + 1])
                            : FlowStepParams.euler(sigmas[i], sigmas[i + 1]);
                    if (v.uncond() != null) p = p.withGuidance(guidance, rescaleChannels);
                    FlowStepInputs in = FlowStepInputs.of(x, v.cond());
                    if (v.uncond() != null) in = in.withUncond(v.uncond());
                    if (p.cPrevX0() != 0) in = in.withPrevX0(prevX0);
                    FlowStepOutputs out = FlowStepOutputs.inPlace(x);
                    if (prevX0 != null) out = out.withX0Into(prevX0);
                    ops.flowStep(p, in, out);
                }
            }
            return x;
        }
    }

    /**
     * Flow-GRPO's rollout (SPEC §3): every step of the grid is the SDE step with noise level a
     * (Flow-GRPO's {@code pipeline_with_logprob} with {@code noise_level} 0.7), ξ of step i drawn from
     * {@code noise.apply(i)}; the kernel writes x' and the log-probability of x' given x.
     *
     * @param keep the first {@code keep} steps (0 ≤ keep ≤ N) are recorded: states x at σ_0 … σ_keep
     *             and the log-probabilities of those steps; the final x0 is returned in any case
     * @return the trajectory; its tensors are made in the caller's scope (each step's model
     *         activations die with the step)
     */
    public Trajectory sampleSde(VelocityField field, Tensor x1, double[] sigmas, double a, IntFunction<NoiseKey> noise,
                                int keep, double guidance) {
        if (sigmas.length < 2 || sigmas[sigmas.length - 1] != 0.0)
            throw new IllegalArgumentException("a sigma grid ends with 0 and has at least one step");
        int n = sigmas.length - 1;
        if (keep < 0 || keep > n) throw new IllegalArgumentException("keep must be in [0, " + n + "], got " + keep);
        try (NoGradGuard g = new NoGradGuard()) {
            List<Tensor> states = new ArrayList<>(keep + 1), logProbs = new ArrayList<>(keep);
            Tensor x = x1.clone();
            if (keep > 0) states.add(x);
            for (int i = 0; i < n; i++) {
                final int step = i;
                final Tensor xi = x;
                // one scope per step: the model's activations and the velocity die with the step;
                // x' (always a fresh tensor: a recorded x must not be overwritten) and its log-prob stay
                FlowStepResult r = Scopes.keep(() -> {
                    Velocity v = field.at(xi, sigmas[step]);
                    NativeMemory.mark();
                    FlowStepParams p = FlowStepParams.sde(SdeStep.of(sigmas[step], sigmas[step + 1], sigmas[1], a), noise.apply(step));
                    if (v.uncond() != null) p = p.withGuidance(guidance, 0);
                    FlowStepInputs in = FlowStepInputs.of(xi, v.cond());
                    if (v.uncond() != null) in = in.withUncond(v.uncond());
                    FlowStepOutputs out = step < keep ? FlowStepOutputs.fresh().withLogProb() : FlowStepOutputs.fresh();
                    return ops.flowStep(p, in, out);
                }, res -> new Tensor[] {res.x(), res.logProb()});
                x = r.x();
                if (i < keep) {
                    states.add(x);
                    logProbs.add(r.logProb());
                }
            }
            if (keep == 0) return Trajectory.finalOnly(x);
            return new Trajectory(x, torch.stack(new TensorVector(states.toArray(new Tensor[0])), 1),
                    torch.stack(new TensorVector(logProbs.toArray(new Tensor[0])), 1));
        }
    }
}
