package dev.editr1.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Flow-GRPO loss kernel: the double reference, libtorch autograd of the composed loss, the
 * rollout's own log-probabilities, and the CUDA path where one exists.
 *
 * <p>Each batch has one row per case of the clipped surrogate, with the ratio placed by choosing
 * the old log-probability: at 1 (θ = θ_old), inside the clip range, just outside it on both sides
 * (3ε) with A of both signs (the clipped term wins for A &gt; 0 above and A &lt; 0 below, so those
 * rows get no policy gradient), far outside, A = 0, and a masked row.
 */
class GrpoLossTest {
    static final NativeOps NATIVE = new NativeOps(true);
    static final TorchOps TORCH = new TorchOps(true);

    /** σ = 1 (the σ_1 rule), the middle, the last step, and a last step near 0. */
    static final SdeStep[] STEPS = {
            SdeStep.of(1.0, 0.9, 0.9, SdeStep.NOISE_LEVEL),
            SdeStep.of(0.5, 0.3, 0.9, SdeStep.NOISE_LEVEL),
            SdeStep.of(0.02, 0.0, 0.9, SdeStep.NOISE_LEVEL),
            SdeStep.of(1e-3, 0.0, 0.9, SdeStep.NOISE_LEVEL)};

    /** Per row: the advantage, the ratio to place (in units of ε from 1 when |k| ≤ 3, else itself), valid. */
    static final float[] ADV = {1.3f, -0.7f, 0.9f, -1.1f, 0.6f, -0.8f, 0.0f, -1.5f, 1.5f, 2.0f};
    static final double[] RATIO_EPS = {0, 0.5, 3, 3, -3, -3, Double.NaN, Double.NaN, Double.NaN, Double.NaN};
    static final double[] RATIO_ABS = {0, 0, 0, 0, 0, 0, 1.3, 1.3, 0.7, 0.7};
    static final float[] VALID = {1, 1, 1, 1, 1, 1, 1, 1, 1, 0};
    static final int ROWS = ADV.length;

    static double targetRatio(int b, double eps) {
        return Double.isNaN(RATIO_EPS[b]) ? RATIO_ABS[b] : 1 + RATIO_EPS[b] * eps;
    }

    /** One batch: x, the rollout's x' (drawn with a velocity near v_θ), v_θ, v_ref, A, logp_old, valid. */
    record Batch(int rows, int d, float[] x, float[] xNext, float[] vth, float[] vref, float[] adv, float[] logpOld,
                 float[] valid) {
        GrpoLossInputs tensors(DType dt) {
            return new GrpoLossInputs(TestData.tensor(x, dt, rows, d), TestData.tensor(xNext, dt, rows, d),
                    TestData.tensor(vth, dt, rows, d), vref == null ? null : TestData.tensor(vref, dt, rows, d),
                    TestData.f32(adv), TestData.f32(logpOld), TestData.f32(valid));
        }

        Reference.Grpo reference(GrpoLossConfig c) {
            return Reference.grpoLoss(c, rows, d, TestData.d(x), TestData.d(xNext), TestData.d(vth),
                    vref == null ? null : TestData.d(vref), TestData.d(adv), TestData.d(logpOld), TestData.d(valid));
        }

        Batch withValid(float[] v) {
            return new Batch(rows, d, x, xNext, vth, vref, adv, logpOld, v);
        }
    }

    /** Inputs rounded through dt (what the kernel reads), old log-probs placing each row's ratio. */
    static Batch batch(SplittableRandom rng, DType dt, GrpoLossConfig c, int d, boolean withRef) {
        int n = ROWS * d;
        SdeStep st = c.step();
        float[] x = TestData.rounded(TestData.normal(rng, n, 1), dt);
        float[] vth = TestData.rounded(TestData.normal(rng, n, 1), dt);
        float[] jitter = TestData.normal(rng, n, 0.05), xi = TestData.normal(rng, n, 1);
        float[] xNext = new float[n];
        for (int i = 0; i < n; i++) {
            double vRollout = vth[i] + jitter[i];  // the rollout's policy, a little off the current one
            xNext[i] = (float) (st.cX() * x[i] + st.cV() * vRollout + st.stdLogProb() * xi[i]);
        }
        xNext = TestData.rounded(xNext, dt);
        float[] vref = withRef ? TestData.rounded(TestData.normal(rng, n, 1), dt) : null;
        float[] zeros = new float[ROWS];
        Batch b0 = new Batch(ROWS, d, x, xNext, vth, vref, ADV.clone(), zeros, VALID.clone());
        double[] lp = b0.reference(c).logProb();
        float[] logpOld = new float[ROWS];
        for (int b = 0; b < ROWS; b++) logpOld[b] = (float) (lp[b] - Math.log(targetRatio(b, c.clipRange())));
        return new Batch(ROWS, d, x, xNext, vth, vref, ADV.clone(), logpOld, VALID.clone());
    }

    record Config(String name, GrpoLossConfig c, boolean withRef) {}

    static List<Config> configs(SdeStep st) {
        return List.of(new Config("flow-grpo", GrpoLossConfig.flowGrpo(st), true),
                new Config("no v_ref", GrpoLossConfig.flowGrpo(st), false),
                new Config("ε=0.2 β=0.3", GrpoLossConfig.flowGrpo(st).withClipRange(0.2).withKlWeight(0.3), true));
    }

    static Stream<Arguments> grid() {
        List<Arguments> a = new ArrayList<>();
        for (DType dt : DType.values())
            for (int d : TestData.ODD_LENGTHS) a.add(Arguments.of(dt, d));
        return a.stream();
    }

    /**
     * Budgets for the values downstream of logp. In f32, logp's error is relative to its quadratic
     * term q = mean((x' − μ)²)/(2·std²), not to logp (D = 1 with a 20σ spike: q ≈ 200, logp ≈ −195),
     * and ρ = exp(logp − logp_old) turns it into a relative error of ρ: per row 1e-6 + 2e-6·q
     * (f32's ε is 1.2e-7: a few ulps of the square sum, as its f32 pieces can reach). ℓ = −A·ρ or
     * −A·clip(ρ) inherits A·ρ's; the loss the valid rows' (Σ|ℓ| can be far above |Σℓ|), plus the
     * KL's f32 error; an f32 gradient element 1e-5 of the largest plus its row's relative budget.
     */
    record Budgets(double[] ratio, double[] ell, double loss, double[] grad) {
        static Budgets of(Reference.Grpo ref, GrpoLossConfig c, float[] adv, float[] valid) {
            int rows = ref.ratio().length, d = ref.grad().length / rows;
            double gmax = maxAbs(ref.grad());
            double[] bg = new double[rows * d];
            double sd = c.step().stdLogProb();
            double[] br = new double[rows], be = new double[rows];
            double loss = 1e-6 * Math.abs(ref.loss()), sumValid = 0;
            for (int b = 0; b < rows; b++) {
                double q = -(ref.logProb()[b] + Math.log(sd) + 0.5 * Math.log(2 * Math.PI));
                double rel = 1e-6 + 2e-6 * Math.max(q, 0);
                br[b] = 1e-7 + rel * ref.ratio()[b];
                be[b] = 1e-7 + rel * Math.abs(adv[b]) * ref.ratio()[b];
                for (int e = 0; e < d; e++) bg[b * d + e] = 1e-5 * gmax + (1e-5 + rel) * Math.abs(ref.grad()[b * d + e]);
                sumValid += valid[b];
                loss += valid[b] * (be[b] + 1e-5 * c.klWeight() * ref.kl()[b]);
            }
            return new Budgets(br, be, sumValid > 0 ? loss / sumValid : 1e-7, bg);
        }
    }

    static double maxAbs(double[] v) {
        double m = 0;
        for (double x : v) m = Math.max(m, Math.abs(x));
        return m;
    }

    /** Worst budget fraction used per check (over all cases), printed after the class. */
    static final java.util.Map<String, Double> WORST = new java.util.concurrent.ConcurrentHashMap<>();

    static void note(String key, double used) {
        WORST.merge(key, used, Math::max);
    }

    @ParameterizedTest(name = "{0} D={1}")
    @MethodSource("grid")
    void matchesReference(DType dt, int d) {
        forEachCase(dt, d, (what, cfg, in) -> checkAgainstReference(what, dt, cfg, in, NATIVE.grpoLoss(cfg.c, in.tensors(dt), true), ""));
    }

    interface Case {
        void run(String what, Config cfg, Batch in);
    }

    /** The batches of one (dtype, D) grid point: every step × config, from one seed. */
    static void forEachCase(DType dt, int d, Case body) {
        SplittableRandom rng = new SplittableRandom(d * 11L + dt.ordinal());
        for (SdeStep st : STEPS)
            for (Config cfg : configs(st))
                body.run(cfg.name + " σ=" + st.sigma() + " D=" + d + " [" + dt.label() + "]", cfg,
                        batch(rng, dt, cfg.c, d, cfg.withRef));
    }

    /** One result (CPU or CUDA, named by tag in the worst-case table) against the double reference. */
    static void checkAgainstReference(String what, DType dt, Config cfg, Batch in, GrpoLossResult r, String tag) {
        int d = in.d();
        Reference.Grpo ref = in.reference(cfg.c);
        String k = tag + dt.label();
        // per-sample values and the loss come from f32 sums of the (rounded) inputs: f32 tolerances
        note(k + " logp", Tolerance.close(what + " logp", ref.logProb(), TestData.floats(r.logProb()), 1e-6, 1e-5));
        Budgets bud = Budgets.of(ref, cfg.c, in.adv(), in.valid());
        // the case is well posed: each ratio sits clear of the clip bounds by more than its f32 budget
        // (of which the kernels use a quarter at most), so no side of a bound is decided by rounding
        for (int b = 0; b < ref.ratio().length; b++) {
            double gap = Math.min(Math.abs(ref.ratio()[b] - (1 - cfg.c.clipRange())), Math.abs(ref.ratio()[b] - (1 + cfg.c.clipRange())));
            assertTrue(gap > bud.ratio()[b], what + " row " + b + ": ratio " + ref.ratio()[b] + " within its f32 budget of a clip bound");
        }
        note(k + " ratio", Tolerance.closeEach(what + " ratio", ref.ratio(), TestData.floats(r.ratio()), bud.ratio()));
        note(k + " ℓ", Tolerance.closeEach(what + " ℓ", ref.ell(), TestData.floats(r.ell()), bud.ell()));
        note(k + " kl", Tolerance.close(what + " kl", ref.kl(), TestData.floats(r.kl()), 1e-9, 1e-5));
        note(k + " loss", Tolerance.closeEach(what + " loss", new double[] {ref.loss()}, TestData.floats(r.loss()),
                new double[] {bud.loss()}));
        float[] g = TestData.floats(r.grad());
        if (dt == DType.F32) {
            note(k + " grad", Tolerance.closeEach(what + " grad", ref.grad(), g, bud.grad()));
        } else {
            GrpoLossResult tor = TORCH.grpoLoss(cfg.c, in.tensors(dt), true);
            float[] gt = TestData.floats(tor.grad());
            double errK = Tolerance.worst(ref.grad(), g).err(), errT = Tolerance.worst(ref.grad(), gt).err();
            note(k + " grad err/same-precision err", errK / Math.max(errT, 1e-300));
            Tolerance.lowPrecision(what + " grad", dt, ref.grad(), g, gt);
            // and tighter: nothing beyond the final rounding to the dtype (one unit of its
            // precision relative to each element; f16: at least its subnormal spacing 2^-24,
            // which the 1/D-scaled gradients of long rows reach) and f32's budget
            double unit = dt == DType.BF16 ? 0x1p-8 : 0x1p-11, floor = dt == DType.F16 ? 0x1p-24 : 0;
            double[] bg = bud.grad().clone();
            for (int i = 0; i < bg.length; i++) bg[i] += Math.max(unit * Math.abs(ref.grad()[i]), floor);
            note(k + " grad (one unit of rounding)", Tolerance.closeEach(what + " grad", ref.grad(), g, bg));
        }
        // the masked row gets no gradient at all; rows whose clipped term wins get only the KL's
        for (int e = 0; e < d; e++) assertEquals(0.0f, g[9 * d + e], 0.0f, what + " masked row");
        if (!cfg.withRef)
            for (int b : new int[] {2, 5, 6})
                for (int e = 0; e < d; e++) assertEquals(0.0f, g[b * d + e], 0.0f, what + " row " + b);
    }

    @AfterAll
    static void reportWorst() {
        // the largest fraction of each tolerance budget used (bf16/f16 grad: the kernel's worst error
        // over the same-precision reference's, the rule allowing 2)
        new java.util.TreeMap<>(WORST).forEach((k, v) -> System.out.printf("GrpoLossTest worst %-40s %.3f%n", k, v));
    }

    /**
     * The fused gradient equals libtorch autograd of the composed loss (torch.maximum, clamp, exp),
     * and both equal the double reference. The rows at ratio 1 and inside the clip range are ties of
     * max(−Aρ, −A·clip(ρ)): autograd gives ½·(−A) + ½·(−A) there, the kernel −A in one piece.
     */
    @Test
    void gradientEqualsAutogradOfComposedLoss() {
        SplittableRandom rng = new SplittableRandom(42);
        for (SdeStep st : STEPS) {
            for (Config cfg : configs(st)) {
                for (int d : new int[] {13, 1025}) {
                    Batch in = batch(rng, DType.F32, cfg.c, d, cfg.withRef);
                    GrpoLossResult nat = NATIVE.grpoLoss(cfg.c, in.tensors(DType.F32), true);
                    GrpoLossResult aut = TORCH.grpoLoss(cfg.c, in.tensors(DType.F32), true);
                    Reference.Grpo ref = in.reference(cfg.c);
                    float[] ga = TestData.floats(aut.grad());
                    double gmax = maxAbs(ref.grad());
                    String what = cfg.name + " σ=" + st.sigma() + " D=" + d;
                    note("f32 grad vs autograd", Tolerance.close(what + " grad vs autograd", TestData.d(ga),
                            TestData.floats(nat.grad()), 1e-5 * gmax, 1e-4));
                    Tolerance.close(what + " autograd vs reference", ref.grad(), ga, 1e-5 * gmax, 1e-4);
                    // both are f32 computations: each within the f32 budget of the reference
                    Budgets bud = Budgets.of(ref, cfg.c, in.adv(), in.valid());
                    for (GrpoLossResult r : new GrpoLossResult[] {nat, aut}) {
                        Tolerance.closeEach(what + " loss", new double[] {ref.loss()}, TestData.floats(r.loss()),
                                new double[] {bud.loss()});
                        Tolerance.closeEach(what + " ratio", ref.ratio(), TestData.floats(r.ratio()), bud.ratio());
                    }
                }
            }
        }
    }

    /** The reference's gradient is the central finite difference of its own loss (away from the kinks). */
    @Test
    void referenceGradientIsTheFiniteDifferenceOfItsLoss() {
        for (SdeStep st : STEPS) {
            GrpoLossConfig c = GrpoLossConfig.flowGrpo(st).withKlWeight(0.5);
            Batch in = batch(new SplittableRandom(5), DType.F32, c, 13, true);
            double[] x = TestData.d(in.x()), xn = TestData.d(in.xNext()), vth = TestData.d(in.vth()),
                    vref = TestData.d(in.vref()), adv = TestData.d(in.adv()), lpo = TestData.d(in.logpOld()),
                    valid = TestData.d(in.valid());
            double[] grad = Reference.grpoLoss(c, ROWS, 13, x, xn, vth, vref, adv, lpo, valid).grad();
            for (int i = 0; i < ROWS * 13; i += 7) {
                double h = 1e-6;
                double[] plus = vth.clone(), minus = vth.clone();
                plus[i] += h;
                minus[i] -= h;
                double fd = (Reference.grpoLoss(c, ROWS, 13, x, xn, plus, vref, adv, lpo, valid).loss()
                        - Reference.grpoLoss(c, ROWS, 13, x, xn, minus, vref, adv, lpo, valid).loss()) / (2 * h);
                assertEquals(grad[i], fd, 1e-6 * Math.max(1, Math.abs(grad[i])), "σ=" + st.sigma() + " element " + i);
            }
        }
    }

    /**
     * Rollout and training agree: an SDE step drawn by the flow-step kernel and re-evaluated by the
     * GRPO kernel with the rollout's own velocity gives the rollout's log-probability and ratio 1.
     */
    @Test
    void atTheRolloutPolicyTheRatioIsOne() {
        SplittableRandom rng = new SplittableRandom(9);
        int rows = 4, d = 1025;
        for (SdeStep st : new SdeStep[] {STEPS[0], STEPS[1], STEPS[2]}) {
            Tensor x = Tensors.fromFloats(TestData.normal(rng, rows * d, 1), rows, d);
            Tensor v = Tensors.fromFloats(TestData.normal(rng, rows * d, 1), rows, d);
            FlowStepResult roll = NATIVE.flowStep(FlowStepParams.sde(st, NoiseKey.of(77)), FlowStepInputs.of(x, v),
                    FlowStepOutputs.fresh().withLogProb());
            GrpoLossInputs in = new GrpoLossInputs(x, roll.x(), v, null, TestData.f32(1, -1, 0.5f, 2),
                    roll.logProb(), TestData.f32(1, 1, 1, 1));
            GrpoLossResult r = NATIVE.grpoLoss(GrpoLossConfig.flowGrpo(st), in, true);
            Tolerance.close("σ=" + st.sigma() + " logp vs the rollout's", TestData.d(TestData.floats(roll.logProb())),
                    TestData.floats(r.logProb()), 1e-5, 1e-5);
            Tolerance.close("σ=" + st.sigma() + " ratio", new double[] {1, 1, 1, 1}, TestData.floats(r.ratio()), 2e-5, 0);
            // at ρ = 1 the loss is −mean(A)
            assertEquals(-(1 - 1 + 0.5 + 2) / 4.0, r.lossValue(), 1e-4);
        }
    }

    @Test
    void sdeStepFollowsTheSpec() {
        // written out from SPEC §3 here, independently of SdeStep.of
        double[][] cases = {{1.0, 0.9, 0.9}, {0.5, 0.3, 0.9}, {0.02, 0.0, 0.9}, {1e-3, 0.0, 0.96}};
        for (double[] k : cases) {
            double sigma = k[0], next = k[1], sigma1 = k[2];
            double s = 0.7 * Math.sqrt(sigma / (1 - (sigma == 1 ? sigma1 : sigma)));
            double dt = next - sigma;
            SdeStep st = SdeStep.of(sigma, next, sigma1, 0.7);
            assertEquals(s, st.stdDev(), 1e-15 * s);
            assertEquals(1 + s * s * dt / (2 * sigma), st.cX(), 1e-15);
            assertEquals((1 + s * s * (1 - sigma) / (2 * sigma)) * dt, st.cV(), 1e-15);
            assertEquals(s * Math.sqrt(-dt), st.stdLogProb(), 1e-15 * s);
            FlowStepParams f = FlowStepParams.sde(sigma, next, sigma1, 0.7, NoiseKey.of(1));
            assertEquals(st.cX(), f.cX(), 0.0);
            assertEquals(st.cV(), f.cV(), 0.0);
            assertEquals(st.stdLogProb(), f.cNoise(), 0.0);
        }
        assertThrows(IllegalArgumentException.class, () -> SdeStep.of(1.0, 0.9, 1.0, 0.7));   // σ_1 = 1: 1/0
        assertThrows(IllegalArgumentException.class, () -> SdeStep.of(0.5, 0.5, 0.9, 0.7));   // dt = 0
        assertThrows(IllegalArgumentException.class, () -> SdeStep.of(0.0, 0.0, 0.9, 0.7));
        assertThrows(IllegalArgumentException.class, () -> SdeStep.of(0.5, 0.3, 0.9, 0.0));
        assertThrows(IllegalArgumentException.class, () -> GrpoLossConfig.flowGrpo(STEPS[0]).withClipRange(-1));
        assertThrows(IllegalArgumentException.class, () -> GrpoLossConfig.flowGrpo(STEPS[0]).withKlWeight(Double.NaN));
    }

    /** Many short rows: the CPU path's row blocks (a block's pass 2 follows its pass 1), the last one partial. */
    @Test
    void manyShortRowsAcrossRowBlocks() {
        SplittableRandom rng = new SplittableRandom(37);
        int rows = 37, d = 300, n = rows * d;
        SdeStep st = STEPS[1];
        GrpoLossConfig c = GrpoLossConfig.flowGrpo(st).withClipRange(0.2);
        float[] x = TestData.normal(rng, n, 1), vth = TestData.normal(rng, n, 1), vref = TestData.normal(rng, n, 1);
        float[] xi = TestData.normal(rng, n, 1), xn = new float[n];
        for (int i = 0; i < n; i++) xn[i] = (float) (st.cX() * x[i] + st.cV() * vth[i] + st.stdLogProb() * xi[i]);
        float[] adv = new float[rows], lpo = new float[rows], valid = new float[rows];
        for (int b = 0; b < rows; b++) {
            adv[b] = (float) rng.nextDouble(-2, 2);
            lpo[b] = (float) rng.nextDouble(0.2, 0.8);  // ratios from ~0.6 to ~1.7: some clipped
            valid[b] = b % 5 == 4 ? 0f : 1f;
        }
        Reference.Grpo ref = Reference.grpoLoss(c, rows, d, TestData.d(x), TestData.d(xn), TestData.d(vth),
                TestData.d(vref), TestData.d(adv), TestData.d(lpo), TestData.d(valid));
        GrpoLossInputs in = new GrpoLossInputs(Tensors.fromFloats(x, rows, d), Tensors.fromFloats(xn, rows, d),
                Tensors.fromFloats(vth, rows, d), Tensors.fromFloats(vref, rows, d), TestData.f32(adv), TestData.f32(lpo),
                TestData.f32(valid));
        GrpoLossResult r = NATIVE.grpoLoss(c, in, true);
        Budgets bud = Budgets.of(ref, c, adv, valid);
        Tolerance.closeEach("37 rows ratio", ref.ratio(), TestData.floats(r.ratio()), bud.ratio());
        Tolerance.closeEach("37 rows loss", new double[] {ref.loss()}, TestData.floats(r.loss()), new double[] {bud.loss()});
        Tolerance.closeEach("37 rows grad", ref.grad(), TestData.floats(r.grad()), bud.grad());
    }

    @Test
    void allRowsMaskedGivesZeroLossAndGradient() {
        GrpoLossConfig c = GrpoLossConfig.flowGrpo(STEPS[1]);
        Batch in = batch(new SplittableRandom(1), DType.F32, c, 97, true).withValid(new float[ROWS]);
        for (KernelOps ops : new KernelOps[] {NATIVE, TORCH}) {
            GrpoLossResult r = ops.grpoLoss(c, in.tensors(DType.F32), true);
            assertEquals(0.0, r.lossValue(), 0.0, ops.name());
            for (float v : TestData.floats(r.grad())) assertEquals(0.0f, v, 0.0f, ops.name());
            // the per-sample values are still reported for every row
            Reference.Grpo ref = in.reference(c);
            Tolerance.closeEach(ops.name() + " masked ratios", ref.ratio(), TestData.floats(r.ratio()),
                    Budgets.of(ref, c, in.adv(), in.valid()).ratio());
        }
    }

    @Test
    void resultsDoNotDependOnThreadCount() {
        GrpoLossConfig c = GrpoLossConfig.flowGrpo(STEPS[2]);
        Batch in = batch(new SplittableRandom(8), DType.F32, c, 65539, true);
        try {
            Editr1Native.editr1_set_cpu_threads(1);
            GrpoLossResult a = NATIVE.grpoLoss(c, in.tensors(DType.F32), true);
            Editr1Native.editr1_set_cpu_threads(2);
            GrpoLossResult b = NATIVE.grpoLoss(c, in.tensors(DType.F32), true);
            assertArrayEquals(TestData.floats(a.grad()), TestData.floats(b.grad()));
            assertArrayEquals(TestData.floats(a.loss()), TestData.floats(b.loss()));
            assertArrayEquals(TestData.floats(a.logProb()), TestData.floats(b.logProb()));
        } finally {
            Editr1Native.editr1_set_cpu_threads(0);
        }
    }

    @Test
    void lossWithoutGradient() {
        GrpoLossConfig c = GrpoLossConfig.flowGrpo(STEPS[0]);
        Batch in = batch(new SplittableRandom(2), DType.BF16, c, 1025, true);
        GrpoLossResult r = NATIVE.grpoLoss(c, in.tensors(DType.BF16), false);
        assertNull(r.grad());
        Reference.Grpo ref = in.reference(c);
        Budgets bud = Budgets.of(ref, c, in.adv(), in.valid());
        Tolerance.closeEach("no-grad loss", new double[] {ref.loss()}, TestData.floats(r.loss()), new double[] {bud.loss()});
        Tolerance.closeEach("no-grad ℓ", ref.ell(), TestData.floats(r.ell()), bud.ell());
    }

    /** An overflowing ratio (log-ratio ≈ 200) is reported, not passed on as ∞ or NaN. */
    @Test
    void ratioOverflowIsReported() {
        GrpoLossConfig c = GrpoLossConfig.flowGrpo(STEPS[1]);
        Batch in = batch(new SplittableRandom(4), DType.F32, c, 97, false);
        float[] lpo = in.logpOld().clone();
        lpo[3] -= 200;
        Batch bad = new Batch(in.rows(), in.d(), in.x(), in.xNext(), in.vth(), null, in.adv(), lpo, in.valid());
        KernelException e = assertThrows(KernelException.class, () -> NATIVE.grpoLoss(c, bad.tensors(DType.F32), true));
        assertTrue(e.getMessage().contains("grpoLoss") && e.getMessage().contains("output"), e.getMessage());
    }

    /**
     * The CUDA path through the façade (skipped without a usable GPU): the CPU test's batches and
     * checks against the double reference, then the gradient against the CPU path's.
     */
    @Test
    void cudaMatchesTheCpu() {
        Backend.Probe p = Backend.probe();
        assumeTrue(p.cudaUsable(), "CUDA not usable here: " + p.whyNot());
        Device cuda = new Device(torch.DeviceType.CUDA, (byte) 0);
        java.util.function.UnaryOperator<Tensor> on = t -> t == null ? null : t.to(cuda, Tensors.scalarType(t));
        for (DType dt : DType.values()) {
            for (int d : TestData.ODD_LENGTHS) {
                forEachCase(dt, d, (what, cfg, in) -> {
                    GrpoLossInputs h = in.tensors(dt);
                    GrpoLossInputs g = new GrpoLossInputs(on.apply(h.x()), on.apply(h.xNext()), on.apply(h.vTheta()),
                            on.apply(h.vRef()), on.apply(h.advantage()), on.apply(h.logProbOld()), on.apply(h.valid()));
                    GrpoLossResult rg = NATIVE.grpoLoss(cfg.c, g, true);
                    assertTrue(rg.grad().is_cuda());
                    checkAgainstReference("cuda " + what, dt, cfg, in, rg, "cuda ");
                    float[] gc = TestData.floats(NATIVE.grpoLoss(cfg.c, h, true).grad());
                    double gmax = 0;
                    for (float v : gc) gmax = Math.max(gmax, Math.abs(v));
                    double rtol = dt == DType.F32 ? 1e-4 : dt == DType.BF16 ? 1.6e-2 : 2e-3;
                    Tolerance.close("cuda " + what + " grad vs cpu", TestData.d(gc), TestData.floats(rg.grad()), 1e-4 * gmax, rtol);
                });
            }
        }
    }
}
