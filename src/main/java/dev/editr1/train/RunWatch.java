package dev.editr1.train;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import org.bytedeco.javacpp.PointerScope;

import dev.editr1.data.EditItem;
import dev.editr1.model.Adapter;
import dev.editr1.model.Checkpoints;

/**
 * What a person watches while a run lasts, kept out of the trainer's loop: the
 * {@link RunMonitor reward-hacking monitor}, periodic held-out evaluations of the EMA adapter
 * (every {@code evalEvery} epochs, as Edit-R1 evaluates during training; {@code heldout.jsonl}), the
 * {@link TensorBoardWriter TensorBoard event files} ({@code tensorboard/}) and the trend plot
 * ({@code reward_curve.png}, redrawn at every evaluation and checkpoint).
 *
 * <p>The trainer calls {@link #start} once, {@link #epoch} after each epoch (the monitor's fields for
 * metrics.jsonl come back), {@link #afterEpoch} before each checkpoint and {@link #finish} with the
 * final evaluation. In a run of many ranks every rank calls {@link #start} and {@link #afterEpoch}
 * (a held-out evaluation is sharded over the ranks: each evaluates its share, see
 * {@link HeldOutEvaluation}); only the rank that writes the run folder (rank 0) keeps the monitor,
 * logs, and writes heldout.jsonl, the event files and the plot. Everything it writes besides the event files' wall times is a function of the
 * seed; a resumed run rebuilds the monitor and the plot from metrics.jsonl and heldout.jsonl (which
 * the checkpoint's epoch count truncates) and cuts the event files back to the same epoch, so it
 * ends with the files of an uninterrupted run.
 *
 * <p>TensorBoard's step is the number of epochs done: an epoch's scalars (metrics.jsonl's
 * {@code epoch} + 1), a held-out evaluation after that many epochs (0 = the base).
 */
public final class RunWatch implements AutoCloseable {
    static final String HELD_OUT = "heldout.jsonl", TENSORBOARD = "tensorboard";
    private static final int EVAL_BATCH = 64;

    /**
     * How the watch evaluates an adapter on the held-out split: the trainer's evaluation, which every
     * rank of a run must enter together (each samples and judges its share of the tasks, then the
     * results are gathered on every rank).
     */
    @FunctionalInterface
    public interface HeldOutEvaluation {
        /** The adapter's held-out result after {@code epochsDone} epochs. */
        Evaluator.Result evaluate(Adapter adapter, int epochsDone);
    }

    /** One held-out evaluation: after {@code epoch} epochs, of the base (epoch 0) or the EMA adapter. */
    public record HeldOutPoint(int epoch, String adapter, Evaluator.Interval score, Evaluator.Interval quality) {}

    private final RunContext ctx;
    private final TrainConfig cfg;
    private final RunFolder folder;
    private final PrintStream log;
    private final HeldOutEvaluation evaluation;
    private final boolean writes;
    private final RunMonitor monitor;
    private final List<Double> reward = new ArrayList<>(), quality = new ArrayList<>(), drift = new ArrayList<>(),
            spread = new ArrayList<>();
    private final List<HeldOutPoint> heldOut = new ArrayList<>();
    private TensorBoardWriter tb;
    private Evaluator.Result base;
    private int evaluations;
    private double evalSeconds;
    private final long t0 = System.nanoTime();

    public RunWatch(RunContext ctx, RunFolder folder, PrintStream log, HeldOutEvaluation evaluation) {
        this.ctx = ctx;
        this.cfg = ctx.config;
        this.folder = folder;
        this.log = log;
        this.evaluation = evaluation;
        this.writes = folder.writes();
        this.monitor = new RunMonitor(RunMonitor.Thresholds.of(cfg));
    }

    // ---------------------------------------------------------------------------------------------
    // start and resume

    /**
     * Opens the event file; on a fresh run evaluates the base on the held-out split (epoch 0 of the
     * held-out series, reused by the final comparison); on a resumed one restores the monitor, the
     * plot's series and the held-out points from the files, cut back to {@code epochsDone}.
     */
    public void start(int epochsDone) throws IOException {
        if (writes) open(epochsDone);
        if (epochsDone == 0 && cfg.evalEvery > 0) evaluate(0);
    }

    private void open(int epochsDone) throws IOException {
        if (epochsDone > 0) restore(epochsDone);
        else Files.deleteIfExists(folder.file(HELD_OUT));
        if (cfg.tensorboard) {
            Path dir = folder.file(TENSORBOARD);
            if (epochsDone > 0) TensorBoardWriter.truncate(dir, epochsDone);
            tb = TensorBoardWriter.open(dir);
            if (epochsDone > 0) tb.sessionStart(epochsDone + 1);
            log.println("tensorboard: " + tb.file() + " (tensorboard --logdir " + folder.dir().toAbsolutePath().getParent() + ")");
        }
    }

    private void restore(int epochsDone) throws IOException {
        Path metrics = folder.file("metrics.jsonl");
        List<String> lines = Files.exists(metrics) ? Files.readAllLines(metrics) : List.of();
        if (lines.size() != epochsDone)
            log.printf(Locale.ROOT, "warning: metrics.jsonl has %d lines for %d epochs done: the monitor and the plot start from what"
                    + " is there%n", lines.size(), epochsDone);
        for (String l : lines.subList(0, Math.min(epochsDone, lines.size()))) {
            JsonObject o = JsonParser.parseString(l).getAsJsonObject();
            RunMonitor.Signals s = new RunMonitor.Signals(num(o, "drift"), num(o, "group_spread"), num(o, "judge_mass"));
            record(num(o, "reward_mean"), num(o, "true_quality"), s);
        }
        Path ho = folder.file(HELD_OUT);
        if (Files.exists(ho))
            for (String l : Files.readAllLines(ho)) {
                if (l.isBlank()) continue;
                JsonObject o = JsonParser.parseString(l).getAsJsonObject();
                if (o.get("epoch").getAsInt() <= epochsDone)
                    heldOut.add(new HeldOutPoint(o.get("epoch").getAsInt(), o.get("adapter").getAsString(), interval(o, "judge_score"),
                            interval(o, "true_quality")));
            }
        writeHeldOut();
    }

    private static double num(JsonObject o, String key) {
        JsonElement e = o.get(key);
        return e == null || e.isJsonNull() ? Double.NaN : e.getAsDouble();
    }

    private static Evaluator.Interval interval(JsonObject o, String key) {
        JsonObject i = o.getAsJsonObject(key);
        return new Evaluator.Interval(num(i, "mean"), num(i, "ci95_low"), num(i, "ci95_high"), i.get("n").getAsInt());
    }

    private RunMonitor.Verdict record(double r, double q, RunMonitor.Signals s) {
        reward.add(r);
        quality.add(q);
        drift.add(s.drift());
        spread.add(s.groupSpread());
        return monitor.observe(r, s, q);
    }

    // ---------------------------------------------------------------------------------------------
    // per epoch

    /**
     * Records an epoch: the monitor's verdict (logged when it changes), the TensorBoard scalars;
     * returns the verdict's fields for metrics.jsonl (none on a rank that does not write).
     */
    public Map<String, Object> epoch(Trainer.EpochMetrics m) throws IOException {
        if (!writes) return Map.of();
        RunMonitor.Verdict v = record(m.rewardMean(), m.trueQuality(), m.signals());
        String line = monitor.logLine(m.epoch(), v);
        if (line != null) log.println(line);
        Map<String, Object> fields = RunMonitor.fields(v);
        if (tb != null) {
            Map<String, Double> s = new LinkedHashMap<>();
            for (Map.Entry<String, Object> e : m.metrics().entrySet()) {
                if (e.getKey().equals("epoch") || !(e.getValue() instanceof Number n)) continue;
                boolean signal = e.getKey().equals("drift") || e.getKey().equals("group_spread") || e.getKey().equals("judge_mass");
                s.put((signal ? "monitor/" : "train/") + e.getKey(), n.doubleValue());
            }
            s.put("monitor/hacking_warning", v.warns() ? 1.0 : 0.0);
            s.put("monitor/divergence_warning", v.diverges() ? 1.0 : 0.0);
            m.seconds().forEach((k, x) -> s.put("seconds/" + k, x));
            s.put("speed/samples_per_second", m.samplesPerSecond());
            s.put("memory/tensor_mb_peak", m.peakTensorBytes() / 1048576.0);
            tb.scalars(m.epoch() + 1L, s);
        }
        return fields;
    }

    /**
     * After an epoch, before its checkpoint (every rank): the periodic held-out evaluation when due —
     * not after the run's last epoch, which the final evaluation covers — and the plot at evaluations
     * and checkpoints.
     */
    public void afterEpoch(int epochsDone, boolean last) throws IOException {
        boolean due = cfg.evalEvery > 0 && epochsDone % cfg.evalEvery == 0 && !last;
        if (due) evaluate(epochsDone);
        if (writes && (due || epochsDone % cfg.checkpointEvery == 0)) plot();
    }

    /** Seconds this session spent in held-out evaluations before the final one (the trainer keeps them out of training time). */
    public double evaluationSeconds() {
        return evalSeconds;
    }

    private void evaluate(int epochsDone) throws IOException {
        long e0 = System.nanoTime();
        Evaluator.Result r;
        try (PointerScope scope = new PointerScope()) {
            r = evaluation.evaluate(epochsDone == 0 ? Adapter.OFF : Adapter.EMA, epochsDone);
            if (epochsDone == 0) base = r;
            // resumed: the grid's base column (a condition every rank sees alike: the evaluation is collective)
            else if (base == null && cfg.tensorboard) base = evaluation.evaluate(Adapter.OFF, epochsDone);
        }
        double sec = (System.nanoTime() - e0) / 1e9;
        evaluations++;
        evalSeconds += sec;
        if (!writes) return;
        HeldOutPoint p = add(epochsDone, r);
        double wall = (System.nanoTime() - t0) / 1e9;
        log.printf(Locale.ROOT, "held-out after %d epochs (%s, %d tasks): judge %s  true quality %s  [%.1f s; periodic evaluations "
                        + "%.1f s so far, %.1f%% of this session]%n", epochsDone, p.adapter(), r.score().length, p.score(), p.quality(),
                sec, evalSeconds, 100 * evalSeconds / Math.max(1e-9, wall));
        if (tb != null && epochsDone > 0) grid(epochsDone, r);
    }

    private HeldOutPoint add(int epochsDone, Evaluator.Result r) throws IOException {
        HeldOutPoint p = new HeldOutPoint(epochsDone, epochsDone == 0 ? "base" : "ema", r.scoreCi(), r.qualityCi());
        heldOut.removeIf(h -> h.epoch() == epochsDone);
        heldOut.add(p);
        writeHeldOut();
        if (tb != null) {
            Map<String, Double> s = new LinkedHashMap<>();
            put(s, "heldout/judge_score", p.score());
            put(s, "heldout/true_quality", p.quality());
            tb.scalars(epochsDone, s);
        }
        return p;
    }

    private static void put(Map<String, Double> s, String tag, Evaluator.Interval i) {
        s.put(tag, i.mean());
        s.put(tag + "_ci95_low", i.lo());
        s.put(tag + "_ci95_high", i.hi());
    }

    private void grid(int epochsDone, Evaluator.Result current) throws IOException {
        var img = Pictures.gridImage(gridRows(ctx.data, base, current), ctx.data.resolution());
        tb.image(epochsDone, "heldout/grid", Pictures.png(img), img.getWidth(), img.getHeight(), false);
    }

    private void writeHeldOut() throws IOException {
        heldOut.sort((a, b) -> Integer.compare(a.epoch(), b.epoch()));
        StringBuilder sb = new StringBuilder();
        for (HeldOutPoint p : heldOut) {
            JsonObject o = new JsonObject();
            o.addProperty("epoch", p.epoch());
            o.addProperty("adapter", p.adapter());
            o.add("judge_score", ci(p.score()));
            o.add("true_quality", ci(p.quality()));
            sb.append(Choices.gson(false).toJson(o)).append('\n');
        }
        Checkpoints.writeAtomically(folder.file(HELD_OUT), sb.toString());
    }

    static JsonObject ci(Evaluator.Interval i) {
        JsonObject o = new JsonObject();
        o.addProperty("mean", i.mean());
        o.addProperty("ci95_low", i.lo());
        o.addProperty("ci95_high", i.hi());
        o.addProperty("n", i.n());
        return o;
    }

    // ---------------------------------------------------------------------------------------------
    // the end

    /** The base's held-out result when this session evaluated it (the final comparison reuses it), else null. */
    public Evaluator.Result base() {
        return base;
    }

    /**
     * The final evaluation (base and the EMA adapter after all epochs): the last held-out point, the
     * held-out grid (already written to {@code gridFile}) as a TensorBoard image, the plot.
     */
    public void finish(Evaluator.Result baseResult, Evaluator.Result trained, int epochsDone, Path gridFile) throws IOException {
        base = baseResult;
        if (!writes) return;
        if (heldOut.stream().noneMatch(h -> h.epoch() == 0)) add(0, baseResult);
        add(epochsDone, trained);
        if (tb != null && Files.exists(gridFile)) {
            var img = javax.imageio.ImageIO.read(gridFile.toFile());
            tb.image(epochsDone, "heldout/grid", Files.readAllBytes(gridFile), img.getWidth(), img.getHeight(), false);
        }
        plot();
    }

    /**
     * summary.json's account of the watch: {@code periodic_evaluation} (how often, how many in this
     * session — the base's at epoch 0 among them, which the final comparison reuses — their seconds
     * and share of this session's wall time until now) and {@code monitor} (warned epochs, the first;
     * diverged epochs, the first).
     */
    public void describeInto(JsonObject summary) {
        double session = (System.nanoTime() - t0) / 1e9;
        JsonObject o = new JsonObject();
        o.addProperty("every_epochs", cfg.evalEvery);
        o.addProperty("evaluations_this_session", evaluations);
        o.addProperty("seconds", evalSeconds);
        o.addProperty("session_seconds", session);
        o.addProperty("share_of_session", session > 0 ? evalSeconds / session : Double.NaN);
        summary.add("periodic_evaluation", o);
        List<Boolean> w = monitor.warnings();
        JsonObject m = new JsonObject();
        m.addProperty("warned_epochs", w.stream().filter(b -> b).count());
        m.addProperty("first_warning_epoch", w.indexOf(true) + 1);   // 0: never
        List<Boolean> d = monitor.divergences();
        m.addProperty("diverged_epochs", d.stream().filter(b -> b).count());
        m.addProperty("first_divergence_epoch", d.indexOf(true) + 1);   // 0: never
        summary.add("monitor", m);
    }

    /** The trend plot: reward and true quality (raw and smoothed), held-out points with CIs, the monitor's signals and warnings. */
    public void plot() throws IOException {
        Pictures.trend(folder.file("reward_curve.png"), new Pictures.Trend(doubles(reward), doubles(quality), List.copyOf(heldOut),
                booleans(monitor.warnings()), booleans(monitor.divergences()), doubles(drift), doubles(spread), cfg.monitorWindow,
                cfg.evalEvery));
    }

    private static double[] doubles(List<Double> xs) {
        return xs.stream().mapToDouble(Double::doubleValue).toArray();
    }

    private static boolean[] booleans(List<Boolean> xs) {
        boolean[] b = new boolean[xs.size()];
        for (int i = 0; i < b.length; i++) b[i] = xs.get(i);
        return b;
    }

    /** The held-out grid's rows: source, instruction, base, current, target for the first {@value Trainer#PICTURE_ROWS} tasks. */
    static List<Pictures.Row> gridRows(dev.editr1.data.EditDataset data, Evaluator.Result base, Evaluator.Result current) {
        int s = data.resolution(), per = 3 * s * s, rows = Math.min(Trainer.PICTURE_ROWS, data.heldOut().size());
        List<Pictures.Row> r = new ArrayList<>();
        for (int i = 0; i < rows; i++) {
            EditItem task = data.heldOut().get(i);
            float[] b = base == null ? null : Arrays.copyOfRange(base.images(), i * per, (i + 1) * per);
            String note = base == null ? String.format(Locale.ROOT, "judge: %.2f", current.score()[i])
                    : String.format(Locale.ROOT, "judge: base %.2f → trained %.2f", base.score()[i], current.score()[i]);
            r.add(new Pictures.Row(data.source(task), task.prompt(), b, Arrays.copyOfRange(current.images(), i * per, (i + 1) * per),
                    data.target(task), note));
        }
        return r;
    }

    @Override
    public void close() throws IOException {
        if (tb != null) tb.close();
        tb = null;
    }
}
