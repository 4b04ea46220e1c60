package dev.editr1.train;

import java.util.List;
import java.util.SplittableRandom;

import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;

import dev.editr1.kernels.ForwardResult;
import dev.editr1.kernels.KernelOps;
import dev.editr1.kernels.NftLossConfig;
import dev.editr1.kernels.NftLossInputs;
import dev.editr1.kernels.NftLossResult;
import dev.editr1.kernels.NoiseKey;
import dev.editr1.kernels.Tensors;

/**
 * DiffusionNFT (SPEC §6–§7, step 4): for each sample a random ⌊0.99·N⌋ of its grid timesteps, each
 * with fresh ε from the forward-process kernel; three forwards (θ with grad, old and reference
 * without); the fused NFT loss kernel gives ∂loss/∂v_θ, and {@code v_θ.backward(grad)} carries it
 * into the adapter. The loss is averaged over the timestep slots.
 */
public final class NftObjective implements Objective {
    static final int STREAM_TRAIN = 2;
    private final Policy policy;
    private final KernelOps ops;
    private final NftLossConfig loss;
    private final double[] sigmas;   // the grid, last entry 0
    private final int perSample;
    private final long seed;

    public NftObjective(Policy policy, KernelOps ops, NftLossConfig loss, double[] sigmas, int perSample, long seed) {
        this.policy = policy;
        this.ops = ops;
        this.loss = loss;
        this.sigmas = sigmas;
        this.perSample = perSample;
        this.seed = seed;
    }

    /** The k distinct grid indices (of the N non-zero σ) sample id trains on this epoch. */
    int[] timesteps(int epoch, long sampleId) {
        int n = sigmas.length - 1;
        int[] idx = new int[n];
        for (int i = 0; i < n; i++) idx[i] = i;
        SplittableRandom rng = new SplittableRandom(seed * 1_000_003L + epoch * 7919L + sampleId);
        for (int i = n - 1; i > 0; i--) { // Fisher–Yates
            int j = rng.nextInt(i + 1);
            int t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
        }
        return java.util.Arrays.copyOf(idx, perSample);
    }

    @Override
    public Stats accumulate(Tensor x0, Tensor src, Tensor ids, Tensor r, int epoch, List<Long> sampleIds) {
        int v = (int) x0.size(0);
        double lossSum = 0, klSum = 0, fwd = 0, bwd = 0;
        int[][] ts = new int[v][];
        for (int i = 0; i < v; i++) ts[i] = timesteps(epoch, sampleIds.get(i));
        Tensor valid = Tensors.fromFloats(Policy.filled(v, 1f), v);
        for (int k = 0; k < perSample; k++) {
            long t0 = System.nanoTime();
            float[] tv = new float[v];
            for (int i = 0; i < v; i++) tv[i] = (float) sigmas[ts[i][k]];
            Tensor t = Tensors.fromFloats(tv, v);
            NoiseKey key = new NoiseKey(seed, ((long) epoch * perSample + k) << 20, STREAM_TRAIN);
            ForwardResult fr = ops.forwardProcess(key, x0, t, true);
            Tensor vTheta = policy.model.velocity(fr.xt(), src, ids, t, policy.theta);
            Tensor vOld, vRef;
            try (NoGradGuard g = new NoGradGuard()) {
                vOld = policy.model.velocity(fr.xt(), src, ids, t, policy.old);
                vRef = policy.model.velocity(fr.xt(), src, ids, t, null);
            }
            NftLossResult res = ops.nftLoss(loss,
                    new NftLossInputs(x0, fr.eps(), false, vTheta.detach(), vOld, vRef, t, r, valid), true);
            long t1 = System.nanoTime();
            vTheta.backward(res.grad().mul(new Scalar(1.0 / perSample)), new BoolOptional(), false,
                    new TensorArrayRefOptional());
            long t2 = System.nanoTime();
            lossSum += res.lossValue();
            double[] kl = Tensors.toDoubles(res.kl());
            for (double x : kl) klSum += x;
            fwd += (t1 - t0) / 1e9;
            bwd += (t2 - t1) / 1e9;
        }
        return new Stats(lossSum / perSample, klSum / ((double) perSample * v), fwd, bwd);
    }
}
