package dev.editr1.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;

import javax.imageio.ImageIO;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The trend plot: a smoothed trend that a person can read through per-epoch noise, held-out CIs, warnings. */
class PicturesTest {
    @Test
    void smoothingKeepsALinearTrendAndRemovesAlternatingNoise() {
        int n = 200, half = 5;
        double[] v = new double[n];
        for (int i = 0; i < n; i++) v[i] = 0.4 + 0.001 * i + (i % 2 == 0 ? 0.08 : -0.08);
        v[100] = Double.NaN;   // an epoch with no scored sample
        double[] s = Pictures.smooth(v, half);
        double worstRaw = 0, worstSmooth = 0;
        for (int i = half; i < n - half; i++) {
            if (Math.abs(i - 100) <= half) continue;   // the gap's windows are uneven
            worstRaw = Math.max(worstRaw, Math.abs(v[i] - (0.4 + 0.001 * i)));
            worstSmooth = Math.max(worstSmooth, Math.abs(s[i] - (0.4 + 0.001 * i)));
        }
        assertEquals(0.08, worstRaw, 1e-12);
        // 11 alternating terms leave one of them: 0.08 / 11
        assertTrue(worstSmooth <= 0.08 / (2 * half + 1) + 1e-12, "the trend is within " + worstSmooth + " of the line");
        assertTrue(Double.isFinite(s[100]), "a NaN epoch gets the mean of its neighbours");
        assertTrue(Double.isNaN(Pictures.smooth(new double[] {Double.NaN, Double.NaN}, 2)[0]));
    }

    static int x(int epoch, int span) {
        return (int) Math.round(Pictures.LEFT + (double) epoch / span * (Pictures.WIDTH - Pictures.LEFT - Pictures.RIGHT));
    }

    /** The rows of the upper panel in columns [x0, x1] whose pixel has exactly colour c. */
    static int[] rows(BufferedImage img, int x0, int x1, Color c) {
        int min = Integer.MAX_VALUE, max = -1, count = 0;
        for (int x = x0; x <= x1; x++)
            for (int y = Pictures.TOP + 1; y < Pictures.BOTTOM; y++)
                if ((img.getRGB(x, y) & 0xffffff) == (c.getRGB() & 0xffffff)) {
                    min = Math.min(min, y);
                    max = Math.max(max, y);
                    count++;
                }
        return new int[] {min, max, count};
    }

    @Test
    void theTrendRisesThroughTheNoiseHeldOutPointsCarryTheirCisAndWarnedEpochsAreShaded(@TempDir Path tmp) throws Exception {
        // 300 epochs: the reward rises by 0.08 under per-epoch noise of ±0.08, about the README main job's situation
        int n = 300;
        double[] reward = new double[n], quality = new double[n], drift = new double[n], spread = new double[n];
        java.util.SplittableRandom rng = new java.util.SplittableRandom(1);
        for (int i = 0; i < n; i++) {
            reward[i] = 0.53 + 0.08 * i / n + 0.08 * (rng.nextDouble() * 2 - 1);
            quality[i] = 0.40 + 0.1 * (rng.nextDouble() * 2 - 1);
            drift[i] = 0.2;
            spread[i] = 0.15;
        }
        boolean[] warned = new boolean[n], diverged = new boolean[n];
        for (int i = 200; i < 250; i++) warned[i] = true;
        for (int i = 270; i < 290; i++) diverged[i] = true;
        List<RunWatch.HeldOutPoint> held = List.of(
                new RunWatch.HeldOutPoint(0, "base", new Evaluator.Interval(0.53, 0.52, 0.54, 128), new Evaluator.Interval(0.4, 0.39, 0.41, 128)),
                new RunWatch.HeldOutPoint(100, "ema", new Evaluator.Interval(0.55, 0.45, 0.65, 128), new Evaluator.Interval(0.4, 0.39, 0.41, 128)),
                new RunWatch.HeldOutPoint(300, "ema", new Evaluator.Interval(0.59, 0.58, 0.60, 128), new Evaluator.Interval(0.4, 0.39, 0.41, 128)));
        Path file = tmp.resolve("reward_curve.png");
        Pictures.trend(file, new Pictures.Trend(reward, quality, held, warned, diverged, drift, spread, 50, 100));
        BufferedImage img = ImageIO.read(file.toFile());
        assertEquals(Pictures.WIDTH, img.getWidth());
        assertEquals(Pictures.HEIGHT, img.getHeight());

        // the trend line (exact reward colour) sits higher at epoch 250 than at 50, and is thin in each column,
        // while the raw points of the same epochs spread over far more rows
        int[] early = rows(img, x(50, n) - 1, x(50, n) + 1, Pictures.REWARD), late = rows(img, x(250, n) - 1, x(250, n) + 1, Pictures.REWARD);
        assertTrue(early[2] > 0 && late[2] > 0, "the trend is drawn");
        assertTrue(late[1] < early[0], "rising: rows " + late[0] + "–" + late[1] + " at epoch 250 above " + early[0] + "–" + early[1]);
        assertTrue(early[1] - early[0] < 12, "a trend, not noise: " + (early[1] - early[0]) + " rows");
        int[] raw = rows(img, x(20, n), x(80, n), Pictures.REWARD_RAW);
        assertTrue(raw[1] - raw[0] > 4 * (early[1] - early[0] + 1), "raw points spread over " + (raw[1] - raw[0]) + " rows");

        // held-out score markers with CI bars: the wide CI (±0.10) spans several times the rows of a narrow one (±0.01)
        int[] wide = rows(img, x(100, n) - 8, x(100, n) + 1, Pictures.HELD_OUT_SCORE),
                narrow = rows(img, x(300, n) - 8, x(300, n) + 1, Pictures.HELD_OUT_SCORE);
        assertTrue(narrow[2] > 30 && wide[2] > 30, "markers drawn: " + narrow[2] + ", " + wide[2]);
        assertTrue(wide[1] - wide[0] > 3 * (narrow[1] - narrow[0]), "CI bars: " + (wide[1] - wide[0]) + " vs " + (narrow[1] - narrow[0]));

        // shading where the monitor warned, and none elsewhere
        assertTrue(rows(img, x(225, n), x(225, n), Pictures.WARN)[2] > 100, "warned epochs are shaded");
        assertEquals(0, rows(img, x(150, n), x(150, n), Pictures.WARN)[2], "quiet epochs are not");
        assertTrue(rows(img, x(280, n), x(280, n), Pictures.DIVERGE)[2] > 100, "diverging epochs are shaded in their own colour");
        assertEquals(0, rows(img, x(225, n), x(225, n), Pictures.DIVERGE)[2], "and only they");
    }
}
