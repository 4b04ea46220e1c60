package dev.editr1.train;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Group advantages, the optimality r, the low-variance filter and the ban (SPEC §5).
 *
 * <p>Input: the epoch's rewards grouped by prompt, NaN for samples the judge could not score
 * (those are excluded from their group's statistics and from the loss, and counted). Output, per
 * sample: advantage A, r ∈ [0, 1], and whether the sample takes part in the loss.
 */
public final class GroupStats {
    /**
     * How the low-variance filter combines its two tests: OR (the released code), AND (the paper's
     * text), or OFF (no low-variance mask). In every mode a group with fewer than two scored samples
     * is masked: it has no contrast to learn from.
     */
    public enum FilterMode { OR, AND, OFF }

    /**
     * What a group's statistics and a ban are keyed by: TASK, the (source image, instruction) pair
     * (editr1's default: one prompt's rollouts), or INSTRUCTION, the instruction text alone (Edit-R1's
     * trainers: prompts with one instruction pool their rewards, and a ban covers every source).
     */
    public enum GroupBy { TASK, INSTRUCTION }

    /**
     * What an advantage is divided by: EPOCH, the population std of every scored reward of the epoch
     * (SPEC §5; Edit-R1's and DiffusionNFT's {@code global_std = True}), or GROUP, the sample's own
     * group's std (Flow-GRPO's per-prompt normalization, {@code global_std = False}): every prompt
     * then pushes with the same weight, whatever the spread of its rewards.
     */
    public enum AdvantageStd { EPOCH, GROUP }

    /**
     * Which samples NFT trains on and how: ADVANTAGE, every sample of a kept group with r from its
     * advantage (SPEC §5–6), or BEST, only each kept group's best-scored sample, with r = 1 —
     * rejection-sampling fine-tuning (RAFT) on the judge's pick of each group, the baseline that
     * distils best-of-G sampling into the policy ({@link #keepBest}).
     */
    public enum Weighting { ADVANTAGE, BEST }

    /** Per-sample results, flat in group order. */
    public final double[] advantage, r;
    public final boolean[] valid;
    /** Per-group: filtered by the low-variance rule; to be banned. */
    public final boolean[] filtered, banned;
    public final double[] groupMean, groupStd;
    public final double globalStd;
    public final int unscored;

    private GroupStats(double[] a, double[] r, boolean[] v, boolean[] f, boolean[] b, double[] gm, double[] gs, double std,
                       int unscored) {
        this.advantage = a;
        this.r = r;
        this.valid = v;
        this.filtered = f;
        this.banned = b;
        this.groupMean = gm;
        this.groupStd = gs;
        this.globalStd = std;
        this.unscored = unscored;
    }

    /**
     * @param rewards    per group, per sample (NaN = unscored)
     * @param clipMax    c of r = ½ + ½·clip(A/c, −1, 1)
     * @param filterStd  a group with std ≤ this …
     * @param filterMean … or (and) mean ≥ this is masked
     * @param banStd     ban when std &lt; banStd and mean &gt; banMean (the ban rule of SPEC §5)
     */
    public static GroupStats compute(List<double[]> rewards, double clipMax, double filterStd, double filterMean,
                                     FilterMode mode, double banStd, double banMean) {
        return compute(rewards, null, AdvantageStd.EPOCH, clipMax, filterStd, filterMean, mode, banStd, banMean);
    }

    /**
     * The same with groups pooled: {@code pool[g]} names the statistics group of prompt group g, and
     * groups with one name share one mean and std (their rewards concatenated in order), hence one
     * filter and ban verdict — Edit-R1's trainers key their statistics by the instruction text alone,
     * so two prompts with one instruction and different source images pool. {@code null}: every
     * prompt group on its own. Results stay per prompt group and per sample, in input order.
     * {@code scale}: what the advantages are divided by (+ 1e-4 either way).
     */
    public static GroupStats compute(List<double[]> rewards, String[] pool, AdvantageStd scale, double clipMax, double filterStd,
                                     double filterMean, FilterMode mode, double banStd, double banMean) {
        if (pool != null && pool.length != rewards.size())
            throw new IllegalArgumentException("pool names " + pool.length + " groups, rewards have " + rewards.size());
        int groups = rewards.size(), n = 0, unscored = 0;
        for (double[] g : rewards) {
            n += g.length;
            for (double x : g) if (Double.isNaN(x)) unscored++;
        }
        // the epoch's population std over every scored reward; two passes, as upstream's numpy
        double[] all = new double[n];
        int k = 0;
        for (double[] g : rewards) for (double x : g) all[k++] = x;
        Moments epoch = Moments.of(all);
        double std = epoch.n() > 0 ? epoch.std() : 0;
        double[] a = new double[n], r = new double[n], gm = new double[groups], gs = new double[groups];
        boolean[] v = new boolean[n], f = new boolean[groups], b = new boolean[groups];
        int i = 0;
        Map<String, Moments> pooled = new HashMap<>();
        if (pool != null) {
            Map<String, List<double[]>> members = new LinkedHashMap<>();
            for (int gi = 0; gi < groups; gi++) members.computeIfAbsent(pool[gi], x -> new ArrayList<>()).add(rewards.get(gi));
            members.forEach((key, list) -> pooled.put(key, Moments.of(list.stream().flatMapToDouble(Arrays::stream).toArray())));
        }
        for (int gi = 0; gi < groups; gi++) {
            double[] g = rewards.get(gi);
            Moments mg = pool != null ? pooled.get(pool[gi]) : Moments.of(g);
            int c = mg.n();
            double m = mg.mean(), sd = c > 0 ? mg.std() : Double.NaN;
            gm[gi] = m;
            gs[gi] = sd;
            // a group with fewer than two scored samples has no contrast to learn from
            boolean lowStd = c < 2 || sd <= filterStd, highMean = c > 0 && m >= filterMean;
            f[gi] = switch (mode) {
                case OR -> lowStd || highMean;
                case AND -> (lowStd && highMean) || c < 2;
                case OFF -> c < 2;
            };
            b[gi] = c >= 2 && sd < banStd && m > banMean;
            for (double x : g) {
                if (Double.isNaN(x)) {
                    a[i] = 0;
                    r[i] = 0.5;
                    v[i] = false;
                } else {
                    a[i] = (x - m) / ((scale == AdvantageStd.GROUP ? sd : std) + 1e-4);
                    r[i] = 0.5 + 0.5 * Math.max(-1, Math.min(1, a[i] / clipMax));
                    v[i] = !f[gi];
                }
                i++;
            }
        }
        return new GroupStats(a, r, v, f, b, gm, gs, std, unscored);
    }

    /**
     * The same statistics with only each kept group's best-scored sample valid (the first of equal
     * scores), its r set to 1: {@link Weighting#BEST}. Advantages, group statistics, the filter's and
     * the ban's verdicts are unchanged.
     *
     * @param rewards the groups these statistics were computed from, in the same order
     */
    public GroupStats keepBest(List<double[]> rewards) {
        GroupStats best = keepExtremes(rewards, 1);   // k = 1: the best-scored, the first of equal scores
        double[] r2 = r.clone();
        for (int i = 0; i < r2.length; i++) if (best.valid[i]) r2[i] = 1.0;
        return new GroupStats(advantage, r2, best.valid, filtered, banned, groupMean, groupStd, globalStd, unscored);
    }

    /**
     * The same statistics with only each kept group's {@code k} most extreme samples valid: the
     * ⌈k/2⌉ best-scored and the ⌊k/2⌋ worst-scored (equal scores: the earlier sample first), r and
     * advantages unchanged. A group with at most k valid samples keeps them all. The samples in a
     * group's middle have A ≈ 0, so r ≈ ½ and NFT's two branches nearly cancel on them: they cost a
     * full share of the loss phase for little of its signal. They are not idle, though: their
     * gradient is NFT's pull toward the old policy, and without them a run drifted from the base
     * (experiments/README.md, "The extremes of each group").
     *
     * @param rewards the groups these statistics were computed from, in the same order
     * @param k       samples kept per group, ≥ 1
     */
    public GroupStats keepExtremes(List<double[]> rewards, int k) {
        if (k < 1) throw new IllegalArgumentException("k must be >= 1 (got " + k + ")");
        int total = rewards.stream().mapToInt(x -> x.length).sum();
        if (total != valid.length) throw new IllegalArgumentException("rewards hold " + total + " samples, the statistics " + valid.length);
        boolean[] v = new boolean[valid.length];
        int i = 0;
        for (double[] x : rewards) {
            final int first = i;
            List<Integer> order = new ArrayList<>();
            for (int j = 0; j < x.length; j++) if (valid[first + j]) order.add(j);
            // best first; List.sort is stable, so equal scores keep their sample order
            order.sort((p, q) -> Double.compare(x[q], x[p]));
            int n = order.size(), top = Math.min(n, (k + 1) / 2), bottom = Math.min(n - top, k / 2);
            for (int j = 0; j < top; j++) v[first + order.get(j)] = true;
            for (int j = n - bottom; j < n; j++) v[first + order.get(j)] = true;
            i += x.length;
        }
        return new GroupStats(advantage, r, v, filtered, banned, groupMean, groupStd, globalStd, unscored);
    }

    public int validCount() {
        int c = 0;
        for (boolean x : valid) if (x) c++;
        return c;
    }

    public double filteredFraction() {
        int c = 0;
        for (boolean x : filtered) if (x) c++;
        return filtered.length == 0 ? 0 : (double) c / filtered.length;
    }

    /** Indices of the valid samples. */
    public List<Integer> validIndices() {
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < valid.length; i++) if (valid[i]) out.add(i);
        return out;
    }
}
