package dev.editr1.reward;

/**
 * A judge's verdict on one edit.
 *
 * @param score   reward in [0, 1] (SPEC §4), or NaN when unscored
 * @param probs   the K renormalized score-token probabilities (empty when unscored)
 * @param mass    the probability mass the judge put on the score tokens
 * @param failure why the sample is unscored (null when scored): it is excluded from its group, never scored 0
 */
public record Judgement(double score, double[] probs, double mass, String failure) {
    public boolean scored() {
        return failure == null && !Double.isNaN(score);
    }

    public static Judgement unscored(String why) {
        return new Judgement(Double.NaN, new double[0], 0.0, why);
    }
}
