package dev.editr1.flow;

import java.util.Locale;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import dev.editr1.kernels.FlowStepInputs;
import dev.editr1.kernels.FlowStepOutputs;
import dev.editr1.kernels.FlowStepParams;
import dev.editr1.kernels.KernelOps;
import dev.editr1.kernels.NativeMemory;

/**
 * The ODE samplers on the fused step kernel: Euler and DPM-Solver++(2M) (SPEC §3), with optional
 * classifier-free guidance (and Qwen's per-token norm rescale). Steps run in place on a private
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
}
