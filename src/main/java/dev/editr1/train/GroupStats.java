package dev.editr1.train;

import java.util.ArrayList;
import java.util.List;

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
        for (int gi = 0; gi < groups; gi++) {
            double[] g = rewards.get(gi);
            Moments mg = Moments.of(g);
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
                    a[i] = (x - m) / (std + 1e-4);
                    r[i] = 0.5 + 0.5 * Math.max(-1, Math.min(1, a[i] / clipMax));
                    v[i] = !f[gi];
                }
                i++;
            }
        }
        return new GroupStats(a, r, v, f, b, gm, gs, std, unscored);
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
