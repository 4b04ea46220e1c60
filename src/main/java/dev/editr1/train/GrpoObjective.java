package dev.editr1.train;

import java.util.Arrays;
import java.util.List;
import java.util.function.Supplier;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import dev.editr1.flow.Trajectory;
import dev.editr1.kernels.GrpoLossConfig;
import dev.editr1.kernels.GrpoLossInputs;
import dev.editr1.kernels.GrpoLossResult;
import dev.editr1.kernels.KernelOps;
import dev.editr1.kernels.NativeMemory;
import dev.editr1.kernels.NoiseKey;
import dev.editr1.kernels.SdeStep;
import dev.editr1.kernels.Tensors;
import dev.editr1.model.Adapter;
import dev.editr1.model.Conditioning;
import dev.editr1.model.EditingModel;

/**
 * Flow-GRPO (SPEC §3, §7 baseline) as the trainer's objective, following its reference trainer
 * (github.com/yifan123/flow_grpo, {@code scripts/train_sd3.py}; {@code train_flux_kontext.py} has
 * the same loop):
 * <ul>
 *   <li><b>Rollouts</b> come from θ itself (Flow-GRPO samples with the transformer it trains; there
 *       is no old policy) with the SDE step of noise level a = 0.7 at every grid step; each step's
 *       x_t, x_{t−1} and log-probability are recorded for the first K = ⌊0.99·N⌋ steps
 *       ({@code timestep_fraction}: the first K, in order — not a random subset as NFT's).</li>
 *   <li><b>Advantages</b>: the trainer's group statistics give A = (R − group mean)/(std of the
 *       epoch's rewards + 1e-4) — Flow-GRPO's {@code PerPromptStatTracker} with {@code global_std}
 *       on, as its configs set it; both in two passes, as numpy. A is clipped to ±adv_clip_max (5).
 *       Samples with A exactly 0 are dropped ({@link #trains}), as Flow-GRPO's mask drops them (its
 *       random re-adding of dropped samples only makes the batch divisible for reshaping, and is
 *       not done here). The run's low-variance filter applies as it does to NFT ({@code filterMode=off}
 *       leaves Flow-GRPO's own mask alone).</li>
 *   <li><b>Loss</b> per trained step k, from the fused kernel ({@link KernelOps#grpoLoss}): ρ =
 *       exp(logp_θ − logp_rollout), mean over samples of max(−A·ρ, −A·clip(ρ, 1 − ε, 1 + ε)) with
 *       ε = 1e-4, plus β·mean((μ_θ − μ_ref)²/(2·s²)) with β = 0.04 and no √|dt| factor; v_θ under
 *       {@link Adapter#POLICY} with grad, v_ref under {@link Adapter#OFF} without. The epoch's loss is
 *       the mean over the K steps.</li>
 *   <li><b>Optimizer</b>: Flow-GRPO backpropagates every (batch, step) and lets accelerate step the
 *       optimizer at its accumulation boundary — twice per epoch in its configs. Here the gradient of
 *       all kept samples and K steps is accumulated and the trainer takes one step per epoch, as it
 *       does for NFT: an epoch is one update for both objectives, the rollouts are exactly on-policy
 *       for that update (ρ = 1 up to rounding, so the ε-clip never zeroes a sample's gradient), and
 *       the comparison with NFT at equal epochs or wall time is like for like.</li>
 *   <li><b>EMA</b>: Flow-GRPO's {@code EMAModuleWrapper(decay=0.9, update_step_interval=8)}: after
 *       optimizer step s, EMA ← d·EMA + (1 − d)·θ with d = min((1 + s)/(10 + s), 0.9), only when
 *       (s + 1) is a multiple of the interval ({@link #evalEmaDecay}).</li>
 * </ul>
 *
 * <p>Memory, as in {@link NftObjective}: micro-batches of {@code microBatch} kept samples, each step
 * of a micro-batch in its own scope; the no-grad reference forward runs first in its own scope, so
 * one activation graph is alive at a time; with a concurrent {@link SideThread} it runs beside the
 * previous step's backward instead ({@link SideThread#pipeline}; the first step's beside θ's forward).
 * The kernel's loss is a mean over its call's samples, so a micro-batch's gradient is weighted by
 * its share of them.
 */
public final class GrpoObjective implements Objective {
    private final EditingModel model;
    private final KernelOps ops;
    private final double[] sigmas;   // the grid, last entry 0
    private final double noiseLevel;
    private final double clipRange, klWeight, advClipMax;
    private final int trained;
    private final int emaInterval;
    private final int microBatch;
    private final boolean checkpoint;
    private final SideThread side;

    /**
     * @param noiseLevel  a of the SDE step (0.7)
     * @param clipRange   ε of the ratio clip (1e-4)
     * @param klWeight    β of the KL term (0.04; 0: no reference forward)
     * @param advClipMax  A is clipped to ±this (5)
     * @param trained     K: the first K grid steps are recorded and trained (⌊0.99·N⌋)
     * @param emaInterval the evaluation EMA moves after every emaInterval-th optimizer step (8)
     * @param microBatch  samples per loss/backward pass (0 or ≥ the kept samples: one pass)
     * @param checkpoint  recompute θ's activations block by block in backward
     */
    public GrpoObjective(EditingModel model, KernelOps ops, double[] sigmas, double noiseLevel, double clipRange,
                         double klWeight, double advClipMax, int trained, int emaInterval, int microBatch, boolean checkpoint) {
        this(model, ops, sigmas, noiseLevel, clipRange, klWeight, advClipMax, trained, emaInterval, microBatch, checkpoint,
                SideThread.inline());
    }

    /** @param side where the reference forward runs: inline before θ's, or beside it */
    public GrpoObjective(EditingModel model, KernelOps ops, double[] sigmas, double noiseLevel, double clipRange, double klWeight,
                         double advClipMax, int trained, int emaInterval, int microBatch, boolean checkpoint, SideThread side) {
        if (trained < 1 || trained > sigmas.length - 1)
            throw new IllegalArgumentException("trained steps must be in [1, " + (sigmas.length - 1) + "], got " + trained);
        if (emaInterval < 1) throw new IllegalArgumentException("emaInterval must be >= 1, got " + emaInterval);
        this.model = model;
        this.ops = ops;
        this.sigmas = sigmas.clone();
        this.noiseLevel = noiseLevel;
        this.clipRange = clipRange;
        this.klWeight = klWeight;
        this.advClipMax = advClipMax;
        this.trained = trained;
        this.emaInterval = emaInterval;
        this.microBatch = microBatch;
        this.checkpoint = checkpoint;
        this.side = side;
    }

    /** θ draws the rollouts (on-policy). */
    @Override
    public Adapter rolloutAdapter() {
        return Adapter.POLICY;
    }

    /** The SDE rollout from the key's initial noise; step i's ξ from {@link NoiseStreams#SDE}, rows keyed by sample id. */
    @Override
    public Trajectory rollOut(Rollouts rollouts, Conditioning c, NoiseKey key) {
        return rollouts.sampleSde(c, rolloutAdapter(), key, noiseLevel, i -> NoiseStreams.SDE.step(key.seed(), key.rowOffset(), i),
                trained);
    }

    /** Flow-GRPO's mask: a sample whose advantage is exactly 0 is not trained on. */
    @Override
    public boolean trains(double advantage) {
        return advantage != 0.0;
    }

    @Override
    public double evalEmaDecay(long step, double max) {
        return (step + 1) % emaInterval == 0 ? OldPolicySchedule.evalEmaDecay(step, max) : 1.0;
    }

    /** The loss config of trained step k: the grid's SDE step σ_k → σ_{k+1} with this objective's constants. */
    GrpoLossConfig lossConfig(int k) {
        return new GrpoLossConfig(SdeStep.of(sigmas[k], sigmas[k + 1], sigmas[1], noiseLevel), clipRange, klWeight);
    }

    /** The number of trained steps K. */
    int trainedSteps() {
        return trained;
    }

    @Override
    public Stats accumulate(Batch kept) {
        Trajectory tr = kept.rollout();
        if (tr.steps() != trained)
            throw new IllegalArgumentException("GRPO needs rollouts that recorded " + trained + " steps, got " + tr.steps());
        int v = (int) tr.batch();
        Tensor adv = kept.advantage().clamp(new ScalarOptional(new Scalar(-advClipMax)), new ScalarOptional(new Scalar(advClipMax)));
        List<MicroBatch> parts = Objective.microBatches(v, microBatch, tr.x0().device(),
                rows -> new MicroBatch(rows.of(tr), rows.of(kept.cond()), rows.of(adv), rows.share()));
        double[] acc = new double[2];   // loss, kl·samples
        // slot i: micro-batch i / trained, step i % trained
        SideThread.Seconds sec = side.pipeline(parts.size() * trained, i -> inputs(i % trained, parts.get(i / trained)), StepInputs::tensors,
                klWeight > 0 ? this::reference : null, vRef -> new Tensor[] {vRef}, (i, in, ref, ahead) -> step(in, ref, ahead, acc));
        return new Stats(acc[0] / trained, acc[1] / ((double) trained * v), sec.forward(), sec.backward());
    }

    /** A micro-batch of the kept samples: their trajectories, conditioning, clipped advantages [n], share n/V. */
    private record MicroBatch(Trajectory tr, Conditioning cond, Tensor adv, double share) {}

    /** Step k of a micro-batch: x_k, x_{k+1}, the rollout's log-prob and the float σ_k [n] its velocity was evaluated at. */
    private record StepInputs(MicroBatch part, int k, Tensor x, Tensor xNext, Tensor logpOld, Tensor t) {
        Tensor[] tensors() {
            return new Tensor[] {x, xNext, logpOld, t};
        }
    }

    private StepInputs inputs(int k, MicroBatch part) {
        Trajectory tr = part.tr();
        Tensor x = tr.state(k), xNext = tr.state(k + 1), logpOld = tr.logProb(k);
        int n = (int) x.size(0);
        float[] tv = new float[n];
        Arrays.fill(tv, (float) sigmas[k]);
        return new StepInputs(part, k, x, xNext, logpOld, Tensors.fromFloats(tv, x.device(), n));
    }

    /** The reference velocity at a step's x (no grad; on the side thread, or inline before θ's graph exists). */
    private Tensor reference(StepInputs in) {
        try (NoGradGuard g = new NoGradGuard()) {
            return model.velocity(in.x(), in.t(), in.part().cond(), Adapter.OFF);
        }
    }

    /** One step on the trainer's thread: θ's forward, the loss kernel, the next step started (its reference forward then runs beside this backward), backward. */
    private void step(StepInputs in, Supplier<Tensor> ref, Runnable ahead, double[] acc) {
        MicroBatch part = in.part();
        EditingModel.TrainingForward theta = model.velocityForTraining(in.x(), in.t(), part.cond(), Adapter.POLICY, checkpoint);
        Tensor vRef = ref.get();
        NativeMemory.mark();   // θ's graph, the reference velocity and the batch: the step's peak
        GrpoLossResult res = ops.grpoLoss(lossConfig(in.k()), new GrpoLossInputs(in.x(), in.xNext(), theta.velocity().detach(), vRef, part.adv(),
                in.logpOld(), torch.ones_like(part.adv())), true);   // valid = 1: the filter and the A = 0 mask already removed the others
        ahead.run();
        theta.backward().accept(res.grad().mul(new Scalar(part.share() / trained)));
        acc[0] += part.share() * res.lossValue();
        for (double z : Tensors.toDoubles(res.kl())) acc[1] += z;
    }
}
