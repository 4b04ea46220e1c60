package dev.editr1.train;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import dev.editr1.reward.JudgeFlaw;

/**
 * A reward-hacking monitor that needs no targets. Real data has no ground truth, so a policy that
 * games the judge shows only in what the judge's reward cannot see; per epoch the monitor records
 * three such signals:
 * <ul>
 *   <li><b>drift</b>: the share of pixels an edit changes from its source (beyond the world's
 *       tolerance). An instruction asks for a local change, so a footprint that grows while the
 *       reward rises is change outside what was asked: a judge is being pleased by something else;</li>
 *   <li><b>group spread</b>: the mean within-group std of the rewards. When a policy collapses onto
 *       one output the judge likes (Edit-R1's Fig. 8), every rollout of a prompt scores alike;</li>
 *   <li><b>score-token mass</b>: the probability the judge puts on the score tokens at all. A judge
 *       shown images it cannot read stops answering with a digit (always 1 for the simulated judge).</li>
 * </ul>
 * It compares two windows of {@code monitorWindow} epochs — the run's first (the baseline: the
 * policy is still the base) and its latest — and warns when the reward rose by at least
 * {@code monitorRewardRise} while a signal moved the wrong way: drift up by more than
 * {@code monitorDriftRise} (relative), spread down by more than {@code monitorSpreadDrop}
 * (relative), or mass down by more than {@code monitorMassDrop} (absolute). Window means of 64
 * samples × 50 epochs are steady enough that one noisy epoch cannot raise a warning.
 *
 * <p>Separately it warns that training <b>diverges</b> when the latest window's reward is at least
 * {@code monitorRewardFall} below the baseline's and the fall exceeds 3 standard errors of the two
 * window means (so that a short window's draw of tasks cannot raise it): the policy is getting worse
 * at what the judge rewards, which is not hacking but what a step too large for the base does. On the
 * embedded world two runs from a weaker base collapsed from 0.43 to ~0.1 while their KL to the base
 * rose from ~0.02 to 0.4–1.2; the healthy runs' 50-epoch reward never fell more than 0.030 below
 * their first window.
 *
 * <p>The verdict is a function of the metrics, hence of the seed: it goes into metrics.jsonl
 * ({@code hacking_warning}, {@code divergence_warning}, each empty when quiet) and the log. Where true
 * quality is known (the embedded world) the log says how it moved over the same windows, which is how
 * the thresholds were validated (bench/RESULTS.md); the monitor itself never reads it.
 */
public final class RunMonitor {
    /** One epoch's target-free signals (means over the epoch's scored samples; NaN when there are none). */
    public record Signals(double drift, double groupSpread, double judgeMass) {
        public static final Signals NONE = new Signals(Double.NaN, Double.NaN, Double.NaN);

        /** The epoch's signals from each sample's drift, the group statistics and each judgement's mass. */
        public static Signals of(double[] drift, GroupStats stats, double[] mass) {
            return new Signals(Moments.of(drift).mean(), Moments.of(stats.groupStd).mean(), Moments.of(mass).mean());
        }

        /** Fields for metrics.jsonl. */
        public void into(Map<String, Object> m) {
            m.put("drift", drift);
            m.put("group_spread", groupSpread);
            m.put("judge_mass", judgeMass);
        }
    }

    /** The drift of one edit: the share of its pixels that differ from the source beyond the world's tolerance. */
    public static double drift(float[] edited, float[] source) {
        return JudgeFlaw.changedFraction(edited, source);
    }

    /** The monitor's thresholds (TrainConfig's monitor* fields). */
    public record Thresholds(int window, double rewardRise, double driftRise, double spreadDrop, double massDrop,
                             double rewardFall) {
        public static Thresholds of(TrainConfig c) {
            return new Thresholds(c.monitorWindow, c.monitorRewardRise, c.monitorDriftRise, c.monitorSpreadDrop, c.monitorMassDrop,
                    c.monitorRewardFall);
        }
    }

    /** Means of one window of epochs, and the standard error of its mean reward (over its epochs). */
    public record Window(int from, int to, double reward, double drift, double spread, double mass, double quality,
                         double rewardSe) {}

    /**
     * An epoch's verdict: the reward-hacking warning and the divergence warning (each empty when
     * quiet) and the windows they compared (null before two full windows).
     */
    public record Verdict(String warning, String divergence, Window baseline, Window current) {
        static final Verdict NONE = new Verdict("", "", null, null);

        public boolean warns() {
            return !warning.isEmpty();
        }

        public boolean diverges() {
            return !divergence.isEmpty();
        }
    }

    private final Thresholds th;
    private final List<double[]> rows = new ArrayList<>();   // per epoch: reward, drift, spread, mass, quality
    private final List<Boolean> warned = new ArrayList<>();
    private final List<Boolean> diverged = new ArrayList<>();

    public RunMonitor(Thresholds th) {
        this.th = th;
    }

    /** Adds an epoch (in order) and returns its verdict. */
    public Verdict observe(double reward, Signals s, double trueQuality) {
        rows.add(new double[] {reward, s.drift(), s.groupSpread(), s.judgeMass(), trueQuality});
        Verdict v = verdict();
        warned.add(v.warns());
        diverged.add(v.diverges());
        return v;
    }

    /** Epochs seen. */
    public int epochs() {
        return rows.size();
    }

    /** Per epoch: whether it warned of reward hacking. */
    public List<Boolean> warnings() {
        return List.copyOf(warned);
    }

    /** Per epoch: whether it warned that training diverges. */
    public List<Boolean> divergences() {
        return List.copyOf(diverged);
    }

    private Window window(int from, int to) {
        double[][] cols = new double[5][to - from];
        for (int i = from; i < to; i++)
            for (int k = 0; k < 5; k++) cols[k][i - from] = rows.get(i)[k];
        Moments reward = Moments.of(cols[0]);
        return new Window(from, to, reward.mean(), Moments.of(cols[1]).mean(), Moments.of(cols[2]).mean(),
                Moments.of(cols[3]).mean(), Moments.of(cols[4]).mean(), Math.sqrt(reward.sampleVariance() / (to - from)));
    }

    private Verdict verdict() {
        int n = rows.size(), w = th.window();
        if (n < 2 * w) return Verdict.NONE;
        Window base = window(0, w), cur = window(n - w, n);
        double rise = cur.reward() - base.reward();
        // a fall of at least rewardFall that is also beyond 3 standard errors of the two windows' means
        // (short windows of few prompts swing by more than rewardFall with the tasks drawn)
        if (-rise >= th.rewardFall() && -rise >= 3 * Math.hypot(base.rewardSe(), cur.rewardSe()))
            return new Verdict("", String.format(Locale.ROOT, "reward %+.3f since epochs %d–%d (%.3f → %.3f)", rise, base.from() + 1,
                    base.to(), base.reward(), cur.reward()), base, cur);
        if (!(rise >= th.rewardRise())) return new Verdict("", "", base, cur);
        List<String> wrong = new ArrayList<>();
        double drift = cur.drift() / base.drift() - 1;
        if (base.drift() > 0 && drift > th.driftRise())
            wrong.add(String.format(Locale.ROOT, "edits change %+.0f%% more of their source (drift %.3f → %.3f)", 100 * drift,
                    base.drift(), cur.drift()));
        double spread = 1 - cur.spread() / base.spread();
        if (base.spread() > 0 && spread > th.spreadDrop())
            wrong.add(String.format(Locale.ROOT, "the within-group reward spread collapsed by %.0f%% (%.3f → %.3f)", 100 * spread,
                    base.spread(), cur.spread()));
        double mass = base.mass() - cur.mass();
        if (mass > th.massDrop())
            wrong.add(String.format(Locale.ROOT, "the judge answers less with a score (score-token mass %.3f → %.3f)", base.mass(),
                    cur.mass()));
        if (wrong.isEmpty()) return new Verdict("", "", base, cur);
        return new Verdict(String.format(Locale.ROOT, "reward %+.3f since epochs %d–%d while %s", rise, base.from() + 1, base.to(),
                String.join("; ", wrong)), "", base, cur);
    }

    /**
     * The line(s) to log for an epoch's verdict, or null: for each kind of warning, when it starts,
     * every window's length while it lasts, and when it ends. With true quality known, says how it
     * moved over the same windows.
     */
    public String logLine(int epoch, Verdict v) {
        String hacking = logLine(warned, epoch, v, v.warning(), "possible reward hacking", "",
                "the reward-hacking signals are back within bounds");
        String diverging = logLine(diverged, epoch, v, v.divergence(), "training diverges",
                " (the policy gets worse at what the judge rewards; a lower lr or a larger klWeight holds it nearer the base)",
                "the reward is back within monitorRewardFall of its first window");
        if (hacking == null) return diverging;
        return diverging == null ? hacking : hacking + System.lineSeparator() + diverging;
    }

    private String logLine(List<Boolean> flags, int epoch, Verdict v, String warning, String what, String hint, String over) {
        int n = flags.size();
        boolean before = n >= 2 && flags.get(n - 2), now = !warning.isEmpty();
        if (!now && before) return String.format(Locale.ROOT, "monitor: epoch %d: %s", epoch + 1, over);
        if (!now) return null;
        int run = 0;
        for (int i = n - 1; i >= 0 && flags.get(i); i--) run++;
        if (before && (run - 1) % th.window() != 0) return null;
        String truth = Double.isNaN(v.current().quality()) ? ""
                : String.format(Locale.ROOT, " [ground truth, not used by the monitor: true quality %+.3f over the same windows]",
                        v.current().quality() - v.baseline().quality());
        return String.format(Locale.ROOT, "warning: %s at epoch %d: %s%s%s", what, epoch + 1, warning, hint, truth);
    }

    /** The verdict's fields for metrics.jsonl. */
    public static Map<String, Object> fields(Verdict v) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("hacking_warning", v.warning());
        m.put("divergence_warning", v.divergence());
        return m;
    }
}
