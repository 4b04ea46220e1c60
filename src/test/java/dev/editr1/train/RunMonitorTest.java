package dev.editr1.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

/**
 * The monitor's rules on synthetic series: a reward-hacking warning needs a rising reward and a signal
 * moving the wrong way; a divergence warning needs the reward to fall by monitorRewardFall.
 */
class RunMonitorTest {
    static final RunMonitor.Thresholds TH = new RunMonitor.Thresholds(10, 0.02, 0.5, 0.5, 0.1, 0.05);

    /** Feeds 40 epochs whose reward and signals go linearly from the first to the second value; returns the last verdict. */
    static RunMonitor.Verdict run(RunMonitor m, double r0, double r1, double d0, double d1, double s0, double s1, double m0,
                                  double m1) {
        RunMonitor.Verdict v = null;
        for (int e = 0; e < 40; e++) {
            double f = e / 39.0;
            v = m.observe(r0 + f * (r1 - r0), new RunMonitor.Signals(d0 + f * (d1 - d0), s0 + f * (s1 - s0), m0 + f * (m1 - m0)),
                    Double.NaN);
        }
        return v;
    }

    @Test
    void quietWhileTheSignalsHold() {
        assertFalse(run(new RunMonitor(TH), 0.50, 0.60, 0.25, 0.25, 0.15, 0.15, 1, 1).warns(), "an honest rise");
        assertFalse(run(new RunMonitor(TH), 0.50, 0.60, 0.25, 0.20, 0.15, 0.12, 1, 0.99).warns(), "signals move the right way or a little");
    }

    @Test
    void quietWhenTheRewardDoesNotRise() {
        assertFalse(run(new RunMonitor(TH), 0.50, 0.505, 0.25, 1.0, 0.15, 0.01, 1, 0.5).warns(),
                "everything moves, but the judge is not being pleased");
    }

    @Test
    void warnsOnDriftSpreadCollapseAndMassLoss() {
        RunMonitor.Verdict drift = run(new RunMonitor(TH), 0.40, 0.55, 0.25, 0.60, 0.15, 0.15, 1, 1);
        assertTrue(drift.warns() && drift.warning().contains("change") && !drift.warning().contains("spread"), drift.warning());
        RunMonitor.Verdict spread = run(new RunMonitor(TH), 0.40, 0.55, 0.25, 0.25, 0.15, 0.03, 1, 1);
        assertTrue(spread.warns() && spread.warning().contains("spread collapsed"), spread.warning());
        RunMonitor.Verdict mass = run(new RunMonitor(TH), 0.40, 0.55, 0.25, 0.25, 0.15, 0.15, 0.95, 0.6);
        assertTrue(mass.warns() && mass.warning().contains("score-token mass"), mass.warning());
        assertTrue(drift.warning().startsWith("reward +0.1"), drift.warning());
    }

    @Test
    void warnsThatTrainingDivergesWhenTheRewardFalls() {
        // the reward (and true quality) fall linearly by 0.33 over 40 epochs: by 0.085 between the two
        // windows at the first verdict (epoch 20), which is past monitorRewardFall (0.05)
        RunMonitor m = new RunMonitor(TH);
        String first = null;
        RunMonitor.Verdict v = null;
        for (int e = 0; e < 40; e++) {
            double f = e / 39.0;
            v = m.observe(0.43 - f * 0.33, new RunMonitor.Signals(0.3 + f * 0.3, 0.15 - f * 0.1, 1), 0.43 - f * 0.35);
            String line = m.logLine(e, v);
            if (first == null) first = line;
        }
        assertTrue(v.diverges() && !v.warns(), "a falling reward is divergence, not hacking: " + v);
        assertNotNull(first, "logged when it starts");
        assertTrue(first.startsWith("warning: training diverges at epoch 20: reward -0.085 since epochs 1–10 (")
                && first.contains("true quality -0.090"), first);
        assertTrue(RunMonitor.fields(v).get("divergence_warning").toString().startsWith("reward -0.2"), RunMonitor.fields(v).toString());
        assertFalse(run(new RunMonitor(TH), 0.50, 0.48, 0.25, 0.25, 0.15, 0.15, 1, 1).diverges(), "a fall below the threshold");
        assertEquals("", RunMonitor.fields(run(new RunMonitor(TH), 0.50, 0.60, 0.25, 0.25, 0.15, 0.15, 1, 1)).get("divergence_warning"));
    }

    /**
     * Two recorded 600-epoch runs of the embedded world (metrics.jsonl's columns, in
     * src/test/resources/dev/editr1/train/monitor/): the README's main job (seed 1), and the same recipe
     * from a weaker base (sft --steps 600, seed 1; experiments/README.md, "A different base"), whose
     * reward held at 0.43–0.45 for 300 epochs and then collapsed to ~0.1. With the default thresholds
     * the monitor must flag the collapse, and only it, and never call either run reward hacking.
     */
    @Test
    void replaysTwoRecordedRuns() throws IOException {
        RunMonitor.Thresholds th = RunMonitor.Thresholds.of(new TrainConfig());
        int[] collapse = replay(th, "base600-seed-1"), mainJob = replay(th, "main-job-seed-1");
        assertEquals(376, collapse[0], "the collapse is flagged when the 50-epoch reward first falls 0.05 below its first window");
        assertEquals(0, collapse[1], "no reward-hacking warning: reward and quality fell together");
        assertEquals(-1, mainJob[0], "the main job never diverges");
        assertEquals(0, mainJob[1], "and is never called hacking");
    }

    /** The first epoch (1-based) whose verdict says training diverges (−1: none), and the epochs that warned of hacking. */
    static int[] replay(RunMonitor.Thresholds th, String name) throws IOException {
        RunMonitor m = new RunMonitor(th);
        int first = -1, hacking = 0;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(
                RunMonitorTest.class.getResourceAsStream("monitor/" + name + ".csv"), StandardCharsets.UTF_8))) {
            r.readLine();   // epoch,reward_mean,drift,group_spread,judge_mass,true_quality
            for (String line; (line = r.readLine()) != null;) {
                String[] f = line.split(",");
                RunMonitor.Verdict v = m.observe(Double.parseDouble(f[1]),
                        new RunMonitor.Signals(Double.parseDouble(f[2]), Double.parseDouble(f[3]), Double.parseDouble(f[4])),
                        Double.parseDouble(f[5]));
                if (v.diverges() && first < 0) first = Integer.parseInt(f[0]) + 1;
                if (v.warns()) hacking++;
            }
        }
        assertEquals(600, m.epochs(), name);
        return new int[] {first, hacking};
    }

    @Test
    void noVerdictBeforeTwoWindows() {
        RunMonitor m = new RunMonitor(TH);
        for (int e = 0; e < 19; e++) {
            RunMonitor.Verdict v = m.observe(e < 10 ? 0.3 : 0.9, new RunMonitor.Signals(e < 10 ? 0.1 : 0.9, 0.1, 1), Double.NaN);
            assertFalse(v.warns());
            assertNull(v.baseline());
        }
        assertTrue(m.observe(0.9, new RunMonitor.Signals(0.9, 0.1, 1), Double.NaN).warns(), "the 20th epoch completes two windows");
    }

    @Test
    void logsWhenAWarningStartsEveryWindowWhileItLastsAndWhenItEnds() {
        RunMonitor m = new RunMonitor(TH);
        int logged = 0;
        String first = null, last = null;
        for (int e = 0; e < 60; e++) {
            boolean hack = e >= 10 && e < 45;
            RunMonitor.Verdict v = m.observe(hack ? 0.7 : 0.5, new RunMonitor.Signals(hack ? 0.6 : 0.2, 0.15, 1), hack ? 0.3 : 0.5);
            String line = m.logLine(e, v);
            if (line != null) {
                logged++;
                if (first == null) first = line;
                last = line;
            }
        }
        assertNotNull(first);
        assertTrue(first.startsWith("warning: possible reward hacking at epoch 20") && first.contains("true quality -0.200"), first);
        assertTrue(last.contains("back within bounds"), last);
        // warned epochs 20..~50: logged at the start, after each further window of 10, and at the end
        assertTrue(logged >= 3 && logged <= 6, "lines " + logged);
        assertEquals(60, m.warnings().size());
    }
}
