package dev.editr1.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import com.google.gson.JsonObject;

/** The fused sampler step (SPEC §3) against the double reference, and the solvers' golden trajectories. */
class FlowStepTest {
    static final NativeOps NATIVE = new NativeOps(true);
    static final TorchOps TORCH = new TorchOps(true);
    static final NoiseKey KEY = new NoiseKey(0xfeedL, 3, 17);

    /** One step configuration: which optional inputs and outputs take part. */
    record Case(String name, FlowStepParams p, boolean cfg, boolean rescale, boolean m1, boolean noiseTensor,
                boolean given, boolean inPlace, boolean x0IntoPrev, boolean logProb) {}

    static List<Case> cases() {
        List<Case> c = new ArrayList<>();
        c.add(new Case("euler σ=1→0.9", FlowStepParams.euler(1.0, 0.9), false, false, false, false, false, false, false, false));
        c.add(new Case("dpm2m 0.7→0.5→0.3, cfg 4.5, in place, x̂0 over x0Prev",
                FlowStepParams.dpmSolver2M(0.7, 0.5, 0.3).withGuidance(4.5, 0), true, false, true, false, false, true, true, false));
        c.add(new Case("dpm2m after σ=1 (first order)", FlowStepParams.dpmSolver2M(1.0, 0.9, 0.6), false, false, true, false, false, false, false, false));
        c.add(new Case("last step 0.02→0 returns x̂0", FlowStepParams.dpmSolver2M(0.3, 0.02, 0.0), false, false, true, false, false, false, false, false));
        c.add(new Case("cfg 5 + per-token rescale", FlowStepParams.euler(0.5, 0.3).withGuidance(5.0, 0), true, true, false, false, false, false, false, false));
        c.add(new Case("sde σ=1, noise tensor, log-prob", FlowStepParams.sde(1.0, 0.9, 0.9, 0.7, KEY), false, false, false, true, false, false, false, true));
        c.add(new Case("sde σ=0.5, Philox noise, cfg, log-prob", FlowStepParams.sde(0.5, 0.3, 0.9, 0.7, KEY).withGuidance(3.0, 0), true, false, false, false, false, false, false, true));
        c.add(new Case("sde log-prob of a given x'", FlowStepParams.sde(0.02, 0.0, 0.9, 0.7, KEY), false, false, false, false, true, false, false, true));
        return c;
    }

    static Stream<Arguments> grid() {
        List<Arguments> a = new ArrayList<>();
        for (DType dt : DType.values())
            for (int d : TestData.ODD_LENGTHS)
                a.add(Arguments.of(dt, d));
        return a.stream();
    }

    /** A channel count that divides d (the per-token rescale's token size). */
    static int channels(int d) {
        for (int c : new int[] {64, 25, 16}) if (d % c == 0) return c;
        return d;
    }

    @ParameterizedTest(name = "{0} D={1}")
    @MethodSource("grid")
    void matchesReference(DType dt, int d) {
        int rows = d > 10_000 ? 2 : 3;
        SplittableRandom rng = new SplittableRandom(d * 31L + dt.ordinal());
        for (Case k : cases()) {
            int n = rows * d;
            float[] x = TestData.rounded(TestData.normal(rng, n, 1.0), dt);
            float[] vc = TestData.rounded(TestData.normal(rng, n, 1.0), dt);
            float[] vu = k.cfg ? TestData.rounded(TestData.normal(rng, n, 1.0), dt) : null;
            float[] m1 = k.m1 ? TestData.rounded(TestData.normal(rng, n, 1.0), dt) : null;
            float[] xi = k.noiseTensor ? TestData.rounded(TestData.normal(rng, n, 1.0), dt) : null;
            float[] given = k.given ? TestData.rounded(TestData.normal(rng, n, 1.0), dt) : null;
            FlowStepParams p = k.rescale ? k.p.withGuidance(k.p.guidance(), channels(d)) : k.p;
            double[] noiseRef = null;
            if (p.cNoise() != 0 && !k.given)
                noiseRef = xi != null ? TestData.d(xi) : Reference.noiseRows(p.noiseKey(), rows, d);
            Reference.Flow ref = Reference.flowStep(p, rows, d, x, vc, vu, m1, noiseRef, given);

            Out nat = run(NATIVE, k, p, dt, rows, d, x, vc, vu, m1, xi, given, null);
            // the composed reference gets Philox's numbers as a tensor (it cannot draw them itself)
            float[] xiForTorch = xi != null ? xi : noiseRef != null && !k.given
                    ? TestData.floats(NATIVE.noise(p.noiseKey(), DType.F32, Tensors.cpu(), rows, d)) : null;
            Out tor = run(TORCH, k, p, dt, rows, d, x, vc, vu, m1, xiForTorch, given, dt);
            String what = k.name + " D=" + d;
            if (!k.given) compare(what + " x'", dt, ref.x(), nat.x, tor.x);
            else assertNull(nat.x, "no x' is written when evaluating a given one");
            if (nat.x0 != null) compare(what + " x̂0", dt, ref.x0(), nat.x0, tor.x0);
            if (k.logProb) {
                Tolerance.close(what + " log-prob [" + dt.label() + "]", ref.logProb(), nat.logProb, 2e-4, 1e-4);
                Tolerance.close(what + " log-prob (torch) [" + dt.label() + "]", ref.logProb(), tor.logProb, 2e-2, 1e-2);
            }
        }
    }

    record Out(float[] x, float[] x0, float[] logProb) {}

    static Out run(KernelOps ops, Case k, FlowStepParams p, DType dt, int rows, int d, float[] x, float[] vc, float[] vu,
                   float[] m1, float[] xi, float[] given, DType noiseDt) {
        Tensor tx = TestData.tensor(x, dt, rows, d);
        FlowStepInputs in = FlowStepInputs.of(tx, TestData.tensor(vc, dt, rows, d));
        if (vu != null) in = in.withUncond(TestData.tensor(vu, dt, rows, d));
        Tensor tm1 = m1 != null ? TestData.tensor(m1, dt, rows, d) : null;
        if (tm1 != null) in = in.withPrevX0(tm1);
        if (xi != null) in = in.withNoise(TestData.tensor(xi, noiseDt != null ? noiseDt : dt, rows, d));
        if (given != null) in = in.withGiven(TestData.tensor(given, dt, rows, d));
        FlowStepOutputs out = k.inPlace ? FlowStepOutputs.inPlace(tx) : FlowStepOutputs.fresh();
        boolean wantX0 = !k.given;
        if (wantX0) out = k.x0IntoPrev && tm1 != null ? out.withX0Into(tm1) : out.withX0();
        if (k.logProb) out = out.withLogProb();
        FlowStepResult r = ops.flowStep(p, in, out);
        if (k.inPlace) assertTrue(r.x() == tx, "in place returns x itself");
        return new Out(r.x() == null ? null : TestData.floats(r.x()), r.x0Hat() == null ? null : TestData.floats(r.x0Hat()),
                r.logProb() == null ? null : TestData.floats(r.logProb()));
    }

    static void compare(String what, DType dt, double[] ref, float[] nat, float[] tor) {
        if (dt == DType.F32) {
            Tolerance.close(what + " [f32 native]", ref, nat, 3e-5, 3e-5);
            Tolerance.close(what + " [f32 torch]", ref, tor, 3e-5, 3e-5);
        } else {
            Tolerance.lowPrecision(what, dt, ref, nat, tor);
        }
    }

    @Test
    void philoxNoiseInsideTheStepEqualsTheNoiseTensor() {
        int rows = 3, d = 1027;
        SplittableRandom rng = new SplittableRandom(5);
        float[] x = TestData.normal(rng, rows * d, 1), v = TestData.normal(rng, rows * d, 1);
        FlowStepParams p = FlowStepParams.sde(0.6, 0.4, 0.9, 0.7, KEY);
        Tensor xi = NATIVE.noise(KEY, DType.F32, Tensors.cpu(), rows, d);
        FlowStepInputs in = FlowStepInputs.of(TestData.tensor(x, DType.F32, rows, d), TestData.tensor(v, DType.F32, rows, d));
        float[] a = TestData.floats(NATIVE.flowStep(p, in, FlowStepOutputs.fresh()).x());
        float[] b = TestData.floats(NATIVE.flowStep(p, in.withNoise(xi), FlowStepOutputs.fresh()).x());
        assertArrayEquals(b, a);
    }

    @Test
    void lastStepReturnsTheDataPrediction() {
        SplittableRandom rng = new SplittableRandom(9);
        float[] x = TestData.normal(rng, 4 * 97, 1), v = TestData.normal(rng, 4 * 97, 1);
        FlowStepInputs in = FlowStepInputs.of(TestData.tensor(x, DType.F32, 4, 97), TestData.tensor(v, DType.F32, 4, 97));
        FlowStepResult r = NATIVE.flowStep(FlowStepParams.euler(0.02, 0.0), in, FlowStepOutputs.fresh().withX0());
        assertArrayEquals(TestData.floats(r.x0Hat()), TestData.floats(r.x()));
    }

    /** SPEC §9: 6-step Euler and DPM-Solver++(2M) on the 1-D Gaussian, exact velocity. */
    @Test
    void solverTrajectoriesMatchGolden() {
        JsonObject g = Golden.load("solvers.json");
        double m = g.get("m").getAsDouble(), s = g.get("s").getAsDouble();
        double[] sig = Golden.doubles(g.get("sigmas"));
        float[] x1 = Golden.floats(g.get("x1"));
        double[] exact = Golden.doubles(g.get("exact_x0"));
        for (KernelOps ops : new KernelOps[] {NATIVE, TORCH}) {
            double[][] euler = trajectory(ops, sig, x1, m, s, false);
            double[][] dpm = trajectory(ops, sig, x1, m, s, true);
            double[] ge = Golden.doubles(g.get("euler")), gd = Golden.doubles(g.get("dpm2m"));
            for (int i = 0; i < sig.length; i++)
                for (int j = 0; j < x1.length; j++) {
                    assertEquals(ge[i * x1.length + j], euler[i][j], 2e-5, ops.name() + " euler step " + i);
                    assertEquals(gd[i * x1.length + j], dpm[i][j], 2e-5, ops.name() + " dpm2m step " + i);
                }
            double errE = 0, errD = 0;
            for (int j = 0; j < x1.length; j++) {
                errE = Math.max(errE, Math.abs(euler[sig.length - 1][j] - exact[j]));
                errD = Math.max(errD, Math.abs(dpm[sig.length - 1][j] - exact[j]));
            }
            assertEquals(g.get("euler_final_err").getAsDouble(), errE, 1e-4);
            assertEquals(g.get("dpm2m_final_err").getAsDouble(), errD, 1e-4);
            assertTrue(errD < 0.5 * errE, "DPM-Solver++(2M) ends closer to the exact solution than Euler");
        }
    }

    static double velocity(double x, double t, double m, double s) {
        return (t - (1 - t) * s * s) * (x - (1 - t) * m) / ((1 - t) * (1 - t) * s * s + t * t) - m;
    }

    static double[][] trajectory(KernelOps ops, double[] sig, float[] x1, double m, double s, boolean dpm) {
        int b = x1.length;
        double[][] traj = new double[sig.length][];
        Tensor x = Tensors.fromFloats(x1.clone(), b, 1);
        Tensor prev = null;
        traj[0] = TestData.d(x1);
        for (int i = 0; i + 1 < sig.length; i++) {
            float[] xs = TestData.floats(x);
            float[] v = new float[b];
            for (int j = 0; j < b; j++) v[j] = (float) velocity(xs[j], sig[i], m, s);
            FlowStepParams p = dpm ? FlowStepParams.dpmSolver2M(i == 0 ? Double.NaN : sig[i - 1], sig[i], sig[i + 1])
                    : FlowStepParams.euler(sig[i], sig[i + 1]);
            FlowStepInputs in = FlowStepInputs.of(x, Tensors.fromFloats(v, b, 1));
            if (prev != null && p.cPrevX0() != 0) in = in.withPrevX0(prev);
            FlowStepResult r = ops.flowStep(p, in, FlowStepOutputs.fresh().withX0());
            x = r.x();
            prev = r.x0Hat();
            traj[i + 1] = TestData.d(TestData.floats(x));
        }
        return traj;
    }
}
