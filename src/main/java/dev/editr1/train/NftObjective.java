package dev.editr1.train;

import java.util.Arrays;
import java.util.SplittableRandom;

import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;
import org.bytedeco.pytorch.global.torch;

import dev.editr1.kernels.ForwardResult;
import dev.editr1.kernels.KernelOps;
import dev.editr1.kernels.NftLossConfig;
import dev.editr1.kernels.NftLossInputs;
import dev.editr1.kernels.NftLossResult;
import dev.editr1.kernels.Tensors;
import dev.editr1.model.Adapter;
import dev.editr1.model.Conditioning;
import dev.editr1.model.EditingModel;

/**
 * DiffusionNFT (SPEC §6–§7, step 4): for each sample a random ⌊0.99·N⌋ of its grid timesteps, each
 * with fresh ε from the forward-process kernel keyed by (seed, slot, sample id); three forwards
 * (θ with grad, old and reference without); the fused NFT loss kernel gives ∂loss/∂v_θ, and
 * {@code v_θ.backward(grad)} carries it into the adapter. The loss is averaged over the timestep
 * slots.
 */
public final class NftObjective implements Objective {
    private final EditingModel model;
    private final KernelOps ops;
    private final NftLossConfig loss;
    private final double[] sigmas;   // the grid, last entry 0
    private final int perSample;
    private final long seed;

    public NftObjective(EditingModel model, KernelOps ops, NftLossConfig loss, double[] sigmas, int perSample, long seed) {
        this.model = model;
        this.ops = ops;
        this.loss = loss;
        this.sigmas = sigmas.clone();
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
        return Arrays.copyOf(idx, perSample);
    }

    @Override
    public Stats accumulate(Tensor x0, Conditioning cond, Tensor r, int epoch, long[] sampleIds) {
        int v = (int) x0.size(0);
        double lossSum = 0, klSum = 0, fwd = 0, bwd = 0;
        int[][] ts = new int[v][];
        for (int i = 0; i < v; i++) ts[i] = timesteps(epoch, sampleIds[i]);
        Tensor valid = torch.ones_like(r);   // the filter already removed the masked samples
        Tensor ids = Tensors.fromLongs(sampleIds, x0.device());
        for (int k = 0; k < perSample; k++) {
            long t0 = System.nanoTime();
            float[] tv = new float[v];
            for (int i = 0; i < v; i++) tv[i] = (float) sigmas[ts[i][k]];
            Tensor t = Tensors.fromFloats(tv, x0.device(), v);
            ForwardResult fr = ops.forwardProcess(NoiseStreams.TRAIN.slot(seed, k), ids, x0, t, true);
            Tensor vTheta = model.velocity(fr.xt(), t, cond, Adapter.POLICY);
            Tensor vOld, vRef;
            try (NoGradGuard g = new NoGradGuard()) {
                vOld = model.velocity(fr.xt(), t, cond, Adapter.OLD);
                vRef = model.velocity(fr.xt(), t, cond, Adapter.OFF);
            }
            NftLossResult res = ops.nftLoss(loss,
                    new NftLossInputs(x0, fr.eps(), false, vTheta.detach(), vOld, vRef, t, r, valid), true);
            long t1 = System.nanoTime();
            vTheta.backward(res.grad().mul(new Scalar(1.0 / perSample)), new BoolOptional(), false,
                    new TensorArrayRefOptional());
            long t2 = System.nanoTime();
            lossSum += res.lossValue();
            for (double x : Tensors.toDoubles(res.kl())) klSum += x;
            fwd += (t1 - t0) / 1e9;
            bwd += (t2 - t1) / 1e9;
        }
        return new Stats(lossSum / perSample, klSum / ((double) perSample * v), fwd, bwd);
    }
}
