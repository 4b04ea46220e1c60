package dev.editr1.train;

import java.util.List;

import org.bytedeco.pytorch.Tensor;

/**
 * The policy-optimization objective as a strategy of the one {@link Trainer}: given an epoch's
 * rollouts (final images) and their optimality r, it accumulates gradients into the trained
 * adapter and reports its loss. DiffusionNFT now ({@link NftObjective}); Flow-GRPO later.
 */
public interface Objective {
    /** Per-call statistics for the metrics. */
    record Stats(double loss, double kl, double forwardSeconds, double backwardSeconds) {}

    /**
     * @param x0      the valid samples' final images [V, 3, S, S]
     * @param src     their source images, ids their instruction ids
     * @param r       their optimality r [V] (f32)
     * @param epoch   the epoch (keys the training noise and timesteps)
     * @param sampleIds a stable id per valid sample (keys its timesteps)
     */
    Stats accumulate(Tensor x0, Tensor src, Tensor ids, Tensor r, int epoch, List<Long> sampleIds);
}
