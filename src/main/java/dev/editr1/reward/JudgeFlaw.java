package dev.editr1.reward;

import dev.editr1.world.Quality;

/**
 * An exploitable flaw of the {@link SimulatedJudge}, for experiments on reward hacking: a judge that
 * weighs something besides the edit's quality can be gamed by the policy, its reward rising while
 * the true quality falls. Each flaw is an "appeal" in [0, 1] of the edited image (and its source); a
 * judge with bias b sees (1 − b)·q₀ + b·appeal instead of the true quality q₀.
 *
 * <p>{@link #VIVID} is the flaw of aesthetic reward models that Flow-GRPO's users hit (PickScore and
 * aesthetic scores reward saturated colour, and the trained model paints everything vivid).
 * {@link #CHANGE} is an MLLM judge that takes a conspicuous change for a followed instruction.
 * {@link #SOURCE} rewards edits that leave the source alone; in the embedded world it is not a
 * hack at all (copying the source scores a true quality of about 0.6, above the shipped base's 0.53),
 * which shows that a flaw is only gamed when it pays better than the edits the policy makes.
 */
public enum JudgeFlaw {
    /** no flaw: the judge sees the true quality (bias must be 0) */
    NONE,
    /** over-rewards saturated colour: the mean chroma (max − min channel, on [0, 1]) of the edited image */
    VIVID,
    /** over-rewards conspicuous change: the fraction of pixels that differ from the source beyond {@link Quality#TOLERANCE} */
    CHANGE,
    /** over-rewards leaving the source alone: 1 − the fraction of changed pixels */
    SOURCE;

    /** This flaw's appeal of an edited image, in [0, 1]; images are [3, S, S] channel-major in [−1, 1]. */
    public double appeal(float[] edited, float[] source) {
        return switch (this) {
            case NONE -> 0;
            case VIVID -> chroma(edited);
            case CHANGE -> changedFraction(edited, source);
            case SOURCE -> 1 - changedFraction(edited, source);
        };
    }

    /** Mean over pixels of (max − min over the three channels) / 2: 0 for greys, 1 for pure primaries. */
    public static double chroma(float[] img) {
        int n = img.length / 3;
        double sum = 0;
        for (int i = 0; i < n; i++) {
            float r = img[i], g = img[n + i], b = img[2 * n + i];
            sum += (Math.max(r, Math.max(g, b)) - Math.min(r, Math.min(g, b))) / 2.0;
        }
        return Math.min(1, sum / Math.max(1, n));
    }

    /** The fraction of pixels where some channel differs from the source by more than {@link Quality#TOLERANCE}. */
    public static double changedFraction(float[] edited, float[] source) {
        int n = edited.length / 3, changed = 0;
        for (int i = 0; i < n; i++)
            for (int c = 0; c < 3; c++)
                if (Math.abs(edited[c * n + i] - source[c * n + i]) > Quality.TOLERANCE) {
                    changed++;
                    break;
                }
        return (double) changed / Math.max(1, n);
    }
}
