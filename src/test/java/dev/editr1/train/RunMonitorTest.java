package dev.editr1.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The monitor's rule on synthetic series: a warning needs a rising reward and a signal moving the wrong way. */
class RunMonitorTest {
    static final RunMonitor.Thresholds TH = new RunMonitor.Thresholds(10, 0.02, 0.5, 0.5, 0.1);

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
