package dev.editr1.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;

/** The DiffusionNFT loss kernel (SPEC §6): golden values, the double reference, and autograd. */
class NftLossTest {
    static final NativeOps NATIVE = new NativeOps(true);
    static final TorchOps TORCH = new TorchOps(true);

    /** t at the extremes, r at 0, ½, 1, one masked row. */
    static final float[] T = {0.02f, 0.5f, 1.0f, 0.7f};
    static final float[] R = {0.0f, 0.5f, 1.0f, 0.83f};
    static final float[] VALID = {1, 1, 1, 0};

    record Inputs(int rows, int d, float[] x0, float[] target, float[] vth, float[] vold, float[] vref) {
        NftLossInputs tensors(DType dt, boolean targetIsXt) {
            return new NftLossInputs(TestData.tensor(x0, dt, rows, d), TestData.tensor(target, dt, rows, d), targetIsXt,
                    TestData.tensor(vth, dt, rows, d), TestData.tensor(vold, dt, rows, d),
                    vref == null ? null : TestData.tensor(vref, dt, rows, d), TestData.f32(T), TestData.f32(R),
                    TestData.f32(VALID));
        }

        Reference.Nft reference(NftLossConfig c, boolean targetIsXt) {
            return Reference.nftLoss(c, rows, d, TestData.d(x0), TestData.d(target), targetIsXt, TestData.d(vth),
                    TestData.d(vold), vref == null ? null : TestData.d(vref), TestData.d(T), TestData.d(R), TestData.d(VALID));
        }
    }

    static Inputs inputs(SplittableRandom rng, DType dt, int d, boolean withRef, boolean targetIsXt) {
        int rows = 4, n = rows * d;
        float[] x0 = TestData.rounded(TestData.normal(rng, n, 1), dt);
        float[] eps = TestData.rounded(TestData.normal(rng, n, 1), dt);
        float[] target = eps;
        if (targetIsXt) {
            target = new float[n];
            for (int b = 0; b < rows; b++)
                for (int e = 0; e < d; e++) target[b * d + e] = (1 - T[b]) * x0[b * d + e] + T[b] * eps[b * d + e];
            target = TestData.rounded(target, dt);
        }
        float[] vth = new float[n], vold = new float[n];
        float[] noise1 = TestData.normal(rng, n, 0.3), noise2 = TestData.normal(rng, n, 0.3);
        // velocities near the target v* = ε − x0, as a trained model's would be
        for (int i = 0; i < n; i++) {
            vth[i] = eps[i] - x0[i] + noise1[i];
            vold[i] = vth[i] + 0.2f * noise2[i];
        }
        float[] vref = withRef ? TestData.rounded(TestData.normal(rng, n, 1), dt) : null;
        return new Inputs(rows, d, x0, target, TestData.rounded(vth, dt), TestData.rounded(vold, dt), vref);
    }

    record Config(String name, NftLossConfig c, boolean withRef, boolean targetIsXt) {}

    static final List<Config> CONFIGS = List.of(
            new Config("x0 form", NftLossConfig.DEFAULTS, true, false),
            new Config("x0 form β=0.3", NftLossConfig.DEFAULTS.withBeta(0.3), true, false),
            new Config("velocity form β=1.7", NftLossConfig.DEFAULTS.withForm(NftForm.VELOCITY).withBeta(1.7), true, false),
            new Config("x0 form without v_ref", NftLossConfig.DEFAULTS, false, false),
            new Config("x0 form, x_t target", NftLossConfig.DEFAULTS, true, true),
            new Config("velocity form, x_t target", NftLossConfig.DEFAULTS.withForm(NftForm.VELOCITY), true, true));

    static Stream<Arguments> grid() {
        List<Arguments> a = new ArrayList<>();
        for (DType dt : DType.values())
            for (int d : TestData.ODD_LENGTHS) a.add(Arguments.of(dt, d));
        return a.stream();
    }

    @ParameterizedTest(name = "{0} D={1}")
    @MethodSource("grid")
    void matchesReference(DType dt, int d) {
        SplittableRandom rng = new SplittableRandom(d * 7L + dt.ordinal());
        for (Config cfg : CONFIGS) {
            Inputs in = inputs(rng, dt, d, cfg.withRef, cfg.targetIsXt);
            Reference.Nft ref = in.reference(cfg.c, cfg.targetIsXt);
            NftLossResult nat = NATIVE.nftLoss(cfg.c, in.tensors(dt, cfg.targetIsXt), true);
            String what = cfg.name + " D=" + d + " [" + dt.label() + "]";
            // per-sample values and the loss are f32 sums of the (rounded) inputs: f32 tolerance
            Tolerance.close(what + " ℓ", ref.ell(), TestData.floats(nat.ell()), 1e-6, 1e-4);
            Tolerance.close(what + " kl", ref.kl(), TestData.floats(nat.kl()), 1e-6, 1e-4);
            Tolerance.close(what + " loss", new double[] {ref.loss()}, TestData.floats(nat.loss()), 1e-6, 1e-4);
            float[] g = TestData.floats(nat.grad());
            double gmax = 0;
            for (double v : ref.grad()) gmax = Math.max(gmax, Math.abs(v));
            if (dt == DType.F32) {
                Tolerance.close(what + " grad", ref.grad(), g, 1e-4 * gmax, 1e-4);
            } else {
                NftLossResult tor = TORCH.nftLoss(cfg.c, in.tensors(dt, cfg.targetIsXt), true);
                Tolerance.lowPrecision(what + " grad", dt, ref.grad(), g, TestData.floats(tor.grad()));
            }
            // the masked row gets no gradient at all
            for (int e = 0; e < d; e++) assertEquals(0.0f, g[3 * d + e], 0.0f);
        }
    }

    /**
     * Many short rows: the CPU path takes rows in blocks (pass 2 of a block follows its pass 1), so
     * 37 rows of one work item each span three blocks, the last one partial.
     */
    @Test
    void manyShortRowsAcrossRowBlocks() {
        SplittableRandom rng = new SplittableRandom(37);
        int rows = 37, d = 300, n = rows * d;
        float[] t = new float[rows], r = new float[rows], valid = new float[rows];
        for (int b = 0; b < rows; b++) {
            t[b] = (float) rng.nextDouble(0.05, 1.0);
            r[b] = (float) rng.nextDouble();
            valid[b] = b % 5 == 4 ? 0f : 1f;
        }
        float[] x0 = TestData.normal(rng, n, 1), eps = TestData.normal(rng, n, 1), vth = new float[n], vold = new float[n];
        float[] noise = TestData.normal(rng, n, 0.3), vref = TestData.normal(rng, n, 1);
        for (int i = 0; i < n; i++) {
            vth[i] = eps[i] - x0[i] + noise[i];
            vold[i] = vth[i] + 0.1f * noise[(i * 7) % n];
        }
        Reference.Nft ref = Reference.nftLoss(NftLossConfig.DEFAULTS, rows, d, TestData.d(x0), TestData.d(eps), false,
                TestData.d(vth), TestData.d(vold), TestData.d(vref), TestData.d(t), TestData.d(r), TestData.d(valid));
        NftLossInputs in = new NftLossInputs(TestData.tensor(x0, DType.F32, rows, d), TestData.tensor(eps, DType.F32, rows, d),
                false, TestData.tensor(vth, DType.F32, rows, d), TestData.tensor(vold, DType.F32, rows, d),
                TestData.tensor(vref, DType.F32, rows, d), TestData.f32(t), TestData.f32(r), TestData.f32(valid));
        NftLossResult nat = NATIVE.nftLoss(NftLossConfig.DEFAULTS, in, true);
        Tolerance.close("37 rows ℓ", ref.ell(), TestData.floats(nat.ell()), 1e-6, 1e-4);
        Tolerance.close("37 rows loss", new double[] {ref.loss()}, TestData.floats(nat.loss()), 1e-6, 1e-4);
        double gmax = 0;
        for (double v : ref.grad()) gmax = Math.max(gmax, Math.abs(v));
        Tolerance.close("37 rows grad", ref.grad(), TestData.floats(nat.grad()), 1e-4 * gmax, 1e-4);
    }

    /** The fused gradient equals libtorch autograd of the composed loss (weights detached there). */
    @Test
    void gradientEqualsAutogradOfComposedLoss() {
        SplittableRandom rng = new SplittableRandom(42);
        for (Config cfg : CONFIGS) {
            for (int d : new int[] {13, 1025}) {
                Inputs in = inputs(rng, DType.F32, d, cfg.withRef, cfg.targetIsXt);
                NftLossResult nat = NATIVE.nftLoss(cfg.c, in.tensors(DType.F32, cfg.targetIsXt), true);
                NftLossResult aut = TORCH.nftLoss(cfg.c, in.tensors(DType.F32, cfg.targetIsXt), true);
                float[] ga = TestData.floats(aut.grad());
                double gmax = 0;
                for (float v : ga) gmax = Math.max(gmax, Math.abs(v));
                String what = cfg.name + " D=" + d;
                Tolerance.close(what + " grad vs autograd", TestData.d(ga), TestData.floats(nat.grad()), 1e-5 * gmax, 1e-4);
                Tolerance.close(what + " loss vs composed", TestData.d(TestData.floats(aut.loss())),
                        TestData.floats(nat.loss()), 1e-6, 1e-5);
            }
        }
    }

    /** SPEC §9's golden values (float64 from an independent implementation). */
    @Test
    void goldenCases() {
        JsonObject g = Golden.load("nft_loss.json");
        for (JsonElement ce : g.getAsJsonArray("cases")) {
            JsonObject c = ce.getAsJsonObject();
            int rows = c.get("B").getAsInt(), d = c.get("D").getAsInt();
            NftForm form = c.get("form").getAsString().equals("x0") ? NftForm.X0 : NftForm.VELOCITY;
            NftLossConfig cfg = new NftLossConfig(c.get("beta").getAsDouble(), c.get("c").getAsDouble(),
                    c.get("lam").getAsDouble(), c.get("floor").getAsDouble(), form);
            boolean hasRef = c.has("v_ref") && !c.get("v_ref").isJsonNull();
            NftLossInputs in = new NftLossInputs(Tensors.fromFloats(Golden.floats(c.get("x0")), rows, d),
                    Tensors.fromFloats(Golden.floats(c.get("eps")), rows, d), false,
                    Tensors.fromFloats(Golden.floats(c.get("v_theta")), rows, d),
                    Tensors.fromFloats(Golden.floats(c.get("v_old")), rows, d),
                    hasRef ? Tensors.fromFloats(Golden.floats(c.get("v_ref")), rows, d) : null,
                    Tensors.fromFloats(Golden.floats(c.get("t")), rows), Tensors.fromFloats(Golden.floats(c.get("r")), rows),
                    Tensors.fromFloats(Golden.floats(c.get("valid")), rows));
            JsonObject ex = c.getAsJsonObject("expect");
            double[] grad = Golden.doubles(ex.get("grad"));
            double gmax = 0;
            for (double v : grad) gmax = Math.max(gmax, Math.abs(v));
            for (KernelOps ops : new KernelOps[] {NATIVE, TORCH}) {
                NftLossResult r = ops.nftLoss(cfg, in, true);
                String what = "golden " + form + " β=" + cfg.beta() + " B=" + rows + " D=" + d + " " + ops.name();
                Tolerance.close(what + " ℓ", Golden.doubles(ex.get("ell")), TestData.floats(r.ell()), 1e-6, 1e-5);
                Tolerance.close(what + " kl", Golden.doubles(ex.get("kl")), TestData.floats(r.kl()), 1e-6, 1e-5);
                Tolerance.close(what + " loss", new double[] {ex.get("loss").getAsDouble()}, TestData.floats(r.loss()), 1e-6, 1e-5);
                Tolerance.close(what + " grad", grad, TestData.floats(r.grad()), 1e-5 * gmax, 1e-5);
            }
        }
    }

    @Test
    void allRowsMaskedGivesZeroLossAndGradient() {
        Inputs in = inputs(new SplittableRandom(1), DType.F32, 97, true, false);
        NftLossInputs t = in.tensors(DType.F32, false);
        NftLossInputs masked = new NftLossInputs(t.x0(), t.target(), false, t.vTheta(), t.vOld(), t.vRef(), t.t(), t.r(),
                TestData.f32(0, 0, 0, 0));
        for (KernelOps ops : new KernelOps[] {NATIVE, TORCH}) {
            NftLossResult r = ops.nftLoss(NftLossConfig.DEFAULTS, masked, true);
            assertEquals(0.0, r.lossValue(), 0.0, ops.name());
            for (float v : TestData.floats(r.grad())) assertEquals(0.0f, v, 0.0f);
            // ℓ and kl are still reported for every row
            assertArrayEquals(TestData.floats(NATIVE.nftLoss(NftLossConfig.DEFAULTS, t, false).ell()),
                    TestData.floats(r.ell()), 1e-5f);
        }
    }

    @Test
    void atThetaEqualsOldTheGradientIsRewardWeightedFlowMatching() {
        // SPEC §6 check: with v_θ = v_old, ∂loss/∂v_θ ∝ (2r − 1)·(v_θ − v*) per row (velocity form, λ = 0)
        int rows = 4, d = 257;
        Inputs in = inputs(new SplittableRandom(3), DType.F32, d, false, false);
        Inputs same = new Inputs(rows, d, in.x0(), in.target(), in.vth(), in.vth(), null);
        NftLossConfig cfg = new NftLossConfig(1.0, 5.0, 0.0, 1e-5, NftForm.VELOCITY);
        float[] g = TestData.floats(NATIVE.nftLoss(cfg, same.tensors(DType.F32, false), true).grad());
        for (int b = 0; b < 3; b++) {
            double w = 2 * R[b] - 1;
            for (int e = 0; e < d; e += 37) {
                int i = b * d + e;
                double vstar = (double) in.target()[i] - in.x0()[i];
                double expect = (2 * cfg.c() / d) * w * (in.vth()[i] - vstar) / 3.0; // Σvalid = 3
                assertEquals(expect, g[i], 1e-6 + 1e-4 * Math.abs(expect));
            }
        }
    }

    @Test
    void resultsDoNotDependOnThreadCount() {
        Inputs in = inputs(new SplittableRandom(8), DType.F32, 65539, true, false);
        try {
            Editr1Native.editr1_set_cpu_threads(1);
            NftLossResult a = NATIVE.nftLoss(NftLossConfig.DEFAULTS, in.tensors(DType.F32, false), true);
            Editr1Native.editr1_set_cpu_threads(2);
            NftLossResult b = NATIVE.nftLoss(NftLossConfig.DEFAULTS, in.tensors(DType.F32, false), true);
            assertArrayEquals(TestData.floats(a.grad()), TestData.floats(b.grad()));
            assertArrayEquals(TestData.floats(a.loss()), TestData.floats(b.loss()));
        } finally {
            Editr1Native.editr1_set_cpu_threads(0);
        }
    }

    @Test
    void lossWithoutGradient() {
        Inputs in = inputs(new SplittableRandom(2), DType.BF16, 1025, true, false);
        NftLossResult r = NATIVE.nftLoss(NftLossConfig.DEFAULTS, in.tensors(DType.BF16, false), false);
        org.junit.jupiter.api.Assertions.assertNull(r.grad());
        Tensor loss = r.loss();
        assertEquals(in.reference(NftLossConfig.DEFAULTS, false).loss(), Tensors.item(loss), 1e-4);
    }
}
