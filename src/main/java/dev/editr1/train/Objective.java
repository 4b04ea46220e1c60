package dev.editr1.train;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;

import dev.editr1.flow.Trajectory;
import dev.editr1.kernels.NoiseKey;
import dev.editr1.kernels.Tensors;
import dev.editr1.model.Adapter;
import dev.editr1.model.Conditioning;

/**
 * The policy-optimization objective as a strategy of the one {@link Trainer} (SPEC §7 step 4):
 * given the kept rollouts of an epoch with their optimality r and advantage A, it accumulates
 * gradients into the model's θ adapter and reports its loss. It also says how its rollouts are
 * drawn and what they keep, which samples it trains on, and how the evaluation EMA follows θ —
 * the places where DiffusionNFT ({@link NftObjective}, the defaults here) and Flow-GRPO
 * ({@link GrpoObjective}) differ; everything else (judging, group statistics, the filter, clipping,
 * AdamW, checkpoints) is the trainer's and shared.
 */
public interface Objective {
    /** Per-call statistics for the metrics. */
    record Stats(double loss, double kl, double forwardSeconds, double backwardSeconds) {}

    /**
     * The kept samples of an epoch.
     *
     * @param rollout   their rollouts (at least the final latents [V, ...]) on the model's device
     * @param cond      their conditioning (batch V)
     * @param r         their optimality r [V] f32 on the device (SPEC §5)
     * @param advantage their advantage A [V] f32 on the device, before any clipping (SPEC §5)
     * @param epoch     the epoch (keys the timesteps)
     * @param sampleIds each sample's global id (keys its training noise and timesteps, so they do
     *                  not depend on which samples the filter kept or on the number of ranks)
     */
    record Batch(Trajectory rollout, Conditioning cond, Tensor r, Tensor advantage, int epoch, long[] sampleIds) {}

    /** The adapter set that draws the rollouts: the old policy (DiffusionNFT). */
    default Adapter rolloutAdapter() {
        return Adapter.OLD;
    }

    /**
     * Rolls out one chunk from the initial noise of {@code key} (row offset = the chunk's first
     * sample id). DiffusionNFT: the configured ODE solver, final latents only.
     */
    default Trajectory rollOut(Rollouts rollouts, Conditioning c, NoiseKey key) {
        return Trajectory.finalOnly(rollouts.sample(c, rolloutAdapter(), key));
    }

    /** Whether a sample the filter kept enters the loss, given its advantage (DiffusionNFT: always). */
    default boolean trains(double advantage) {
        return true;
    }

    /**
     * The evaluation EMA's decay d after optimizer step {@code step} (EMA ← d·EMA + (1 − d)·θ; 1 leaves
     * it as it is): min((1 + step)/(10 + step), max) every step (SPEC §7).
     */
    default double evalEmaDecay(long step, double max) {
        return OldPolicySchedule.evalEmaDecay(step, max);
    }

    /**
     * Adds to θ's gradients the gradient of the <b>mean over the given samples</b> of their
     * per-sample loss (DiffusionNFT: the loss kernel divides by Σ valid of the batch, and the slots
     * are averaged). The trainer relies on this: with many ranks it weights rank r's gradient by
     * v_r/V (its share of the epoch's kept samples) so the sum equals one process's gradient. An
     * objective that micro-batches must keep that normalization (divide by the whole call's count).
     */
    Stats accumulate(Batch kept);

    /**
     * Rows [start, start + n) of an epoch's V kept samples, one micro-batch: their indices (int64 [n]
     * on the samples' device; null when the micro-batch is the whole batch, so nothing is copied) and
     * their share n/V, the weight of the micro-batch's loss and gradient (the kernels average over
     * their n samples, {@link #accumulate} over all V).
     */
    record Rows(Tensor index, int start, int n, double share) {
        /** These rows of t [V, ...]. */
        public Tensor of(Tensor t) {
            return index == null ? t : t.index_select(0, index);
        }

        /** These rows of the conditioning (batch V). */
        public Conditioning of(Conditioning c) {
            return index == null ? c : c.select(index);
        }

        /** These rows of the rollouts (batch V). */
        public Trajectory of(Trajectory tr) {
            return index == null ? tr : tr.select(index);
        }
    }

    /**
     * V kept samples in micro-batches of {@code microBatch} (0 or ≥ V: one, the whole batch), each made
     * by {@code part} from its rows, in order.
     */
    static <T> List<T> microBatches(int v, int microBatch, Device device, Function<Rows, T> part) {
        int mb = microBatch > 0 ? Math.min(microBatch, v) : v;
        List<T> parts = new ArrayList<>();
        for (int start = 0; start < v; start += mb) {
            int n = Math.min(mb, v - start);
            long[] idx = new long[n];
            for (int i = 0; i < n; i++) idx[i] = start + i;
            parts.add(part.apply(new Rows(n == v ? null : Tensors.fromLongs(idx, device), start, n, (double) n / v)));
        }
        return parts;
    }
}
