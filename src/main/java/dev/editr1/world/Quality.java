package dev.editr1.world;

import java.util.HashMap;
import java.util.Map;

/**
 * The true quality of an edit, in [0, 1]: did the right pixels change as asked, and was everything
 * else preserved. The canvas is split into three regions, each weighted equally when present:
 * <ul>
 *   <li>the edit: pixels where the source and the exact target differ;</li>
 *   <li>unchanged shapes: shape pixels of the target outside the edit;</li>
 *   <li>unchanged background: the rest.</li>
 * </ul>
 * In each, the fraction of pixels within {@link #TOLERANCE} of the target on every channel.
 * Weighting the regions (rather than counting pixels) keeps the background, most of a canvas, from
 * paying for a model that paints background everywhere: dropping the shapes costs a third.
 * The simulated judge sees a noisy view of this; runs report it beside the judge's reward.
 */
public final class Quality {
    /** Per-channel tolerance on the [−1, 1] scale. */
    public static final double TOLERANCE = 0.25;

    private Quality() {}

    /** images [3, S, S] channel-major, same size */
    public static double of(float[] edited, float[] source, float[] target) {
        if (edited.length != target.length || source.length != target.length || target.length % 3 != 0)
            throw new IllegalArgumentException("images differ in size: " + edited.length + ", " + source.length + ", "
                    + target.length);
        int n = target.length / 3;
        long bg = background(target, n);
        int[] total = new int[3], good = new int[3];
        for (int i = 0; i < n; i++) {
            boolean changed = false;
            for (int c = 0; c < 3; c++) changed |= Math.abs(source[c * n + i] - target[c * n + i]) > 1e-6;
            int region = changed ? 0 : key(target, n, i) != bg ? 1 : 2;
            boolean ok = true;
            for (int c = 0; c < 3 && ok; c++) ok = Math.abs(edited[c * n + i] - target[c * n + i]) <= TOLERANCE;
            total[region]++;
            if (ok) good[region]++;
        }
        double sum = 0;
        int regions = 0;
        for (int r = 0; r < 3; r++)
            if (total[r] > 0) {
                sum += (double) good[r] / total[r];
                regions++;
            }
        return sum / regions;
    }

    /** the target's most common colour: the background (shapes never cover half a canvas) */
    private static long background(float[] img, int n) {
        Map<Long, Integer> count = new HashMap<>();
        long best = 0;
        int bestCount = -1;
        for (int i = 0; i < n; i++) {
            long k = key(img, n, i);
            int c = count.merge(k, 1, Integer::sum);
            if (c > bestCount) {
                bestCount = c;
                best = k;
            }
        }
        return best;
    }

    private static long key(float[] img, int n, int i) {
        long r = Math.round(img[i] * 1000) & 0xfffff, g = Math.round(img[n + i] * 1000) & 0xfffff,
                b = Math.round(img[2 * n + i] * 1000) & 0xfffff;
        return (r << 40) | (g << 20) | b;
    }
}
