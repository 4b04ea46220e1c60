package dev.editr1.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.SplittableRandom;
import java.util.function.Function;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** Bad input becomes a clear Java exception naming the argument — never a crash or a silent NaN. */
class BadInputTest {
    static final KernelOps[] IMPLS = {new NativeOps(true), new TorchOps(true)};
    static final int B = 3, D = 97;

    static Tensor rnd(long seed) {
        return Tensors.fromFloats(TestData.normal(new SplittableRandom(seed), B * D, 1), B, D);
    }

    /** a copy of t with one poisoned element */
    static Tensor poisoned(Tensor t, float value) {
        float[] f = TestData.floats(t);
        f[f.length / 2 + 1] = value;
        return TestData.tensor(f, DType.of(t), Tensors.shape(t));
    }

    static void assertMessage(RuntimeException e, String... parts) {
        for (String p : parts) assertTrue(e.getMessage().contains(p), "message '" + e.getMessage() + "' lacks '" + p + "'");
    }

    // ---- flow step

    static FlowStepInputs flowInputs() {
        return FlowStepInputs.of(rnd(1), rnd(2)).withUncond(rnd(3)).withPrevX0(rnd(4)).withNoise(rnd(5));
    }

    static final FlowStepParams SDE = FlowStepParams.sde(0.5, 0.3, 0.9, 0.7, NoiseKey.of(1)).withGuidance(2, 0);

    @ParameterizedTest
    @ValueSource(floats = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY})
    void flowStepNonFiniteInputsAreNamed(float poison) {
        String[] names = {"x", "vCond", "vUncond", "x0Prev", "noise"};
        for (KernelOps ops : IMPLS) {
            for (int which = 0; which < names.length; which++) {
                FlowStepInputs in = flowInputs();
                Tensor[] t = {in.x(), in.vCond(), in.vUncond(), in.x0Prev(), in.noise()};
                t[which] = poisoned(t[which], poison);
                FlowStepInputs bad = new FlowStepInputs(t[0], t[1], t[2], t[3], t[4], null);
                FlowStepParams p = new FlowStepParams(2, 0, 0.5, 1, -0.2, 0.1, 0.05, 0.3, NoiseKey.of(1));
                KernelException e = assertThrows(KernelException.class,
                        () -> ops.flowStep(p, bad, FlowStepOutputs.fresh().withX0()), ops.name() + " " + names[which]);
                assertTrue(e.isNonFinite());
                assertMessage(e, "flowStep", "non-finite", names[which]);
            }
        }
    }

    /** The deterministic steps (Euler; DPM++(2M) + CFG with x̂0 out), whose fused loops carry no noise, in f32 and bf16. */
    @ParameterizedTest
    @ValueSource(floats = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY})
    void flowStepNonFiniteInputsAreNamedInDeterministicSteps(float poison) {
        String[] names = {"x", "vCond", "vUncond", "x0Prev"};
        for (DType dt : new DType[] {DType.F32, DType.BF16}) {
            for (boolean dpm : new boolean[] {false, true}) {
                for (int which = 0; which < (dpm ? 4 : 2); which++) {
                    Tensor[] t = {rnd(1), rnd(2), rnd(3), rnd(4)};
                    for (int i = 0; i < 4; i++) t[i] = t[i].to(dt.scalarType);
                    t[which] = poisoned(t[which], poison);
                    FlowStepInputs in = dpm ? FlowStepInputs.of(t[0], t[1]).withUncond(t[2]).withPrevX0(t[3])
                            : FlowStepInputs.of(t[0], t[1]);
                    FlowStepParams p = dpm ? FlowStepParams.dpmSolver2M(0.7, 0.5, 0.3).withGuidance(4.5, 0)
                            : FlowStepParams.euler(0.5, 0.3);
                    String what = dt + (dpm ? " dpm2m+cfg " : " euler ") + names[which];
                    KernelException e = assertThrows(KernelException.class,
                            () -> IMPLS[0].flowStep(p, in, FlowStepOutputs.fresh().withX0()), what);
                    assertTrue(e.isNonFinite(), what);
                    assertMessage(e, "flowStep", "non-finite", names[which]);
                }
            }
        }
    }

    @Test
    void flowStepF32OverflowIsReported() {
        // finite f32 inputs whose Euler step overflows to +Inf: the output check names it
        float[] x = new float[B * D], v = new float[B * D];
        java.util.Arrays.fill(x, 3e38f);
        java.util.Arrays.fill(v, -3e38f);
        Tensor tx = Tensors.fromFloats(x, B, D), tv = Tensors.fromFloats(v, B, D);
        KernelException e = assertThrows(KernelException.class, () -> IMPLS[0].flowStep(FlowStepParams.euler(1.0, 0.5),
                FlowStepInputs.of(tx, tv), FlowStepOutputs.fresh()));
        assertMessage(e, "output");
    }

    @Test
    void flowStepOverflowIsReported() {
        // finite f16 inputs whose step leaves f16's range: the output check names it
        float[] x = new float[B * D], v = new float[B * D];
        java.util.Arrays.fill(x, 60000f);
        java.util.Arrays.fill(v, -60000f);
        Tensor tx = TestData.tensor(x, DType.F16, B, D), tv = TestData.tensor(v, DType.F16, B, D);
        KernelException e = assertThrows(KernelException.class, () -> IMPLS[0].flowStep(FlowStepParams.euler(1.0, 0.5),
                FlowStepInputs.of(tx, tv), FlowStepOutputs.fresh().withX0()));
        assertMessage(e, "output");
    }

    @Test
    void flowStepShapeDtypeLayoutDevice() {
        for (KernelOps ops : IMPLS) {
            FlowStepParams p = FlowStepParams.euler(0.5, 0.3);
            Tensor x = rnd(1);
            assertMessage(assertThrows(IllegalArgumentException.class, () -> ops.flowStep(p,
                    FlowStepInputs.of(x, Tensors.fromFloats(new float[B * (D + 1)], B, D + 1)), FlowStepOutputs.fresh())),
                    "vCond", "shape", "[3, 98]", "[3, 97]");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> ops.flowStep(p,
                    FlowStepInputs.of(x.to(ScalarType.Double), rnd(2).to(ScalarType.Double)), FlowStepOutputs.fresh())),
                    "x", "dtype", "Double");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> ops.flowStep(p,
                    FlowStepInputs.of(x, rnd(2).to(ScalarType.BFloat16)), FlowStepOutputs.fresh())),
                    "vCond", "bf16", "f32");
            Tensor square = Tensors.fromFloats(new float[D * D], D, D);
            assertMessage(assertThrows(IllegalArgumentException.class, () -> ops.flowStep(p,
                    FlowStepInputs.of(square.t(), square), FlowStepOutputs.fresh())), "x", "not contiguous");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> ops.flowStep(FlowStepParams.euler(0.5, 0.3),
                    FlowStepInputs.of(x, rnd(2)), FlowStepOutputs.fresh().withLogProb())), "cNoise");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> ops.flowStep(
                    FlowStepParams.euler(0.5, 0.3).withGuidance(3, 10), FlowStepInputs.of(x, rnd(2)).withUncond(rnd(3)),
                    FlowStepOutputs.fresh())), "rescaleChannels", "97");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> ops.flowStep(
                    FlowStepParams.dpmSolver2M(0.7, 0.5, 0.3), FlowStepInputs.of(x, rnd(2)), FlowStepOutputs.fresh())),
                    "x0Prev");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> ops.flowStep(p,
                    FlowStepInputs.of(Tensors.fromFloats(new float[0], 0, 5), Tensors.fromFloats(new float[0], 0, 5)),
                    FlowStepOutputs.fresh())), "x", "empty");
        }
        assertThrows(IllegalArgumentException.class, () -> FlowStepParams.euler(Double.NaN, 0.3));
    }

    // ---- noise / forward process

    @Test
    void forwardProcessBadInputs() {
        for (KernelOps ops : IMPLS) {
            Tensor x0 = rnd(1);
            Tensor t = TestData.f32(0.1f, 0.5f, 0.9f);
            assertMessage(assertThrows(KernelException.class,
                    () -> ops.forwardProcess(NoiseKey.of(1), poisoned(x0, Float.NaN), t, false)), "x0");
            assertMessage(assertThrows(KernelException.class,
                    () -> ops.forwardProcess(NoiseKey.of(1), x0, TestData.f32(0.1f, Float.NaN, 0.9f), false)), "t");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> ops.forwardProcess(NoiseKey.of(1), x0, TestData.f32(0.1f, 0.5f), false)), "t", "[3]");
            assertMessage(assertThrows(IllegalArgumentException.class,
                    () -> ops.forwardProcess(NoiseKey.of(1), x0, t.to(ScalarType.Double), false)), "t", "float32");
        }
    }

    // ---- NFT loss

    static NftLossInputs nftInputs(Function<Tensor[], Tensor[]> edit) {
        Tensor[] a = {rnd(1), rnd(2), rnd(3), rnd(4), rnd(5)};
        a = edit.apply(a);
        return new NftLossInputs(a[0], a[1], false, a[2], a[3], a[4], TestData.f32(0.02f, 0.5f, 1f),
                TestData.f32(0, 0.5f, 1), TestData.f32(1, 1, 0));
    }

    @ParameterizedTest
    @ValueSource(floats = {Float.NaN, Float.POSITIVE_INFINITY})
    void nftLossNonFiniteInputsAreNamed(float poison) {
        String[] names = {"x0", "target", "vTheta", "vOld", "vRef"};
        for (KernelOps ops : IMPLS) {
            for (int which = 0; which < names.length; which++) {
                final int w = which;
                NftLossInputs in = nftInputs(a -> {
                    a[w] = poisoned(a[w], poison);
                    return a;
                });
                KernelException e = assertThrows(KernelException.class, () -> ops.nftLoss(NftLossConfig.DEFAULTS, in, true));
                assertMessage(e, "nftLoss", names[which]);
            }
        }
    }

    @Test
    void nftLossPerSampleValuesOutOfRange() {
        for (KernelOps ops : IMPLS) {
            NftLossInputs ok = nftInputs(a -> a);
            NftLossInputs badR = new NftLossInputs(ok.x0(), ok.target(), false, ok.vTheta(), ok.vOld(), ok.vRef(), ok.t(),
                    TestData.f32(0, 1.5f, 1), ok.valid());
            assertMessage(assertThrows(KernelException.class, () -> ops.nftLoss(NftLossConfig.DEFAULTS, badR, true)), "r");
            NftLossInputs badValid = new NftLossInputs(ok.x0(), ok.target(), false, ok.vTheta(), ok.vOld(), ok.vRef(), ok.t(),
                    ok.r(), TestData.f32(1, 0.5f, 1));
            assertMessage(assertThrows(KernelException.class, () -> ops.nftLoss(NftLossConfig.DEFAULTS, badValid, true)), "valid");
            NftLossInputs badT = new NftLossInputs(ok.x0(), ok.target(), false, ok.vTheta(), ok.vOld(), ok.vRef(),
                    TestData.f32(0, Float.NaN, 1), ok.r(), ok.valid());
            assertMessage(assertThrows(KernelException.class, () -> ops.nftLoss(NftLossConfig.DEFAULTS, badT, true)), "t");
            NftLossInputs shortR = new NftLossInputs(ok.x0(), ok.target(), false, ok.vTheta(), ok.vOld(), ok.vRef(), ok.t(),
                    TestData.f32(0, 1), ok.valid());
            assertMessage(assertThrows(IllegalArgumentException.class, () -> ops.nftLoss(NftLossConfig.DEFAULTS, shortR, true)),
                    "r", "[3]");
            NftLossInputs mixed = nftInputs(a -> {
                a[3] = a[3].to(ScalarType.Half);
                return a;
            });
            assertMessage(assertThrows(IllegalArgumentException.class, () -> ops.nftLoss(NftLossConfig.DEFAULTS, mixed, true)),
                    "vOld", "f16");
        }
        assertThrows(IllegalArgumentException.class, () -> NftLossConfig.DEFAULTS.withBeta(0));
        assertThrows(IllegalArgumentException.class, () -> new NftLossConfig(1, 5, -1, 1e-5, NftForm.X0));
    }

    // ---- Flow-GRPO loss

    static final GrpoLossConfig GRPO = GrpoLossConfig.flowGrpo(SdeStep.of(0.5, 0.3, 0.9, 0.7));

    static GrpoLossInputs grpoInputs(Function<Tensor[], Tensor[]> edit) {
        Tensor[] a = {rnd(1), rnd(2), rnd(3), rnd(4), TestData.f32(1, -0.5f, 0), TestData.f32(0.3f, 0.2f, 0.1f),
                TestData.f32(1, 1, 0)};
        a = edit.apply(a);
        return new GrpoLossInputs(a[0], a[1], a[2], a[3], a[4], a[5], a[6]);
    }

    @ParameterizedTest
    @ValueSource(floats = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY})
    void grpoLossNonFiniteInputsAreNamed(float poison) {
        String[] names = {"x", "xNext", "vTheta", "vRef", "advantage", "logProbOld"};
        for (KernelOps ops : IMPLS) {
            for (DType dt : ops == IMPLS[0] ? DType.values() : new DType[] {DType.F32}) {
                for (int which = 0; which < names.length; which++) {
                    final int w = which;
                    GrpoLossInputs in = grpoInputs(a -> {
                        for (int i = 0; i < 4; i++) a[i] = a[i].to(dt.scalarType);
                        a[w] = poisoned(a[w], poison);
                        return a;
                    });
                    String what = ops.name() + " " + dt + " " + names[which];
                    KernelException e = assertThrows(KernelException.class, () -> ops.grpoLoss(GRPO, in, true), what);
                    assertTrue(e.isNonFinite(), what);
                    assertMessage(e, "grpoLoss", "non-finite", names[which]);
                    // the input is named, alone: not the output it spoiled, nor any other input
                    assertTrue(e.getMessage().endsWith("non-finite values in " + names[which]), what + ": " + e.getMessage());
                    // (the loss alone reads the same inputs)
                    assertMessage(assertThrows(KernelException.class, () -> ops.grpoLoss(GRPO, in, false), what),
                            names[which]);
                }
            }
        }
    }

    @Test
    void grpoLossBadInputs() {
        for (KernelOps ops : IMPLS) {
            GrpoLossInputs ok = grpoInputs(a -> a);
            GrpoLossInputs badValid = grpoInputs(a -> {
                a[6] = TestData.f32(1, 0.5f, 1);
                return a;
            });
            assertMessage(assertThrows(KernelException.class, () -> ops.grpoLoss(GRPO, badValid, true)), "valid");
            GrpoLossInputs shortAdv = grpoInputs(a -> {
                a[4] = TestData.f32(1, 2);
                return a;
            });
            assertMessage(assertThrows(IllegalArgumentException.class, () -> ops.grpoLoss(GRPO, shortAdv, true)),
                    "advantage", "[3]");
            GrpoLossInputs doubleLogp = grpoInputs(a -> {
                a[5] = a[5].to(ScalarType.Double);
                return a;
            });
            assertMessage(assertThrows(IllegalArgumentException.class, () -> ops.grpoLoss(GRPO, doubleLogp, true)),
                    "logProbOld", "float32");
            GrpoLossInputs mixed = grpoInputs(a -> {
                a[1] = a[1].to(ScalarType.BFloat16);
                return a;
            });
            assertMessage(assertThrows(IllegalArgumentException.class, () -> ops.grpoLoss(GRPO, mixed, true)),
                    "xNext", "bf16", "f32");
            GrpoLossInputs wide = grpoInputs(a -> {
                a[2] = Tensors.fromFloats(new float[B * (D + 1)], B, D + 1);
                return a;
            });
            assertMessage(assertThrows(IllegalArgumentException.class, () -> ops.grpoLoss(GRPO, wide, true)),
                    "vTheta", "shape", "[3, 98]", "[3, 97]");
            Tensor square = Tensors.fromFloats(new float[D * D], D, D);
            GrpoLossInputs strided = new GrpoLossInputs(square.t(), square, square, null, ok.advantage(), ok.logProbOld(),
                    ok.valid());
            assertMessage(assertThrows(IllegalArgumentException.class, () -> ops.grpoLoss(GRPO, strided, true)),
                    "x", "not contiguous");
            GrpoLossInputs noX = grpoInputs(a -> {
                a[0] = null;
                return a;
            });
            assertMessage(assertThrows(IllegalArgumentException.class, () -> ops.grpoLoss(GRPO, noX, true)), "x", "null");
        }
        assertThrows(IllegalArgumentException.class, () -> new GrpoLossConfig(null, 1e-4, 0.04));
        assertThrows(IllegalArgumentException.class, () -> GRPO.withClipRange(Double.POSITIVE_INFINITY));
        assertThrows(IllegalArgumentException.class, () -> GRPO.withKlWeight(-0.1));
        assertThrows(IllegalArgumentException.class, () -> new SdeStep(0.5, 0.3, 0.7, 1, -0.2, 0));
    }

    // ---- logit score

    @Test
    void logitScoreBadInputs() {
        for (KernelOps ops : IMPLS) {
            float[] l = TestData.normal(new SplittableRandom(1), 2 * 50, 1);
            Tensor ok = Tensors.fromFloats(l, 2, 50);
            for (float poison : new float[] {Float.NaN, Float.POSITIVE_INFINITY})
                assertMessage(assertThrows(KernelException.class,
                        () -> ops.logitScore(poisoned(ok, poison), ScoreTokens.QWEN_DIGITS, ScoreMode.EXPECTED)), "logits");
            // −∞ is data, not an error
            ops.logitScore(poisoned(ok, Float.NEGATIVE_INFINITY), ScoreTokens.QWEN_DIGITS, ScoreMode.EXPECTED);
            assertMessage(assertThrows(IllegalArgumentException.class, () -> ops.logitScore(Tensors.fromFloats(l, 100),
                    ScoreTokens.QWEN_DIGITS, ScoreMode.EXPECTED)), "logits", "[B, V]");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> ops.logitScore(Tensors.fromFloats(l, 5, 20),
                    ScoreTokens.QWEN_DIGITS, ScoreMode.EXPECTED)), "id 20", "vocabulary");
            Tensor wide = Tensors.fromFloats(new float[50 * 40], 50, 40);
            assertMessage(assertThrows(IllegalArgumentException.class, () -> ops.logitScore(wide.t(), ScoreTokens.QWEN_DIGITS,
                    ScoreMode.EXPECTED)), "logits", "stride");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> ops.logitScore(ok,
                    new ScoreTokens(new int[] {3, 3}, new float[] {0, 1}), ScoreMode.EXPECTED)), "twice");
            assertMessage(assertThrows(IllegalArgumentException.class, () -> ops.logitScore(ok.to(ScalarType.Int),
                    ScoreTokens.QWEN_DIGITS, ScoreMode.EXPECTED)), "dtype");
        }
    }

    // ---- the C boundary itself

    @Test
    void nativeValidationNamesTheArgument() {
        try (Editr1Native.FlowStepStruct s = new Editr1Native.FlowStepStruct()) {
            s.rows(0).row_len(5);
            assertEquals(Editr1Native.EDITR1_ERR_INVALID_ARGUMENT, Editr1Native.editr1_flow_step_cpu(s));
            assertTrue(Editr1Native.editr1_last_error().contains("rows"), Editr1Native.editr1_last_error());
            s.rows(2).dtype(7);
            assertEquals(Editr1Native.EDITR1_ERR_UNSUPPORTED_DTYPE, Editr1Native.editr1_flow_step_cpu(s));
            s.dtype(0);
            assertEquals(Editr1Native.EDITR1_ERR_INVALID_ARGUMENT, Editr1Native.editr1_flow_step_cpu(s));
            assertTrue(Editr1Native.editr1_last_error().contains("x is NULL"), Editr1Native.editr1_last_error());
        }
        try (Editr1Native.NftLossStruct s = new Editr1Native.NftLossStruct()) {
            assertEquals(Editr1Native.EDITR1_ERR_INVALID_ARGUMENT, Editr1Native.editr1_nft_loss_cpu(s));
        }
        try (Editr1Native.GrpoLossStruct s = new Editr1Native.GrpoLossStruct()) {
            assertEquals(Editr1Native.EDITR1_ERR_INVALID_ARGUMENT, Editr1Native.editr1_grpo_loss_cpu(s));
            assertTrue(Editr1Native.editr1_last_error().contains("rows"), Editr1Native.editr1_last_error());
            Tensor x = rnd(1), xn = rnd(2), v = rnd(3), grad = rnd(4);
            Tensor adv = TestData.f32(1, 1, 1), lpo = TestData.f32(0, 0, 0), valid = TestData.f32(1, 1, 1),
                    loss = TestData.f32(0);
            s.rows(B).row_len(D).dtype(0).x(x.data_ptr()).v_theta(v.data_ptr()).advantage(adv.data_ptr())
                    .log_prob_old(lpo.data_ptr()).valid(valid.data_ptr()).loss(loss.data_ptr())
                    .c_x(0.99).c_v(-0.2).std_log_prob(0.3).std_kl(0.7).clip_range(1e-4).kl_weight(0.04);
            assertEquals(Editr1Native.EDITR1_ERR_INVALID_ARGUMENT, Editr1Native.editr1_grpo_loss_cpu(s));
            assertTrue(Editr1Native.editr1_last_error().contains("x_next is NULL"), Editr1Native.editr1_last_error());
            s.x_next(xn.data_ptr()).std_log_prob(0);
            assertEquals(Editr1Native.EDITR1_ERR_INVALID_ARGUMENT, Editr1Native.editr1_grpo_loss_cpu(s));
            assertTrue(Editr1Native.editr1_last_error().contains("std_log_prob"), Editr1Native.editr1_last_error());
            s.std_log_prob(0.3).clip_range(-1);
            assertEquals(Editr1Native.EDITR1_ERR_INVALID_ARGUMENT, Editr1Native.editr1_grpo_loss_cpu(s));
            assertTrue(Editr1Native.editr1_last_error().contains("clip_range"), Editr1Native.editr1_last_error());
            s.clip_range(1e-4).v_ref(v.data_ptr()).std_kl(Double.NaN);
            assertEquals(Editr1Native.EDITR1_ERR_INVALID_ARGUMENT, Editr1Native.editr1_grpo_loss_cpu(s));
            assertTrue(Editr1Native.editr1_last_error().contains("std_kl"), Editr1Native.editr1_last_error());
            s.std_kl(0.7).grad(v.data_ptr());
            assertEquals(Editr1Native.EDITR1_ERR_INVALID_ARGUMENT, Editr1Native.editr1_grpo_loss_cpu(s));
            assertTrue(Editr1Native.editr1_last_error().contains("grad overlaps v_theta"), Editr1Native.editr1_last_error());
            s.grad(grad.data_ptr()).dtype(3);
            assertEquals(Editr1Native.EDITR1_ERR_UNSUPPORTED_DTYPE, Editr1Native.editr1_grpo_loss_cpu(s));
            s.dtype(0);
            assertEquals(Editr1Native.EDITR1_OK, Editr1Native.editr1_grpo_loss_cpu(s), Editr1Native.editr1_last_error());
            // the CUDA entry validates the same way before it needs a device
            s.x(null);
            int cudaStatus = Editr1Native.editr1_grpo_loss_cuda(s, null);
            assertTrue(cudaStatus == Editr1Native.EDITR1_ERR_INVALID_ARGUMENT || cudaStatus == Editr1Native.EDITR1_ERR_NO_CUDA,
                    "status " + cudaStatus);
        }
        try (Editr1Native.LogitScoreStruct s = new Editr1Native.LogitScoreStruct()) {
            Tensor l = Tensors.fromFloats(new float[30], 1, 30);
            s.rows(1).vocab(30).row_stride(30).dtype(0).logits(l.data_ptr()).num_tokens(2).token_ids(0, 1).token_ids(1, 31)
                    .values(0, 0).values(1, 1);
            Tensor out = Tensors.fromFloats(new float[1], 1);
            s.score(out.data_ptr());
            assertEquals(Editr1Native.EDITR1_ERR_INVALID_ARGUMENT, Editr1Native.editr1_logit_score_cpu(s));
            assertTrue(Editr1Native.editr1_last_error().contains("token_ids[1] = 31"), Editr1Native.editr1_last_error());
        }
    }

    @Test
    void cudaEntryPointsWithoutADeviceFailCleanly() {
        assumeTrue(Editr1Native.editr1_cuda_device_count() <= 0, "a CUDA device is present");
        Tensor x = rnd(1), v = rnd(2), out = rnd(3);
        try (Editr1Native.FlowStepStruct s = new Editr1Native.FlowStepStruct()) {
            s.rows(B).row_len(D).dtype(0).x(x.data_ptr()).v_cond(v.data_ptr()).x_out(out.data_ptr()).sigma(0.5f).c_x(1)
                    .c_v(-0.1f);
            int status = Editr1Native.editr1_flow_step_cuda(s, null);
            assertTrue(status == Editr1Native.EDITR1_ERR_NO_CUDA || status == Editr1Native.EDITR1_ERR_CUDA,
                    "status " + status);
            assertTrue(!Editr1Native.editr1_last_error().isEmpty());
        }
        try (Editr1Native.GrpoLossStruct s = new Editr1Native.GrpoLossStruct()) {
            Tensor adv = TestData.f32(1, 1, 1), lpo = TestData.f32(0, 0, 0), valid = TestData.f32(1, 1, 1),
                    loss = TestData.f32(0);
            s.rows(B).row_len(D).dtype(0).x(x.data_ptr()).x_next(out.data_ptr()).v_theta(v.data_ptr())
                    .advantage(adv.data_ptr()).log_prob_old(lpo.data_ptr()).valid(valid.data_ptr()).loss(loss.data_ptr())
                    .c_x(0.99).c_v(-0.2).std_log_prob(0.3).std_kl(0.7).clip_range(1e-4).kl_weight(0.04);
            long ws = Editr1Native.editr1_grpo_loss_workspace_bytes(s);
            assertEquals(3L * 1 * 2 * 8, ws);  // [B][chunks][2] f64
            Tensor w = Tensors.zeros(ScalarType.Byte, Tensors.cpu(), ws);
            s.workspace(w.data_ptr()).workspace_bytes(ws);
            int status = Editr1Native.editr1_grpo_loss_cuda(s, null);
            assertTrue(status == Editr1Native.EDITR1_ERR_NO_CUDA || status == Editr1Native.EDITR1_ERR_CUDA,
                    "status " + status);
            assertTrue(Editr1Native.editr1_last_error().contains("grpo_loss"), Editr1Native.editr1_last_error());
        }
    }
}
