package dev.editr1.ablate;

import java.util.Locale;

/**
 * Mean and 95% confidence interval over seeds: mean ± t(0.975, n − 1)·s/√n with the sample standard
 * deviation s — Student's t, because an ablation has a handful of seeds (with 3 seeds t is 4.30, not
 * 1.96). NaN values (a run that never reached a reward) are left out; n counts the rest.
 */
public record SeedStats(double mean, double lo, double hi, int n) {
    /** t(0.975, df) for df = 1 … 30; larger df use the normal 1.96. */
    private static final double[] T975 = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
            2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045,
            2.042};

    static double t975(int df) {
        return df < 1 ? Double.NaN : df <= T975.length ? T975[df - 1] : 1.96;
    }

    public static SeedStats of(double[] x) {
        int n = 0;
        double s = 0;
        for (double v : x)
            if (!Double.isNaN(v)) {
                s += v;
                n++;
            }
        if (n == 0) return new SeedStats(Double.NaN, Double.NaN, Double.NaN, 0);
        double m = s / n, ss = 0;
        for (double v : x)
            if (!Double.isNaN(v)) ss += (v - m) * (v - m);
        if (n == 1) return new SeedStats(m, Double.NaN, Double.NaN, 1);
        double h = t975(n - 1) * Math.sqrt(ss / (n - 1) / n);
        return new SeedStats(m, m - h, m + h, n);
    }

    /** "0.612 [0.590, 0.634]" (digits after the point), "0.612" for one seed, "—" for none. */
    public String format(int digits, boolean signed) {
        if (n == 0) return "—";
        String f = "%" + (signed ? "+" : "") + "." + digits + "f";
        if (n == 1) return String.format(Locale.ROOT, f, mean);
        return String.format(Locale.ROOT, f + " [" + f + ", " + f + "]", mean, lo, hi);
    }
}
