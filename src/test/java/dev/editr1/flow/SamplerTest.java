package dev.editr1.flow;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import dev.editr1.kernels.NativeOps;
import dev.editr1.kernels.Tensors;

/**
 * On a 1-D Gaussian data distribution N(m, s²) the exact flow velocity has a closed form, and so
 * does the ODE's endpoint: DPM-Solver++(2M) must end much closer to it than Euler at 6 steps, and
 * both must converge as steps grow.
 */
class SamplerTest {
    static final double M = 0.7, S = 0.4;

    static double velocity(double x, double t) {
        return (t - (1 - t) * S * S) * (x - (1 - t) * M) / ((1 - t) * (1 - t) * S * S + t * t) - M;
    }

    /** The exact ODE map from noise z at t = 1 to data at t = 0 is x0 = m + s·z. */
    static double error(Sampler.Solver solver, int steps) {
        float[] z = {-1.5f, -0.3f, 0.2f, 1.3f, 2.1f};
        Tensor x1 = Tensors.fromFloats(z, z.length, 1);
        double[] sig = SigmaSchedule.preset(SigmaSchedule.Preset.QWEN, steps, 1024, Double.NaN);
        Sampler.VelocityField f = (x, sigma) -> {
            float[] xs = Tensors.toFloats(x), v = new float[xs.length];
            for (int i = 0; i < xs.length; i++) v[i] = (float) velocity(xs[i], sigma);
            return Velocity.of(Tensors.fromFloats(v, xs.length, 1));
        };
        float[] out = Tensors.toFloats(new Sampler(new NativeOps(true)).sample(f, x1, sig, solver, 1, 0));
        double worst = 0;
        for (int i = 0; i < z.length; i++) {
            // the qwen grid ends at σ = 0.02 before the last Euler step: compare with the exact map
            worst = Math.max(worst, Math.abs(out[i] - (M + S * z[i])));
        }
        return worst;
    }

    @Test
    void dpmSolverBeatsEulerAndBothConverge() {
        double e6 = error(Sampler.Solver.EULER, 6), d6 = error(Sampler.Solver.DPM2M, 6);
        assertTrue(d6 < 0.5 * e6, "6 steps: DPM-Solver++(2M) " + d6 + " vs Euler " + e6);
        // (on this stretched grid DPM-Solver++(2M) is not monotone between 6 and 12 steps: 0.137 → 0.153
        // in a float64 re-derivation too; from 6 to 24 to 48 both shrink)
        double e24 = error(Sampler.Solver.EULER, 24), e48 = error(Sampler.Solver.EULER, 48);
        double d24 = error(Sampler.Solver.DPM2M, 24), d48 = error(Sampler.Solver.DPM2M, 48);
        assertTrue(e48 < e24 && e24 < e6, "Euler converges: " + e6 + " " + e24 + " " + e48);
        assertTrue(d48 < d24 && d24 < d6, "DPM-Solver++(2M) converges: " + d6 + " " + d24 + " " + d48);
        assertTrue(d48 < 0.02, "48 DPM steps within 0.02 of the exact endpoint: " + d48);   // 0.0145 in float64 too
    }
}
