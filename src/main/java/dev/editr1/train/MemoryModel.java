package dev.editr1.train;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

import dev.editr1.kernels.DType;
import dev.editr1.model.EditingModel.MemoryProfile;

/**
 * Peak tensor memory of a training run, predicted from a model's {@link MemoryProfile} and the run's
 * settings, term by term (bytes):
 * <ul>
 *   <li><b>static</b>: the base (parameters × base dtype), the three LoRA sets, θ's gradient and
 *       AdamW's two moments (f32: 4 + 4 + 4 + 4 + 4 bytes per LoRA parameter);</li>
 *   <li><b>rollout</b>: a sampling step of a chunk of R samples: the sampler's state (x, the multistep
 *       x̂0, the velocity; with CFG the unconditional one) and one block's live intermediates beside
 *       the residual stream — the other steps' and blocks' tensors are already freed;</li>
 *   <li><b>training slot</b>: one micro-batch of M samples through θ's forward with its graph: every
 *       earlier block's saved tensors plus all of the last block's intermediates (its scope frees what
 *       backward does not need only when the block ends), or with checkpointing one stored input per
 *       block plus one block's saved tensors and its backward's temporaries during the recompute;
 *       beside it the old and reference velocities, x_t, ε, the NFT gradient (5 latents per sample);</li>
 *   <li><b>epoch</b>: the epoch's rollout latents (one per sample), kept for the loss phase.</li>
 * </ul>
 * With the trainer's second thread ({@link SideThread}, forwardThreads 2: the CPU default) two
 * rollout chunks are sampled at once, and the next slot's no-grad forwards (old and reference
 * velocities) run beside this slot's backward ({@link SideThread#pipeline}): the rollout term counts
 * two chunks, and the slot holds one no-grad forward of the micro-batch and the next slot's four
 * latents (x_t, ε, two velocities) on top of θ's graph (with checkpointing the slot is the larger of
 * that and one block's recompute).
 * The peak is static + epoch + max(rollout, training slot). Attention is assumed not to materialize
 * its T × T scores (libtorch's flash kernels on CPU and GPU keep a log-sum-exp per row); the math
 * fallback would add heads·T² per sample and block. Checked against measured peaks in MemoryModelTest.
 */
public final class MemoryModel {
    private MemoryModel() {}

    /** The terms of a prediction, in bytes. */
    public record Estimate(long baseBytes, long loraAndOptimizerBytes, long rolloutBytes, long trainingBytes, long epochBytes) {
        public long staticBytes() {
            return baseBytes + loraAndOptimizerBytes;
        }

        /** Above the static part: what an epoch adds at its peak. */
        public long transientBytes() {
            return epochBytes + Math.max(rolloutBytes, trainingBytes);
        }

        public long peakBytes() {
            return staticBytes() + transientBytes();
        }

        public Map<String, Double> gib() {
            Map<String, Double> m = new LinkedHashMap<>();
            m.put("base", baseBytes / GIB);
            m.put("lora_and_adamw", loraAndOptimizerBytes / GIB);
            m.put("rollout_step", rolloutBytes / GIB);
            m.put("training_slot", trainingBytes / GIB);
            m.put("epoch_latents", epochBytes / GIB);
            m.put("peak", peakBytes() / GIB);
            return m;
        }

        @Override
        public String toString() {
            StringBuilder sb = new StringBuilder();
            gib().forEach((k, v) -> sb.append(sb.length() == 0 ? "" : ", ").append(k).append(' ').append(String.format(Locale.ROOT, "%.3f GiB", v)));
            return sb.toString();
        }
    }

    static final double GIB = 1024.0 * 1024 * 1024;

    /**
     * @param samples        rollouts per epoch on this rank (prompts × group size)
     * @param rolloutBatch   samples per rollout chunk
     * @param trainBatch     samples per loss/backward pass (the micro-batch, or all kept samples)
     * @param baseDtype      the base's dtype (activations follow it)
     * @param cfg            classifier-free guidance on (a second velocity per step)
     * @param checkpointing  per-block gradient checkpointing
     * @param sideThread     the trainer's second thread is concurrent (two chunks at once; a no-grad
     *                       forward beside θ's)
     */
    public static Estimate estimate(MemoryProfile p, int loraRank, int samples, int rolloutBatch, int trainBatch, DType baseDtype,
                                    boolean cfg, boolean checkpointing, boolean sideThread) {
        long a = baseDtype.bytes;
        long base = p.baseParameters() * a;
        long lora = p.loraParametersPerRank() * loraRank;
        long loraAndOpt = lora * 4L * (3 + 1 + 2);      // θ, old, EMA; θ's gradient; AdamW m and v (all f32)
        double tokenWidth = (double) p.tokens() * p.width() * a;   // one width-sized tensor of one sample
        long latent = p.latentElements() * a;
        int rolling = rolloutBatch + (sideThread ? Math.max(0, Math.min(rolloutBatch, samples - rolloutBatch)) : 0);
        long rollout = (long) (rolling * ((cfg ? 5 : 4) * latent + (p.liveWidths() + 1) * tokenWidth));
        // checkpointed: the stored block inputs, plus the recomputed block's saved tensors and the
        // temporaries of its backward, which are about as many as its no-grad forward holds (fitted
        // in MemoryModelTest: a recompute block peaks at saved + live, not at saved alone). Either
        // way the slot is at least the no-grad forwards of the old and reference velocities.
        // not checkpointed: the blocks before the last hold their saved tensors, and the last block
        // holds all of its intermediates until its scope closes (measured on FLUX and Qwen, whose
        // tiny test models have few blocks: blocks × saved alone fell 30% short there)
        double graph = checkpointing ? p.blocks() + p.savedWidths() + p.liveWidths()
                : (p.blocks() - 1) * p.savedWidths() + Math.max(p.savedWidths(), p.liveWidths());
        graph = Math.max(graph, p.liveWidths() + 1);
        if (sideThread) {
            // the side's no-grad forward beside θ's graph at its largest: the whole graph at the start of
            // backward; checkpointed, the stored inputs and one live block (fitted in MemoryModelTest: the
            // side's forward and one block's recompute peak do not add up there, the recompute being the
            // larger moment); the next slot's x_t, ε and velocities wait beside it (below)
            double besideSide = checkpointing ? p.blocks() + p.liveWidths() : graph;
            graph = Math.max(graph, besideSide + p.liveWidths() + 1);
        }
        long training = (long) (trainBatch * (graph * tokenWidth + (sideThread ? 9.0 : 5.0) * latent));
        long epoch = (long) samples * latent;
        return new Estimate(base, loraAndOpt, rollout, training, epoch);
    }

    /** {@link #estimate(MemoryProfile, int, int, int, int, DType, boolean, boolean, boolean)} on one thread (as on CUDA). */
    public static Estimate estimate(MemoryProfile p, int loraRank, int samples, int rolloutBatch, int trainBatch, DType baseDtype,
                                    boolean cfg, boolean checkpointing) {
        return estimate(p, loraRank, samples, rolloutBatch, trainBatch, baseDtype, cfg, checkpointing, false);
    }

    /**
     * The estimate for a run's configuration with its model's profile (train batch: all of an epoch's
     * samples unless micro-batched); sideThread as the run's {@link SideThread#concurrent()}.
     */
    public static Estimate estimate(MemoryProfile p, TrainConfig c, boolean sideThread) {
        int samples = c.prompts * c.groupSize;
        int train = c.microBatch > 0 ? Math.min(c.microBatch, samples) : samples;
        return estimate(p, c.loraRank, samples, Math.min(c.rolloutBatch, samples), train, c.baseDtype, c.cfgScale > 1,
                c.gradientCheckpointing, sideThread);
    }
}
