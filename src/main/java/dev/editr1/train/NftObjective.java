package dev.editr1.train;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Supplier;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import dev.editr1.kernels.ForwardResult;
import dev.editr1.kernels.KernelOps;
import dev.editr1.kernels.NativeMemory;
import dev.editr1.kernels.Scopes;
import dev.editr1.kernels.NftLossConfig;
import dev.editr1.kernels.NftLossInputs;
import dev.editr1.kernels.NftLossResult;
import dev.editr1.kernels.NoiseKey;
import dev.editr1.kernels.Tensors;
import dev.editr1.model.Adapter;
import dev.editr1.model.Conditioning;
import dev.editr1.model.EditingModel;

/**
 * DiffusionNFT (SPEC §6–§7, step 4): for each sample a random ⌊0.99·N⌋ of its grid timesteps, each
 * with fresh ε from the forward-process kernel keyed by (seed, slot, sample id); three forwards
 * (θ with grad, old and reference without); the fused NFT loss kernel gives ∂loss/∂v_θ, and the
 * model's backward carries it into the adapter. The loss is averaged over the timestep slots.
 *
 * <p>Memory: the kept samples go through in micro-batches of {@code microBatch} (0: all at once),
 * gradients accumulated; a micro-batch's slot runs in its own scope, so its tensors die with it. The
 * two no-grad forwards (old, reference) run first, each in its own scope that keeps only its
 * velocity, so their activations are gone before θ's forward builds its graph: at most one
 * activation graph is alive. With a concurrent {@link SideThread} (the CPU default) a slot's no-grad
 * forwards run beside the previous slot's backward instead ({@link SideThread#pipeline}; the first
 * slot's beside θ's forward), which adds one no-grad block's intermediates and the next slot's t, x_t,
 * ε and two velocities to the peak. The NFT loss
 * normalizes by the kept samples of its call, so a micro-batch's gradient is weighted by its share
 * of them — the sum equals the full-batch gradient.
 *
 * <p>Noise key ({@code groupNoise}): by default each sample draws its own timesteps and ε, keyed by its
 * id. With {@code noiseGroup = G} the G samples of a group (ids e·2²⁴ + g·G … + G − 1, one prompt)
 * draw them by the group's first id, so all of them are trained at the same t with the same ε —
 * common random numbers. Each sample's expected gradient is unchanged (its t and ε have the same
 * distribution); what changes is the batch gradient's variance: it is Σ_b A_b·∇ℓ_b with advantages
 * that sum to about 0 within a group, so the part of ∇ℓ that depends on ε and t but not on the
 * sample cancels instead of adding noise. Kept samples of one group share the key whether or not
 * the filter dropped their neighbours. With {@code rolloutNoise} every slot's ε is instead the noise the
 * sample's rollout started from, so x_t lies on the straight line between the rollout's noise and
 * its output (reflow's pairs); it lost quality where the default gains (experiments/README.md,
 * "Training on the rollout's own noise").
 */
public final class NftObjective implements Objective {
    private final EditingModel model;
    private final KernelOps ops;
    private final NftLossConfig loss;
    private final double[] sigmas;   // the grid, last entry 0
    private final int perSample;
    private final long seed;
    private final int microBatch;
    private final boolean checkpoint;
    private final int noiseGroup;
    private final boolean highestSigmas;
    private final boolean rolloutNoise;
    private final SideThread side;

    /**
     * @param perSample     grid timesteps each kept sample trains on per epoch
     * @param microBatch    samples per loss/backward pass (0 or ≥ the kept samples: one pass)
     * @param checkpoint    recompute θ's activations block by block in backward ({@link EditingModel#velocityForTraining})
     * @param noiseGroup    1: every sample its own timesteps and ε; G (the group size): a group's samples share them
     * @param highestSigmas every sample trains on the perSample highest-σ grid timesteps (where a
     *                      sample's layout is decided) instead of a random perSample of them
     * @param rolloutNoise  every slot's ε is the sample's own rollout noise (stream ROLLOUT, row = its id):
     *                      x_t lies on the straight line from the noise the sampler started from to the
     *                      output it reached, the pairs reflow trains on, instead of fresh ε
     * @param side          where the old and reference forwards run: inline before θ's, or beside it
     */
    public NftObjective(EditingModel model, KernelOps ops, NftLossConfig loss, double[] sigmas, int perSample, long seed,
                        int microBatch, boolean checkpoint, int noiseGroup, boolean highestSigmas, boolean rolloutNoise, SideThread side) {
        if (noiseGroup < 1) throw new IllegalArgumentException("noiseGroup must be >= 1 (got " + noiseGroup + ")");
        this.model = model;
        this.ops = ops;
        this.loss = loss;
        this.sigmas = sigmas.clone();
        this.perSample = perSample;
        this.seed = seed;
        this.microBatch = microBatch;
        this.checkpoint = checkpoint;
        this.noiseGroup = noiseGroup;
        this.highestSigmas = highestSigmas;
        this.rolloutNoise = rolloutNoise;
        this.side = side;
    }

    /** The id a sample's timesteps and ε are keyed by: its own, or its group's first sample's. */
    long noiseId(long sampleId) {
        long j = sampleId % Trainer.TRAIN_ID_STRIDE;   // the sample's index in its epoch; groups are consecutive
        return sampleId - j % noiseGroup;
    }

    /** The k distinct grid indices (of the N non-zero σ) sample id trains on this epoch. */
    int[] timesteps(int epoch, long sampleId) {
        int n = sigmas.length - 1;
        int[] idx = new int[n];
        for (int i = 0; i < n; i++) idx[i] = i;
        if (highestSigmas) return Arrays.copyOf(idx, perSample);   // σ falls along the grid: its first indices are the noisiest
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
    public Stats accumulate(Batch kept) {
        return accumulate(kept.rollout().x0(), kept.cond(), kept.r(), kept.epoch(), kept.sampleIds());
    }

    /**
     * @param x0        the kept samples' final latents [V, ...] on the model's device
     * @param cond      their conditioning (batch V)
     * @param r         their optimality r [V] f32 on the device
     * @param epoch     the epoch (keys the timesteps)
     * @param sampleIds each sample's global id (keys its training noise and timesteps)
     */
    public Stats accumulate(Tensor x0, Conditioning cond, Tensor r, int epoch, long[] sampleIds) {
        int v = (int) x0.size(0);
        List<MicroBatch> parts = Objective.microBatches(v, microBatch, x0.device(), rows -> new MicroBatch(rows.of(x0), rows.of(cond),
                rows.of(r), Arrays.copyOfRange(sampleIds, rows.start(), rows.start() + rows.n()), rows.share()));
        double[] acc = new double[2];   // loss, kl·samples
        // slot i: micro-batch i / perSample, timestep slot i % perSample
        SideThread.Seconds sec = side.pipeline(parts.size() * perSample, i -> inputs(epoch, i % perSample, parts.get(i / perSample)),
                SlotInputs::tensors, this::oldAndReference, vs -> vs, (i, in, others, ahead) -> slot(in, others, ahead, acc));
        return new Stats(acc[0] / perSample, acc[1] / ((double) perSample * v), sec.forward(), sec.backward());
    }

    /** A micro-batch of the kept samples: x0 [n, ...], conditioning, r [n], ids, and its share n/V of them. */
    private record MicroBatch(Tensor x0, Conditioning cond, Tensor r, long[] ids, double share) {}

    /** One slot's inputs: its micro-batch, the timesteps t [n] and the forward process (x_t, ε) at them. */
    private record SlotInputs(MicroBatch part, Tensor t, ForwardResult fr) {
        Tensor[] tensors() {
            return new Tensor[] {t, fr.xt(), fr.eps()};
        }
    }

    /** Timestep slot k of a micro-batch: each sample's t (keyed by its noise id) and the forward-process kernel. */
    private SlotInputs inputs(int epoch, int k, MicroBatch part) {
        int n = part.ids().length;
        float[] tv = new float[n];
        for (int i = 0; i < n; i++) tv[i] = (float) sigmas[timesteps(epoch, noiseId(part.ids()[i]))[k]];
        Tensor t = Tensors.fromFloats(tv, part.x0().device(), n);
        return new SlotInputs(part, t, forwardProcess(k, part.x0(), t, part.ids()));
    }

    /**
     * x_t and ε of timestep slot k for samples ids at their t: ε from the slot's TRAIN stream, row
     * = the sample's noise id; or with rolloutNoise the ROLLOUT stream, row = the sample's own id, the
     * initial noise its rollout started from (Trainer: ROLLOUT.key(seed, first id), one row per sample).
     */
    ForwardResult forwardProcess(int k, Tensor x0, Tensor t, long[] ids) {
        long[] rows = rolloutNoise ? ids : Arrays.stream(ids).map(this::noiseId).toArray();
        NoiseKey key = rolloutNoise ? NoiseStreams.ROLLOUT.key(seed, 0) : NoiseStreams.TRAIN.slot(seed, k);
        return ops.forwardProcess(key, Tensors.fromLongs(rows, x0.device()), x0, t, true);
    }

    /** The old and reference velocities at a slot's x_t (no grad; on the side thread, or inline before θ's graph exists). */
    private Tensor[] oldAndReference(SlotInputs in) {
        try (NoGradGuard g = new NoGradGuard()) {
            return new Tensor[] {Scopes.keep(() -> model.velocity(in.fr().xt(), in.t(), in.part().cond(), Adapter.OLD)),
                    Scopes.keep(() -> model.velocity(in.fr().xt(), in.t(), in.part().cond(), Adapter.OFF))};
        }
    }

    /**
     * One slot on the trainer's thread: θ's forward, the loss kernel with the side's old and reference
     * velocities, the next slot started (its no-grad forwards then run beside this backward), backward.
     */
    private void slot(SlotInputs in, Supplier<Tensor[]> others, Runnable ahead, double[] acc) {
        MicroBatch part = in.part();
        EditingModel.TrainingForward theta = model.velocityForTraining(in.fr().xt(), in.t(), part.cond(), Adapter.POLICY, checkpoint);
        Tensor[] vs = others.get();
        Tensor vOld = vs[0], vRef = vs[1];
        NativeMemory.mark();   // θ's graph, the two velocities and the batch: the slot's peak
        NftLossResult res = ops.nftLoss(loss, new NftLossInputs(part.x0(), in.fr().eps(), false, theta.velocity().detach(), vOld, vRef, in.t(),
                part.r(), torch.ones_like(part.r())), true);   // valid = 1: the filter already removed masked samples
        ahead.run();
        theta.backward().accept(res.grad().mul(new Scalar(part.share() / perSample)));
        acc[0] += part.share() * res.lossValue();
        for (double x : Tensors.toDoubles(res.kl())) acc[1] += x;
    }
}
