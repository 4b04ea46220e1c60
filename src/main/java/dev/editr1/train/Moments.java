package dev.editr1.train;

/**
 * Count, mean and variance of the values that are not NaN (unscored rewards, tasks without a
 * target), in two passes — the mean first, then the squared deviations — so a set whose spread is
 * exactly a threshold is measured as numpy measures it (SPEC §5). Both sums add left to right: the
 * upstream trainers repeat each reward along the trained timesteps and reduce the [n, T] array along
 * axis 0, which numpy does row by row (its pairwise sum applies along a contiguous reduced axis only),
 * so the group mean and std, the epoch std and A come out bit for bit as upstream's
 * (GroupStatsTest.groupAndEpochStatisticsAreNumpysAxis0ReductionsBitForBit).
 */
public record Moments(int n, double mean, double sumSquares) {
    public static Moments of(double[] x) {
        int n = 0;
        double s = 0;
        for (double v : x)
            if (!Double.isNaN(v)) {
                s += v;
                n++;
            }
        if (n == 0) return new Moments(0, Double.NaN, Double.NaN);
        double m = s / n, ss = 0;
        for (double v : x)
            if (!Double.isNaN(v)) ss += (v - m) * (v - m);
        return new Moments(n, m, ss);
    }

    /** Population variance (÷ n). */
    public double variance() {
        return n == 0 ? Double.NaN : sumSquares / n;
    }

    /** Population standard deviation. */
    public double std() {
        return Math.sqrt(variance());
    }

    /** Sample variance (÷ (n − 1)), 0 for one value. */
    public double sampleVariance() {
        return n > 1 ? sumSquares / (n - 1) : n == 1 ? 0 : Double.NaN;
    }
}
