package dev.editr1.train;

import java.util.List;

import dev.editr1.train.Evaluator.Interval;
import dev.editr1.train.Evaluator.Result;

/**
 * How much a model could gain by preferring the best of its own samples: K samples of each task
 * (K evaluation noises of one model), reduced per task to
 * <ul>
 *   <li>one sample: the mean over the K, what a single draw scores;</li>
 *   <li>the best of K by true quality: an oracle's pick;</li>
 *   <li>the judge's pick: the sample the judge scores highest (the first of equal scores), its
 *       true quality and score — best-of-K rejection sampling with this judge;</li>
 *   <li>the spread: the sample standard deviation of true quality over the K.</li>
 * </ul>
 * An RL recipe that trains on its own rollouts (K per prompt) moves the policy toward the samples
 * its reward ranks high; the judge's pick is where that alone leads, so its gain over one sample is
 * the headroom of sharpening, as against learning edits the model never draws. Means and 95% CIs
 * are over tasks; the gains are paired per task.
 *
 * @param judgePickScore the judge's own score of its pick (biased upward by the judge's noise:
 *                       the maximum of K noisy scores), beside its true quality
 */
public record Headroom(int tasks, int samples, Interval oneScore, Interval oneQuality, Interval bestQuality,
                       Interval bestGain, Interval judgePickQuality, Interval judgePickGain, Interval judgePickScore,
                       double spread) {

    /** Over every task of the samples (all of one model, one per evaluation noise, same tasks in order). */
    public static Headroom of(List<Result> samples) {
        if (samples.isEmpty()) throw new IllegalArgumentException("no samples");
        return of(samples, java.util.stream.IntStream.range(0, samples.get(0).score().length).toArray());
    }

    /** Over the given task indices only (e.g. one task family). */
    public static Headroom of(List<Result> samples, int[] tasks) {
        int k = samples.size();
        if (k == 0) throw new IllegalArgumentException("no samples");
        int n = samples.get(0).score().length;
        for (Result r : samples)
            if (r.score().length != n || r.quality().length != n)
                throw new IllegalArgumentException("samples cover different tasks: " + r.score().length + " vs " + n);
        int m = tasks.length;
        double[] oneS = new double[m], oneQ = new double[m], best = new double[m], pickQ = new double[m], pickS = new double[m];
        double spreadSum = 0;
        int spreadN = 0;
        for (int j = 0; j < m; j++) {
            int i = tasks[j];
            double sumS = 0, max = Double.NEGATIVE_INFINITY, topScore = Double.NEGATIVE_INFINITY;
            double top = Double.NaN;
            double[] qs = new double[k];
            for (int x = 0; x < k; x++) {
                Result r = samples.get(x);
                double s = r.score()[i], q = r.quality()[i];
                qs[x] = q;
                sumS += s;
                max = Math.max(max, q);   // NaN (no target) stays NaN
                if (s > topScore) {
                    topScore = s;
                    top = q;
                }
            }
            // Moments: two passes (one pass, Σq² − (Σq)²/K, leaves ~1e-8 for equal samples); a task
            // has a target in every sample or in none
            Moments q = Moments.of(qs);
            oneS[j] = sumS / k;
            oneQ[j] = q.n() == k ? q.mean() : Double.NaN;
            best[j] = max;
            pickQ[j] = top;
            pickS[j] = topScore == Double.NEGATIVE_INFINITY ? Double.NaN : topScore;   // no sample scored
            if (k > 1 && q.n() == k) {
                spreadSum += Math.sqrt(q.sampleVariance());
                spreadN++;
            }
        }
        return new Headroom(m, k, Interval.of(oneS), Interval.of(oneQ), Interval.of(best), Interval.diff(oneQ, best),
                Interval.of(pickQ), Interval.diff(oneQ, pickQ), Interval.of(pickS), spreadN == 0 ? Double.NaN : spreadSum / spreadN);
    }
}
