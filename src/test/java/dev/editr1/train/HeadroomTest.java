package dev.editr1.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.io.PrintStream;
import java.util.List;

import org.junit.jupiter.api.Test;

import dev.editr1.model.Adapter;
import dev.editr1.train.Evaluator.Result;

/** Best-of-K headroom: the per-task reductions by hand, and the evaluator's per-sample noise on the real model. */
class HeadroomTest {
    private static Result result(double[] score, double[] quality) {
        return new Result(score, quality, new float[0]);
    }

    @Test
    void reducesEachTaskOverItsSamples() {
        double nan = Double.NaN;
        // three tasks × three samples; task 2 has no target (quality NaN)
        List<Result> s = List.of(
                result(new double[] {0.9, 0.5, 0.3}, new double[] {0.2, 0.6, nan}),
                result(new double[] {0.1, 0.5, 0.7}, new double[] {0.8, 0.6, nan}),
                result(new double[] {0.4, 0.5, 0.7}, new double[] {0.5, 0.6, nan}));
        Headroom h = Headroom.of(s);
        assertEquals(3, h.tasks());
        assertEquals(3, h.samples());
        // one sample: task means 0.5 and 0.6 (task 2 has no quality); scores 0.4667, 0.5, 0.5667
        assertEquals(0.55, h.oneQuality().mean(), 1e-12);
        assertEquals(2, h.oneQuality().n());
        assertEquals((1.4 / 3 + 0.5 + 1.7 / 3) / 3, h.oneScore().mean(), 1e-12);
        // the oracle takes 0.8 and 0.6
        assertEquals(0.7, h.bestQuality().mean(), 1e-12);
        assertEquals(0.15, h.bestGain().mean(), 1e-12);
        // the judge picks task 0's first sample (score 0.9, quality 0.2) and the first of task 1's equal scores
        assertEquals(0.4, h.judgePickQuality().mean(), 1e-12);
        assertEquals(-0.15, h.judgePickGain().mean(), 1e-12);
        // task 2 is scored (0.7, the first of two), so the pick's score has three tasks
        assertEquals((0.9 + 0.5 + 0.7) / 3, h.judgePickScore().mean(), 1e-12);
        assertEquals(3, h.judgePickScore().n());
        // sd of (0.2, 0.8, 0.5) is 0.3, of task 1's 0; task 2 has none
        assertEquals(0.15, h.spread(), 1e-12);
    }

    @Test
    void aSubsetOfTasksAndMismatchedSamples() {
        List<Result> s = List.of(result(new double[] {0.9, 0.5}, new double[] {0.2, 0.6}),
                result(new double[] {0.1, 0.5}, new double[] {0.8, 0.6}));
        Headroom one = Headroom.of(s, new int[] {0});
        assertEquals(1, one.tasks());
        assertEquals(0.8, one.bestQuality().mean(), 1e-12);
        assertEquals(0.2, one.judgePickQuality().mean(), 1e-12);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Headroom.of(List.of(s.get(0), result(new double[] {0.1}, new double[] {0.1}))));
        assertTrue(e.getMessage().contains("different tasks"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Headroom.of(List.of()));
    }

    /** Sample k of seed s draws the noise of sample 0 of seed s + k; its judge noise is its own. */
    @Test
    void sampleKDrawsTheNoiseOfSeedPlusK() throws Exception {
        TrainConfig c = TrainerTest.small(1);
        try (RunContext ctx = RunContext.open(c, new PrintStream(OutputStream.nullOutputStream()), TrainerTest.OPS, null)) {
            int n = ctx.data.heldOut().size();
            Result s1k1 = new Evaluator(ctx, ctx.judge(), 1).evaluate(Adapter.OFF, 4, 0, n, 1);
            Result s2k0 = new Evaluator(ctx, ctx.judge(), 2).evaluate(Adapter.OFF, 4, 0, n, 0);
            Result s1k0 = new Evaluator(ctx, ctx.judge(), 1).evaluate(Adapter.OFF, 4);
            assertArrayEquals(s2k0.images(), s1k1.images());
            assertArrayEquals(s2k0.quality(), s1k1.quality());
            assertFalse(java.util.Arrays.equals(s2k0.score(), s1k1.score()), "each sample has its own judge noise");
            assertFalse(java.util.Arrays.equals(s1k0.images(), s1k1.images()), "samples differ in their noise");
            Headroom h = Headroom.of(List.of(s1k0, s1k1));
            assertTrue(h.bestQuality().mean() >= h.oneQuality().mean());
            assertThrows(IllegalArgumentException.class, () -> new Evaluator(ctx, ctx.judge(), 1).evaluate(Adapter.OFF, 4, 0, n, -1));
        }
    }
}
