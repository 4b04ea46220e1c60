package dev.editr1.train;

import org.bytedeco.pytorch.Tensor;

import dev.editr1.model.Conditioning;

/**
 * The policy-optimization objective as a strategy of the one {@link Trainer} (SPEC §7 step 4):
 * given the kept rollouts of an epoch and their optimality r, it accumulates gradients into the
 * model's θ adapter and reports its loss. DiffusionNFT now ({@link NftObjective}); Flow-GRPO later.
 */
public interface Objective {
    /** Per-call statistics for the metrics. */
    record Stats(double loss, double kl, double forwardSeconds, double backwardSeconds) {}

    /**
     * Adds to θ's gradients the gradient of the <b>mean over the given samples</b> of their
     * per-sample loss (DiffusionNFT: the loss kernel divides by Σ valid of the batch, and the slots
     * are averaged). The trainer relies on this: with many ranks it weights rank r's gradient by
     * v_r/V (its share of the epoch's kept samples) so the sum equals one process's gradient. An
     * objective that micro-batches must keep that normalization (divide by the whole call's count).
     *
     * @param x0        the kept samples' final latents [V, ...] on the model's device
     * @param cond      their conditioning (batch V)
     * @param r         their optimality r [V] f32 on the device
     * @param epoch     the epoch (keys the timesteps)
     * @param sampleIds each sample's global id (keys its training noise and timesteps, so they do
     *                  not depend on which samples the filter kept or on the number of ranks)
     */
    Stats accumulate(Tensor x0, Conditioning cond, Tensor r, int epoch, long[] sampleIds);
}
