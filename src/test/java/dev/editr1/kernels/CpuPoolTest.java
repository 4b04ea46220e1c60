package dev.editr1.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The CPU path's own thread pool (native/src/cpu_pool.cpp): every kernel gives the same bits
 * whatever the thread count and whoever runs which unit — one thread, as many as the cores, more
 * threads than cores (so workers are descheduled in the middle of jobs and their shares are
 * stolen), and several Java threads calling at once (one gets the pool, the others run alone).
 */
class CpuPoolTest {
    static final NativeOps OPS = new NativeOps(true);

    @AfterEach
    void restoreDefault() {
        Editr1Native.editr1_set_cpu_threads(0);
    }

    /** Every output of every kernel family on odd shapes (ragged last chunks), as float arrays. */
    static List<float[]> allKernels(DType dt) {
        List<float[]> out = new ArrayList<>();
        SplittableRandom rng = new SplittableRandom(11);
        int rows = 5, len = 65536 + 3;
        try (PointerScope scope = new PointerScope()) {
            Tensor x = TestData.tensor(TestData.normal(rng, rows * len, 1), dt, rows, len);
            Tensor vc = TestData.tensor(TestData.normal(rng, rows * len, 1), dt, rows, len);
            Tensor vu = TestData.tensor(TestData.normal(rng, rows * len, 1), dt, rows, len);
            Tensor m1 = TestData.tensor(TestData.normal(rng, rows * len, 1), dt, rows, len);
            Tensor v4 = TestData.tensor(TestData.normal(rng, rows * len, 1), dt, rows, len);
            float[] t = {0.05f, 0.3f, 0.5f, 0.77f, 0.999f}, r = {0f, 0.25f, 0.5f, 1f, 0.75f}, valid = {1, 1, 0, 1, 1};
            Tensor tt = Tensors.fromFloats(t, rows), rr = Tensors.fromFloats(r, rows), vv = Tensors.fromFloats(valid, rows);

            // flow step: DPM-Solver++(2M) with CFG; the SDE step with Philox noise and its log-prob
            FlowStepResult dpm = OPS.flowStep(FlowStepParams.dpmSolver2M(0.7, 0.5, 0.3).withGuidance(4.5, 0),
                    FlowStepInputs.of(x, vc).withUncond(vu).withPrevX0(m1), FlowStepOutputs.fresh().withX0());
            out.add(TestData.floats(dpm.x()));
            out.add(TestData.floats(dpm.x0Hat()));
            FlowStepResult sde = OPS.flowStep(FlowStepParams.sde(0.5, 0.3, 0.9, 0.7, NoiseKey.of(3)),
                    FlowStepInputs.of(x, vc), FlowStepOutputs.fresh().withLogProb());
            out.add(TestData.floats(sde.x()));
            out.add(TestData.floats(sde.logProb()));

            // noise and the forward process
            out.add(TestData.floats(OPS.noise(NoiseKey.of(5), dt, Tensors.cpu(), rows, len)));
            ForwardResult fw = OPS.forwardProcess(NoiseKey.of(6), x, tt, true);
            out.add(TestData.floats(fw.xt()));
            out.add(TestData.floats(fw.eps()));

            // the NFT loss, x0 form (two passes) with its gradient
            NftLossResult nft = OPS.nftLoss(NftLossConfig.DEFAULTS, new NftLossInputs(x, vc, false, vu, m1, v4, tt, rr, vv), true);
            out.add(TestData.floats(nft.loss()));
            out.add(TestData.floats(nft.ell()));
            out.add(TestData.floats(nft.kl()));
            out.add(TestData.floats(nft.grad()));

            // the GRPO loss (two passes) with its gradient
            float[] adv = {1f, -0.5f, 0.25f, -1f, 2f};
            GrpoLossInputs gin = new GrpoLossInputs(x, vc, vu, m1, Tensors.fromFloats(adv, rows),
                    Tensors.fromFloats(new float[] {-1.1f, -0.9f, -1f, -1.2f, -0.95f}, rows), vv);
            GrpoLossResult grpo = OPS.grpoLoss(GrpoLossConfig.flowGrpo(SdeStep.of(0.5, 0.3, 0.9, SdeStep.NOISE_LEVEL)), gin, true);
            out.add(TestData.floats(grpo.loss()));
            out.add(TestData.floats(grpo.logProb()));
            out.add(TestData.floats(grpo.grad()));

            // the logit score over a vocabulary that is not a multiple of the split
            int vocab = 151936 + 7;
            Tensor logits = TestData.tensor(TestData.normal(rng, 3 * vocab, 4), dt, 3, vocab);
            LogitScoreResult s = OPS.logitScore(logits, ScoreTokens.QWEN_DIGITS, ScoreMode.EXPECTED);
            out.add(TestData.floats(s.score()));
            out.add(TestData.floats(s.probs()));
            out.add(TestData.floats(s.mass()));
        }
        return out;
    }

    static void assertSameBits(List<float[]> want, List<float[]> got, String what) {
        assertEquals(want.size(), got.size(), what);
        for (int i = 0; i < want.size(); i++) assertArrayEquals(want.get(i), got.get(i), 0f, what + ": output " + i);
    }

    @Test
    void resultsDoNotDependOnTheThreadCount() {
        for (DType dt : new DType[] {DType.F32, DType.BF16}) {
            Editr1Native.editr1_set_cpu_threads(1);
            List<float[]> one = allKernels(dt);
            // 7 threads on this 2-core machine: workers are descheduled mid-job and their shares stolen
            for (int n : new int[] {2, 3, 7}) {
                Editr1Native.editr1_set_cpu_threads(n);
                assertEquals(n, Editr1Native.editr1_cpu_threads());
                for (int rep = 0; rep < 3; rep++) assertSameBits(one, allKernels(dt), dt + ", " + n + " threads, repeat " + rep);
            }
        }
    }

    @Test
    void concurrentCallersGetTheSameBits() throws Exception {
        Editr1Native.editr1_set_cpu_threads(1);
        List<float[]> want = allKernels(DType.F32);
        Editr1Native.editr1_set_cpu_threads(3);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<List<float[]>>> runs = new ArrayList<>();
            for (int i = 0; i < 8; i++) runs.add(pool.submit(() -> allKernels(DType.F32)));
            for (Future<List<float[]>> f : runs) assertSameBits(want, f.get(), "a concurrent caller");
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void theThreadCountSaysWhy() {
        Editr1Native.editr1_set_cpu_threads(0);
        int n = Editr1Native.editr1_cpu_threads();
        assertTrue(n >= 1, "default threads " + n);
        String why = Editr1Native.editr1_cpu_threads_reason();
        assertTrue(why.startsWith("default: ") && why.contains("sched_getaffinity"), why);
        Editr1Native.editr1_set_cpu_threads(3);
        assertEquals(3, Editr1Native.editr1_cpu_threads());
        assertTrue(Editr1Native.editr1_cpu_threads_reason().startsWith("set to 3"), Editr1Native.editr1_cpu_threads_reason());
        assertTrue(Backend.kernelThreadsDescription().startsWith("3 threads (set to 3"), Backend.kernelThreadsDescription());
    }
}
