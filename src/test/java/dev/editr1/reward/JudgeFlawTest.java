package dev.editr1.reward;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

import dev.editr1.data.EditItem;
import dev.editr1.kernels.NativeOps;
import dev.editr1.world.EmbeddedDataset;
import dev.editr1.world.Quality;

/** The biased simulated judge: its view is (1 − b)·q₀ + b·appeal; with b = 0 it is the plain judge, bit for bit. */
class JudgeFlawTest {
    static final NativeOps OPS = new NativeOps(true);

    @Test
    void appeals() {
        int n = 4;
        float[] grey = new float[3 * n], red = new float[3 * n];
        for (int i = 0; i < n; i++) {
            red[i] = 1;
            red[n + i] = -1;
            red[2 * n + i] = -1;
        }
        assertEquals(0, JudgeFlaw.chroma(grey));
        assertEquals(1, JudgeFlaw.chroma(red));
        float[] half = grey.clone();
        half[0] = 0.3f;        // pixel 0 beyond the tolerance on red
        half[2 * n + 1] = 0.2f; // pixel 1 within it
        assertEquals(0.25, JudgeFlaw.changedFraction(half, grey));
        assertEquals(0.25, JudgeFlaw.CHANGE.appeal(half, grey));
        assertEquals(0.75, JudgeFlaw.SOURCE.appeal(half, grey));
    }

    static List<JudgeRequest> requests(int count) {
        EmbeddedDataset w = new EmbeddedDataset(2026, 40, 8, 18);
        List<JudgeRequest> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            EditItem it = w.train().get(i);
            float[] src = w.source(it), tgt = w.target(it), edited = (i % 2 == 0 ? tgt : src).clone();
            if (i % 3 == 0) for (int k = 0; k < edited.length; k += 7) edited[k] = -edited[k];   // some damage
            out.add(new JudgeRequest(i, src, edited, it.prompt(), it.requirement(), tgt));
        }
        return out;
    }

    @Test
    void anUnbiasedJudgeIsThePlainJudge() {
        List<JudgeRequest> req = requests(12);
        try (SimulatedJudge plain = new SimulatedJudge(OPS, 5, 0.05, 1.0);
             SimulatedJudge none = new SimulatedJudge(OPS, 5, 0.05, 1.0, JudgeFlaw.CHANGE, 0)) {
            List<Judgement> a = plain.rate(req), b = none.rate(req);
            for (int i = 0; i < req.size(); i++) assertEquals(a.get(i).score(), b.get(i).score(), "request " + i);
        }
    }

    @Test
    void aBiasedJudgeSeesTheMixture() {
        List<JudgeRequest> req = requests(12);
        for (JudgeFlaw f : new JudgeFlaw[] {JudgeFlaw.VIVID, JudgeFlaw.CHANGE, JudgeFlaw.SOURCE})
            try (SimulatedJudge j = new SimulatedJudge(OPS, 5, 0, 1.0, f, 0.4)) {
                for (JudgeRequest r : req) {
                    double q0 = Quality.of(r.edited(), r.source(), r.target());
                    assertEquals(0.6 * q0 + 0.4 * f.appeal(r.edited(), r.source()), j.view(r), 1e-12, f + " request " + r.id());
                }
                assertTrue(j.describe().contains("biased"), j.describe());
            }
        assertThrows(IllegalArgumentException.class, () -> new SimulatedJudge(OPS, 5, 0, 1.0, JudgeFlaw.NONE, 0.3));
        assertThrows(IllegalArgumentException.class, () -> new SimulatedJudge(OPS, 5, 0, 1.0, JudgeFlaw.CHANGE, 1.0));
    }
}
