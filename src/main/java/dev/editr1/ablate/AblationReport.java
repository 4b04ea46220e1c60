package dev.editr1.ablate;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import dev.editr1.model.Checkpoints;
import dev.editr1.train.Choices;

/**
 * The report of an ablation, from its finished run folders: {@code summary.md} and
 * {@code summary.json} (per variant, mean and 95% CI over seeds of the held-out judge score and true
 * quality of the trained model, their paired gains over the base, the training time to reach the
 * spec's reward, epochs and training seconds) and two PNG plots, {@code reward_vs_seconds.png} and
 * {@code quality_vs_seconds.png} (the training rollouts' judge reward and true quality, moving
 * averages over {@code smooth_epochs} epochs, against training seconds: one thin line per run, one
 * thick line per variant — the mean over its seeds of each run's latest value at that time).
 *
 * <p>Training seconds are the sum of the epochs' {@code seconds.total} in timings.jsonl: rollouts,
 * judging, the loss and the optimizer, not the evaluation or the JVM start. With several runs at
 * once on a small machine they also measure the contention. The curves and the time to reach a
 * reward read the training rollouts: GRPO's are SDE samples, NFT's ODE samples, so those compare
 * within an objective; the held-out columns (ODE samples of the evaluation EMA) compare across.
 */
public final class AblationReport {
    private AblationReport() {}

    /** What the report reads from one finished run. */
    record RunData(String variant, long seed, double baseScore, double trainedScore, double trainedQuality, double scoreGain,
                   double qualityGain, int epochs, double wallSeconds, double[] seconds, double[] reward, double[] quality) {}

    static RunData read(Ablation.Run r) throws IOException {
        JsonObject s = json(r.dir().resolve("summary.json"));
        List<Double> reward = new ArrayList<>(), quality = new ArrayList<>(), sec = new ArrayList<>();
        for (String line : Files.readAllLines(r.dir().resolve("metrics.jsonl"))) {
            if (line.isBlank()) continue;
            JsonObject m = JsonParser.parseString(line).getAsJsonObject();
            reward.add(num(m.get("reward_mean")));
            quality.add(num(m.get("true_quality")));
        }
        double total = 0;
        for (String line : Files.readAllLines(r.dir().resolve("timings.jsonl"))) {
            if (line.isBlank()) continue;
            total += num(JsonParser.parseString(line).getAsJsonObject().getAsJsonObject("seconds").get("total"));
            sec.add(total);
        }
        int n = Math.min(reward.size(), sec.size());
        return new RunData(r.variant().name(), r.seed(), mean(s, "base", "judge_score"), mean(s, "trained", "judge_score"),
                mean(s, "trained", "true_quality"), mean(s, "gain", "judge_score"), mean(s, "gain", "true_quality"),
                s.get("epochs").getAsInt(), num(s.get("wall_seconds")), doubles(sec, n), doubles(reward, n), doubles(quality, n));
    }

    /** A finished run in one line, for the progress log. */
    static String oneLine(Path runDir) {
        try {
            JsonObject s = json(runDir.resolve("summary.json"));
            return String.format(Locale.ROOT, "held-out judge %.4f (gain %+.4f), true quality %.4f (gain %+.4f), %d epochs",
                    mean(s, "trained", "judge_score"), mean(s, "gain", "judge_score"), mean(s, "trained", "true_quality"),
                    mean(s, "gain", "true_quality"), s.get("epochs").getAsInt());
        } catch (IOException | RuntimeException e) {
            return "(summary unreadable: " + e.getMessage() + ")";
        }
    }

    private static JsonObject json(Path f) throws IOException {
        try {
            return JsonParser.parseString(Files.readString(f)).getAsJsonObject();
        } catch (RuntimeException e) {
            throw new IOException(f + " does not parse: " + e.getMessage());
        }
    }

    private static double mean(JsonObject s, String part, String what) {
        return num(s.getAsJsonObject(part).getAsJsonObject(what).get("mean"));
    }

    private static double num(JsonElement e) {
        return e == null || e.isJsonNull() ? Double.NaN : e.getAsDouble();
    }

    private static double[] doubles(List<Double> xs, int n) {
        double[] d = new double[n];
        for (int i = 0; i < n; i++) d[i] = xs.get(i);
        return d;
    }

    /** Trailing moving average over the last min(window, i + 1) values (NaN values skipped). */
    static double[] smooth(double[] x, int window) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double s = 0;
            int n = 0;
            for (int j = Math.max(0, i - window + 1); j <= i; j++)
                if (!Double.isNaN(x[j])) {
                    s += x[j];
                    n++;
                }
            out[i] = n > 0 ? s / n : Double.NaN;
        }
        return out;
    }

    /**
     * The training seconds at the first epoch whose moving-average reward (a full window of
     * {@code window} epochs, or all of them in a shorter run) reaches {@code target}; NaN if never.
     */
    static double timeToReach(RunData d, double target, int window) {
        double[] s = smooth(d.reward(), window);
        int first = Math.min(window, s.length) - 1;
        for (int i = Math.max(0, first); i < s.length; i++)
            if (s[i] >= target) return d.seconds()[i];
        return Double.NaN;
    }

    /** Writes summary.md, summary.json and the plots from the finished runs, and prints the table. */
    public static void write(AblationSpec spec, Ablation ab, PrintStream log) throws IOException {
        Map<String, List<RunData>> byVariant = new LinkedHashMap<>();
        List<String> missing = new ArrayList<>();
        for (AblationSpec.Variant v : spec.variants()) byVariant.put(v.name(), new ArrayList<>());
        for (Ablation.Run r : ab.runs()) {
            if (Files.isRegularFile(r.dir().resolve("summary.json"))) byVariant.get(r.variant().name()).add(read(r));
            else missing.add(r.label());
        }
        boolean reach = !Double.isNaN(spec.reachReward());
        StringBuilder md = new StringBuilder();
        md.append("# Ablation: ").append(spec.variants().size()).append(" variants × ").append(spec.seeds().size())
                .append(" seeds, ").append(spec.describeBudget()).append(" each\n\n");
        md.append("Mean [95% CI over seeds, Student's t]; held-out scores are the trained model's (evaluation EMA), gains are paired "
                + "against the base on the same held-out tasks and noise.\n\n");
        md.append("| variant | runs | held-out judge score | true quality | judge score gain | true quality gain |");
        if (reach) md.append(String.format(Locale.ROOT, " seconds to reward %.3f (reached) |", spec.reachReward()));
        md.append(" epochs | training seconds |\n|---|---|---|---|---|---|");
        if (reach) md.append("---|");
        md.append("---|---|\n");
        JsonObject js = new JsonObject();
        js.add("ablation", spec.toJson());
        JsonObject vs = new JsonObject();
        for (Map.Entry<String, List<RunData>> e : byVariant.entrySet()) {
            List<RunData> ds = e.getValue();
            SeedStats score = stats(ds, RunData::trainedScore), quality = stats(ds, RunData::trainedQuality),
                    sg = stats(ds, RunData::scoreGain), qg = stats(ds, RunData::qualityGain), ep = stats(ds, d -> d.epochs()),
                    sec = stats(ds, d -> d.seconds().length > 0 ? d.seconds()[d.seconds().length - 1] : Double.NaN);
            double[] reachTimes = ds.stream().mapToDouble(d -> timeToReach(d, spec.reachReward(), spec.smoothEpochs())).toArray();
            SeedStats rt = SeedStats.of(reachTimes);
            md.append("| ").append(e.getKey()).append(" | ").append(ds.size()).append(" | ").append(score.format(4, false))
                    .append(" | ").append(quality.format(4, false)).append(" | ").append(sg.format(4, true)).append(" | ")
                    .append(qg.format(4, true)).append(" |");
            if (reach) md.append(" ").append(rt.format(0, false)).append(" (").append(rt.n()).append("/").append(ds.size()).append(") |");
            md.append(" ").append(ep.format(1, false)).append(" | ").append(sec.format(0, false)).append(" |\n");
            JsonObject v = new JsonObject();
            v.addProperty("runs", ds.size());
            JsonArray seeds = new JsonArray();
            ds.forEach(d -> seeds.add(d.seed()));
            v.add("seeds", seeds);
            v.add("heldout_judge_score", json(score));
            v.add("heldout_true_quality", json(quality));
            v.add("judge_score_gain", json(sg));
            v.add("true_quality_gain", json(qg));
            if (reach) {
                JsonObject r = json(rt);
                r.addProperty("reward", spec.reachReward());
                r.addProperty("reached", rt.n());
                v.add("seconds_to_reward", r);
            }
            v.add("epochs", json(ep));
            v.add("training_seconds", json(sec));
            JsonArray per = new JsonArray();
            for (int i = 0; i < ds.size(); i++) {
                RunData d = ds.get(i);
                JsonObject o = new JsonObject();
                o.addProperty("seed", d.seed());
                o.addProperty("heldout_base_judge_score", d.baseScore());
                o.addProperty("heldout_judge_score", d.trainedScore());
                o.addProperty("heldout_true_quality", d.trainedQuality());
                o.addProperty("judge_score_gain", d.scoreGain());
                o.addProperty("true_quality_gain", d.qualityGain());
                o.addProperty("epochs", d.epochs());
                o.addProperty("training_seconds", d.seconds().length > 0 ? d.seconds()[d.seconds().length - 1] : Double.NaN);
                if (reach) o.addProperty("seconds_to_reward", reachTimes[i]);
                per.add(o);
            }
            v.add("per_seed", per);
            vs.add(e.getKey(), v);
        }
        js.add("variants", vs);
        JsonArray miss = new JsonArray();
        missing.forEach(miss::add);
        js.add("unfinished_runs", miss);
        if (!missing.isEmpty()) md.append("\nUnfinished runs (not in the table): ").append(String.join(", ", missing)).append("\n");
        md.append("\nPlots: reward_vs_seconds.png, quality_vs_seconds.png (moving average over ").append(spec.smoothEpochs())
                .append(" epochs of the training rollouts).\n");
        Checkpoints.writeAtomically(ab.out().resolve("summary.md"), md.toString());
        Checkpoints.writeAtomically(ab.out().resolve("summary.json"), Choices.gson(true).toJson(js));
        plot(ab.out().resolve("reward_vs_seconds.png"), "judge reward of the training rollouts", "reward", byVariant, true,
                spec.smoothEpochs());
        plot(ab.out().resolve("quality_vs_seconds.png"), "true quality of the training rollouts", "true quality", byVariant, false,
                spec.smoothEpochs());
        log.println();
        log.print(md);
        log.println("report: " + ab.out().resolve("summary.md") + ", summary.json, reward_vs_seconds.png, quality_vs_seconds.png");
    }

    private static SeedStats stats(List<RunData> ds, java.util.function.ToDoubleFunction<RunData> f) {
        return SeedStats.of(ds.stream().mapToDouble(f).toArray());
    }

    private static JsonObject json(SeedStats s) {
        JsonObject o = new JsonObject();
        o.addProperty("mean", s.mean());
        o.addProperty("ci95_low", s.lo());
        o.addProperty("ci95_high", s.hi());
        o.addProperty("n", s.n());
        return o;
    }

    private static void plot(Path file, String title, String yLabel, Map<String, List<RunData>> byVariant, boolean reward, int window)
            throws IOException {
        List<LinePlot.Series> series = new ArrayList<>();
        int vi = 0;
        for (Map.Entry<String, List<RunData>> e : byVariant.entrySet()) {
            java.awt.Color c = LinePlot.color(vi++);
            List<double[]> ys = new ArrayList<>(), xs = new ArrayList<>();
            double end = 0;
            for (RunData d : e.getValue()) {
                double[] y = smooth(reward ? d.reward() : d.quality(), window);
                series.add(new LinePlot.Series(e.getKey() + " seed " + d.seed(), c, d.seconds(), y, false));
                xs.add(d.seconds());
                ys.add(y);
                if (d.seconds().length > 0) end = Math.max(end, d.seconds()[d.seconds().length - 1]);
            }
            if (xs.isEmpty()) continue;
            // the variant's mean: on a grid of times, each run's latest value at that time, averaged over the runs that have one
            int pts = 200;
            double[] gx = new double[pts], gy = new double[pts];
            for (int k = 0; k < pts; k++) {
                gx[k] = end * (k + 1) / pts;
                double s = 0;
                int n = 0;
                for (int i = 0; i < xs.size(); i++) {
                    double[] x = xs.get(i);
                    int j = -1;
                    while (j + 1 < x.length && x[j + 1] <= gx[k] + 1e-9) j++;
                    if (j >= 0 && !Double.isNaN(ys.get(i)[j])) {
                        s += ys.get(i)[j];
                        n++;
                    }
                }
                gy[k] = n > 0 ? s / n : Double.NaN;
            }
            series.add(new LinePlot.Series(e.getKey() + " (mean of " + xs.size() + ")", c, gx, gy, true));
        }
        LinePlot.write(file, title, "training seconds", yLabel, series);
    }
}
