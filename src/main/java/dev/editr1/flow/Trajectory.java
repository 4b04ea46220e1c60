package dev.editr1.flow;

import java.util.ArrayList;
import java.util.List;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

/**
 * What a rollout keeps for the objective that trains on it, batch-first so that rows can be
 * selected and chunks joined:
 * <ul>
 *   <li>{@code x0} [B, ...]: the final latents (what the judge sees);</li>
 *   <li>{@code states} [B, K + 1, ...] or null: the sampler's states x at σ_0, …, σ_K of the first K
 *       steps (x_t and x_{t−1} of step k are states k and k + 1), in the model's dtype;</li>
 *   <li>{@code logProbs} [B, K] f32 or null: the log-probability of state k + 1 given state k under
 *       the policy that drew it, as the SDE step kernel computed it.</li>
 * </ul>
 * DiffusionNFT keeps x0 alone; Flow-GRPO keeps the K trained steps too (SPEC §3, §7 baseline).
 */
public record Trajectory(Tensor x0, Tensor states, Tensor logProbs) {
    public Trajectory {
        if (x0 == null) throw new IllegalArgumentException("a trajectory has final latents");
        if ((states == null) != (logProbs == null))
            throw new IllegalArgumentException("a trajectory keeps both its states and their log-probabilities, or neither");
    }

    /** The final latents alone. */
    public static Trajectory finalOnly(Tensor x0) {
        return new Trajectory(x0, null, null);
    }

    /** The steps kept (K): 0 for a final-only trajectory. */
    public int steps() {
        return states == null ? 0 : (int) logProbs.size(1);
    }

    public long batch() {
        return x0.size(0);
    }

    /** Its tensors (the ones that are not null), e.g. to keep them past a scope. */
    public Tensor[] tensors() {
        List<Tensor> t = new ArrayList<>(3);
        t.add(x0);
        if (states != null) {
            t.add(states);
            t.add(logProbs);
        }
        return t.toArray(new Tensor[0]);
    }

    /** Chunks joined along the batch (one chunk is returned as it is). */
    public static Trajectory cat(List<Trajectory> parts) {
        if (parts.size() == 1) return parts.get(0);
        boolean steps = parts.get(0).states != null;
        return new Trajectory(cat(parts, 0), steps ? cat(parts, 1) : null, steps ? cat(parts, 2) : null);
    }

    private static Tensor cat(List<Trajectory> parts, int which) {
        Tensor[] ts = new Tensor[parts.size()];
        for (int i = 0; i < ts.length; i++) ts[i] = parts.get(i).tensors()[which];
        return torch.cat(new TensorVector(ts), 0);
    }

    /** The rows {@code rows} (int64 on the tensors' device), contiguous. */
    public Trajectory select(Tensor rows) {
        return new Trajectory(x0.index_select(0, rows).contiguous(),
                states == null ? null : states.index_select(0, rows).contiguous(),
                logProbs == null ? null : logProbs.index_select(0, rows).contiguous());
    }

    /** State k [B, ...] (x at σ_k), contiguous. */
    public Tensor state(int k) {
        return states.select(1, k).contiguous();
    }

    /** The log-probabilities [B] of step k (state k → state k + 1), contiguous. */
    public Tensor logProb(int k) {
        return logProbs.select(1, k).contiguous();
    }
}
