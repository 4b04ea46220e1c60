package dev.editr1.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Map;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

import dev.editr1.flow.Sampler;
import dev.editr1.flow.SigmaSchedule;
import dev.editr1.flow.Trajectory;
import dev.editr1.kernels.GrpoLossInputs;
import dev.editr1.kernels.NativeOps;
import dev.editr1.kernels.NoiseKey;
import dev.editr1.kernels.Tensors;
import dev.editr1.kernels.TorchOps;
import dev.editr1.model.Adapter;
import dev.editr1.model.Conditioning;
import dev.editr1.model.EditDiT;
import dev.editr1.model.EditDiTTestAccess;

/**
 * Flow-GRPO as the trainer's objective: the SDE rollout records the steps it took, and the gradient
 * the objective accumulates into θ (fused loss kernel, v_θ.backward(∂loss/∂v_θ)) equals libtorch
 * autograd of the composed loss through the model ({@link TorchOps#grpoLossGraph} on θ's velocity).
 */
class GrpoObjectiveTest {
    static final NativeOps OPS = new NativeOps(true);
    static final TorchOps TORCH = new TorchOps(true);
    static final int B = 6;
    /** N = 4 grid steps, K = ⌊0.99·4⌋ = 3 trained. */
    static final double[] SIGMAS = SigmaSchedule.preset(SigmaSchedule.Preset.QWEN, 4, 16, Double.NaN);
    static final int K = 3;
    static final NoiseKey KEY = NoiseStreams.ROLLOUT.key(11, 100);

    static Conditioning cond() {
        return new Conditioning(Map.of("source", EditDiTTestAccess.rnd(32, B, 3, 16, 16), "text_ids", EditDiTTestAccess.ids(B)));
    }

    static GrpoObjective objective(EditDiT m, double clip, int microBatch, boolean checkpoint) {
        return new GrpoObjective(m, OPS, SIGMAS, 0.7, clip, 0.04, 5.0, K, 8, microBatch, checkpoint);
    }

    static Trajectory rollOut(EditDiT m) {
        return objective(m, 1e-4, 0, false).rollOut(new Rollouts(m, OPS, SIGMAS, Sampler.Solver.DPM2M, 1.0), cond(), KEY);
    }

    /** θ moved away from the policy that drew the rollouts (so ratios leave 1). */
    static void perturb(EditDiT m, double scale) {
        try (NoGradGuard g = new NoGradGuard()) {
            int i = 0;
            for (Tensor p : m.lora().theta.tensors())
                p.add_(EditDiTTestAccess.rnd(500 + i++, Tensors.shape(p)).mul(new Scalar(scale)));
        }
    }

    static float[][] grads(EditDiT m) {
        return m.lora().theta.tensors().stream().map(p -> Tensors.toFloats(p.grad())).toArray(float[][]::new);
    }

    /** The composed reference: mean over the K steps of TorchOps' loss graph on θ's velocity, backward through the model. */
    static double reference(EditDiT m, Trajectory tr, Tensor adv, GrpoObjective o, double[] ratioSpread) {
        Tensor a = adv.clamp(new ScalarOptional(new Scalar(-5.0)), new ScalarOptional(new Scalar(5.0)));
        Tensor total = null;
        for (int k = 0; k < K; k++) {
            float[] tv = new float[B];
            Arrays.fill(tv, (float) SIGMAS[k]);
            Tensor t = Tensors.fromFloats(tv, B), x = tr.state(k);
            Tensor vRef;
            try (NoGradGuard g = new NoGradGuard()) {
                vRef = m.velocity(x, t, cond(), Adapter.OFF);
            }
            Tensor v = m.velocity(x, t, cond(), Adapter.POLICY);
            TorchOps.GrpoGraph gr = TORCH.grpoLossGraph(o.lossConfig(k), new GrpoLossInputs(x, tr.state(k + 1), v, vRef, a,
                    tr.logProb(k), torch.ones_like(a)));
            for (float r : Tensors.toFloats(gr.ratio().detach())) {
                ratioSpread[0] = Math.min(ratioSpread[0], r);
                ratioSpread[1] = Math.max(ratioSpread[1], r);
            }
            Tensor l = gr.loss().div(new Scalar(K));
            total = total == null ? l : total.add(l);
        }
        total.backward();
        return Tensors.item(total.detach());
    }

    static void assertClose(float[][] a, float[][] b, double rel, String what) {
        for (int i = 0; i < a.length; i++) {
            double max = 0;
            for (float v : b[i]) max = Math.max(max, Math.abs(v));
            assertTrue(max > 0, what + ": tensor " + i + " has a gradient");
            for (int j = 0; j < a[i].length; j++)
                assertTrue(Math.abs(a[i][j] - b[i][j]) <= rel * max,
                        what + ": tensor " + i + " element " + j + ": " + a[i][j] + " vs " + b[i][j] + " (max " + max + ")");
        }
    }

    @Test
    void theSdeRolloutRecordsItsStepsAndTheirLogProbabilities() {
        EditDiT m = EditDiTTestAccess.trained(9);
        Trajectory tr = rollOut(m);
        assertArrayEquals(new long[] {B, K + 1, 3, 16, 16}, Tensors.shape(tr.states()));
        assertArrayEquals(new long[] {B, K}, Tensors.shape(tr.logProbs()));
        // state 0 is the rollout's initial noise (the NFT rollout's too: same key)
        assertArrayEquals(Tensors.toFloats(OPS.noise(KEY, m.dtype(), m.device(), B, 3, 16, 16)), Tensors.toFloats(tr.state(0)));
        // recording steps does not change the sample: the same rollout recording all N steps ends at the same x0
        Trajectory all = new Rollouts(m, OPS, SIGMAS, Sampler.Solver.DPM2M, 1.0).sampleSde(cond(), Adapter.POLICY, KEY, 0.7,
                i -> NoiseStreams.SDE.step(KEY.seed(), KEY.rowOffset(), i), SIGMAS.length - 1);
        assertArrayEquals(Tensors.toFloats(tr.x0()), Tensors.toFloats(all.x0()));
        assertArrayEquals(Tensors.toFloats(tr.states()), Tensors.toFloats(all.states().narrow(1, 0, K + 1)));
        // the stochastic steps are not the ODE's: x0 differs from the DPM-Solver++(2M) sample of the same noise
        Tensor ode = new Rollouts(m, OPS, SIGMAS, Sampler.Solver.DPM2M, 1.0).sample(cond(), Adapter.POLICY, KEY);
        assertFalse(Arrays.equals(Tensors.toFloats(ode), Tensors.toFloats(tr.x0())));
        for (float lp : Tensors.toFloats(tr.logProbs())) assertTrue(Float.isFinite(lp), "log-prob " + lp);
        // a row's steps depend on its sample id, not its batch: the same rows from row offset 101 shift by one
        Trajectory shifted = objective(m, 1e-4, 0, false).rollOut(new Rollouts(m, OPS, SIGMAS, Sampler.Solver.DPM2M, 1.0), cond(),
                KEY.withRowOffset(101));
        assertNotEquals(Tensors.toFloats(tr.x0())[0], Tensors.toFloats(shifted.x0())[0]);
    }

    @Test
    void flowGrpoRulesForMaskAndEma() {
        GrpoObjective o = objective(EditDiTTestAccess.trained(9), 1e-4, 0, false);
        assertEquals(Adapter.POLICY, o.rolloutAdapter(), "on-policy rollouts");
        assertFalse(o.trains(0.0), "A = 0 is masked");
        assertTrue(o.trains(-1e-12) && o.trains(3.0));
        for (long s = 1; s <= 40; s++) {
            double d = o.evalEmaDecay(s, 0.9);
            if ((s + 1) % 8 == 0) assertEquals(Math.min((1.0 + s) / (10.0 + s), 0.9), d, 0.0, "step " + s);
            else assertEquals(1.0, d, 0.0, "step " + s + ": the EMA waits");
        }
        // DiffusionNFT keeps the defaults: old-policy rollouts, every kept sample, the EMA every step
        Objective nft = new NftObjective(EditDiTTestAccess.trained(9), OPS, dev.editr1.kernels.NftLossConfig.DEFAULTS, SIGMAS, 3, 1, 0,
                false, 1, false, false, SideThread.inline());
        assertEquals(Adapter.OLD, nft.rolloutAdapter());
        assertTrue(nft.trains(0.0));
        assertEquals(OldPolicySchedule.evalEmaDecay(6, 0.9), nft.evalEmaDecay(6, 0.9), 0.0);
    }

    /** At the policy that drew the rollouts ρ = 1 (to rounding), and the gradient is autograd's. */
    @Test
    void onPolicyGradientEqualsAutogradThroughTheModel() {
        EditDiT m = EditDiTTestAccess.trained(9);
        Trajectory tr = rollOut(m);
        Tensor adv = Tensors.fromFloats(new float[] {1.3f, -0.7f, 0.4f, -1.1f, 0.6f, -0.5f}, B);
        GrpoObjective o = objective(m, 1e-4, 0, false);
        Objective.Stats s = o.accumulate(new Objective.Batch(tr, cond(), adv, adv, 0, new long[] {100, 101, 102, 103, 104, 105}));
        float[][] fused = grads(m);
        EditDiT ref = EditDiTTestAccess.trained(9);
        double[] spread = {Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY};
        double loss = reference(ref, tr, adv, o, spread);
        assertTrue(spread[0] > 1 - 1e-5 && spread[1] < 1 + 1e-5, "ratios at the rollout policy: " + Arrays.toString(spread));
        assertEquals(loss, s.loss(), 1e-6 + 1e-5 * Math.abs(loss), "loss");
        assertClose(fused, grads(ref), 2e-4, "on-policy");
    }

    /**
     * Off-policy (θ moved after the rollout; advantages beyond ±5 clipped): with a clip range of 3e-5
     * some ratios leave it (a log-prob is a mean over the row's elements, so ratios stay within ~1e-4 of
     * 1 here — the scale Flow-GRPO's ε = 1e-4 is set for); checkpointed micro-batches give the same step.
     */
    @Test
    void offPolicyGradientWithClippingEqualsAutogradAndMicroBatchesAgree() {
        Tensor adv = Tensors.fromFloats(new float[] {1.3f, -0.7f, 6.0f, -8.0f, 0.5f, -0.2f}, B);
        long[] ids = {100, 101, 102, 103, 104, 105};
        float[][][] g = new float[2][][];
        double[] losses = new double[2];
        Trajectory tr = rollOut(EditDiTTestAccess.trained(9));
        double clip = 3e-5;
        GrpoObjective o = null;
        for (int i = 0; i < 2; i++) {
            EditDiT m = EditDiTTestAccess.trained(9);
            perturb(m, 0.02);
            o = objective(m, clip, i == 0 ? 0 : 4, i == 1);   // one pass; micro-batches of 4 (4 + 2), checkpointed
            losses[i] = o.accumulate(new Objective.Batch(tr, cond(), adv, adv, 0, ids)).loss();
            g[i] = grads(m);
        }
        EditDiT ref = EditDiTTestAccess.trained(9);
        perturb(ref, 0.02);
        double[] spread = {Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY};
        double loss = reference(ref, tr, adv, o, spread);
        assertTrue(spread[0] < 1 - clip || spread[1] > 1 + clip, "some ratios leave the clip range: " + Arrays.toString(spread));
        assertTrue(spread[1] - spread[0] > 1e-6, "ratios differ from 1: " + Arrays.toString(spread));
        assertEquals(loss, losses[0], 1e-6 + 1e-4 * Math.abs(loss), "loss");
        assertClose(g[0], grads(ref), 2e-4, "off-policy");
        assertEquals(losses[0], losses[1], 1e-6 + 1e-5 * Math.abs(losses[0]), "micro-batch loss");
        assertClose(g[1], g[0], 2e-5, "checkpointed micro-batches of 4 (4 + 2)");
    }

    /** The reference forward on the side thread, beside θ's, gives the same loss and gradients bit for bit. */
    @Test
    void referenceForwardBesideThetasGivesTheSameStepBitForBit() {
        Tensor adv = Tensors.fromFloats(new float[] {1.3f, -0.7f, 6.0f, -8.0f, 0.5f, -0.2f}, B);
        long[] ids = {100, 101, 102, 103, 104, 105};
        Trajectory tr = rollOut(EditDiTTestAccess.trained(9));
        double[] losses = new double[2];
        float[][][] g = new float[2][][];
        try (SideThread side = SideThread.open(2, () -> 2)) {   // concurrent whatever the machine's load
            for (int i = 0; i < 2; i++) {
                EditDiT m = EditDiTTestAccess.trained(9);
                perturb(m, 0.02);
                GrpoObjective o = new GrpoObjective(m, OPS, SIGMAS, 0.7, 3e-5, 0.04, 5.0, K, 8, 0, false,
                        i == 0 ? SideThread.inline() : side);
                losses[i] = o.accumulate(new Objective.Batch(tr, cond(), adv, adv, 0, ids)).loss();
                g[i] = grads(m);
            }
            assertEquals(K, side.besideCount(), "one side job per trained step");
        }
        assertEquals(losses[0], losses[1]);
        for (int i = 0; i < g[0].length; i++) assertArrayEquals(g[0][i], g[1][i], "tensor " + i);
    }
}
