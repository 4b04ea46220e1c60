package dev.editr1.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import javax.imageio.ImageIO;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.protobuf.ByteString;
import com.google.protobuf.DynamicMessage;

/** A short run's watch outputs: event files read back independently, held-out series, plot, and the same files after a resume. */
class RunWatchTest {
    static TrainConfig small(int epochs) {
        TrainConfig c = TrainerTest.small(epochs);
        c.evalEvery = 2;
        c.monitorWindow = 1;
        return c;
    }

    /** (step, tag) → value of every scalar in a run's event files, in file order (a later value at a step replaces an earlier one). */
    static Map<String, Float> scalars(Path run) throws IOException {
        Map<String, Float> out = new TreeMap<>();
        for (Path f : EventFiles.files(run.resolve("tensorboard")))
            for (EventFiles.Event e : EventFiles.read(f))
                for (DynamicMessage v : e.values())
                    if (EventFiles.isScalar(v)) out.put(String.format("%05d %s", e.step(), EventFiles.tag(v)), EventFiles.scalar(v));
        return out;
    }

    static List<JsonObject> lines(Path file) throws IOException {
        List<JsonObject> out = new ArrayList<>();
        for (String l : Files.readAllLines(file)) out.add(JsonParser.parseString(l).getAsJsonObject());
        return out;
    }

    @Test
    void eventFilesHoldTheMetricsTheHeldOutSeriesAndTheGrid(@TempDir Path tmp) throws Exception {
        Path run = tmp.resolve("run");
        TrainerTest.run(small(4), run, false);
        List<Path> files = EventFiles.files(run.resolve("tensorboard"));
        assertEquals(1, files.size());
        List<EventFiles.Event> ev = EventFiles.read(files.get(0));
        assertEquals(TensorBoardWriter.FILE_VERSION, ev.get(0).fileVersion(), "the first record is the file_version event");

        // every number of metrics.jsonl is a scalar at step epoch + 1, under train/ (monitor/ for the monitor's signals)
        Map<String, Float> sc = scalars(run);
        List<JsonObject> metrics = lines(run.resolve("metrics.jsonl"));
        assertEquals(4, metrics.size());
        for (JsonObject m : metrics) {
            int step = m.get("epoch").getAsInt() + 1;
            for (String k : List.of("reward_mean", "true_quality", "loss", "kl", "grad_norm", "filtered_fraction", "unscored", "step"))
                assertEquals(f32(m.get(k)), sc.get(String.format("%05d train/%s", step, k)), k + " at step " + step);
            for (String k : List.of("drift", "group_spread", "judge_mass"))
                assertEquals(f32(m.get(k)), sc.get(String.format("%05d monitor/%s", step, k)), k + " at step " + step);
            assertEquals(m.get("hacking_warning").getAsString().isEmpty() ? 0f : 1f, sc.get(String.format("%05d monitor/hacking_warning", step)));
        }
        // phase seconds from timings.jsonl
        for (JsonObject t : lines(run.resolve("timings.jsonl"))) {
            int step = t.get("epoch").getAsInt() + 1;
            for (String phase : List.of("rollout", "judge_wait", "advantages", "loss", "backward", "optimizer", "total"))
                assertEquals(f32(t.getAsJsonObject("seconds").get(phase)), sc.get(String.format("%05d seconds/%s", step, phase)),
                        phase);
        }
        // held-out after 0 (base), 2 (periodic, EMA) and 4 epochs (the final evaluation)
        List<JsonObject> held = lines(run.resolve(RunWatch.HELD_OUT));
        assertEquals(List.of(0, 2, 4), held.stream().map(o -> o.get("epoch").getAsInt()).toList());
        for (JsonObject h : held)
            for (String k : List.of("judge_score", "true_quality")) {
                JsonObject ci = h.getAsJsonObject(k);
                int step = h.get("epoch").getAsInt();
                assertEquals(f32(ci.get("mean")), sc.get(String.format("%05d heldout/%s", step, k)));
                assertEquals(f32(ci.get("ci95_low")), sc.get(String.format("%05d heldout/%s_ci95_low", step, k)));
                assertEquals(f32(ci.get("ci95_high")), sc.get(String.format("%05d heldout/%s_ci95_high", step, k)));
            }
        JsonObject summary = JsonParser.parseString(Files.readString(run.resolve("summary.json"))).getAsJsonObject();
        assertEquals(held.get(2).getAsJsonObject("judge_score").get("mean").getAsDouble(),
                summary.getAsJsonObject("trained").getAsJsonObject("judge_score").get("mean").getAsDouble(), "the last point is the final EMA");
        assertEquals(held.get(0).getAsJsonObject("judge_score").get("mean").getAsDouble(),
                summary.getAsJsonObject("base").getAsJsonObject("judge_score").get("mean").getAsDouble(), "the first point is the base");
        assertEquals(2, summary.getAsJsonObject("periodic_evaluation").get("evaluations_this_session").getAsInt(),
                "the base and the periodic evaluation after 2 epochs");

        // the held-out grid: at the periodic evaluation, and the final one equal to heldout_grid.png
        List<long[]> steps = new ArrayList<>();
        byte[] last = null;
        for (EventFiles.Event e : ev)
            for (DynamicMessage v : e.values()) {
                DynamicMessage im = EventFiles.image(v);
                if (im == null) continue;
                assertEquals("heldout/grid", EventFiles.tag(v));
                last = ((ByteString) EventFiles.imageField(im, "encoded_image_string")).toByteArray();
                BufferedImage img = ImageIO.read(new ByteArrayInputStream(last));
                assertEquals(img.getWidth(), EventFiles.imageField(im, "width"));
                assertEquals(img.getHeight(), EventFiles.imageField(im, "height"));
                steps.add(new long[] {e.step()});
            }
        assertEquals(List.of(2L, 4L), steps.stream().map(s -> s[0]).toList());
        assertArrayEquals(Files.readAllBytes(run.resolve("heldout_grid.png")), last);

        BufferedImage plot = ImageIO.read(run.resolve("reward_curve.png").toFile());
        assertNotNull(plot, "reward_curve.png is a PNG");
        assertEquals(960, plot.getWidth());
    }

    /** An epoch's metrics with the given reward and drift (everything else fixed). */
    static Trainer.EpochMetrics metrics(int epoch, double reward, double drift) {
        return new Trainer.EpochMetrics(epoch, epoch + 1, reward, 0.1, 0.5, 0.25, 32, 0, 0, 0.7, 1e-4, 0.3, 0.9, false,
                Map.of("rollout", 1.0, "total", 2.0), 16, Collective.ReduceStats.NONE, 0, 0, new RunMonitor.Signals(drift, 0.15, 1));
    }

    /** A held-out result whose scores say when it was made (images: grey canvases, enough for the grid). */
    static Evaluator.Result heldOut(RunContext ctx, int epochsDone) {
        int n = ctx.data.heldOut().size(), px = 3 * ctx.data.resolution() * ctx.data.resolution();
        double[] score = new double[n], quality = new double[n];
        java.util.Arrays.fill(score, 0.5 + 0.01 * epochsDone);
        java.util.Arrays.fill(quality, 0.4 + 0.01 * epochsDone);
        return new Evaluator.Result(score, quality, new float[Math.min(n, Trainer.PICTURE_ROWS) * px]);
    }

    @Test
    void everyRankEvaluatesButOnlyTheWritingRankWrites(@TempDir Path tmp) throws Exception {
        TrainConfig c = small(4);
        PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
        try (RunContext ctx = RunContext.open(c, quiet, TrainerTest.OPS, null)) {
            for (int rank : new int[] {1, 0}) {
                Path dir = tmp.resolve("rank" + rank);
                List<String> calls = new ArrayList<>();
                List<Map<String, Object>> fields = new ArrayList<>();
                RunWatch.HeldOutEvaluation ev = (adapter, done) -> {
                    calls.add(adapter + "@" + done);
                    return heldOut(ctx, done);
                };
                try (RunWatch w = new RunWatch(ctx, RunFolder.forRank(dir, rank), quiet, ev)) {
                    w.start(0);
                    // the reward rises from epoch 2 while edits change twice as much of their source: the monitor warns
                    for (int e = 0; e < 4; e++) {
                        fields.add(w.epoch(metrics(e, e == 0 ? 0.5 : 0.6, e == 0 ? 0.2 : 0.4)));
                        w.afterEpoch(e + 1, e + 1 == 4);
                    }
                    if (rank == 0) w.finish(heldOut(ctx, 0), heldOut(ctx, 4), 4, dir.resolve("heldout_grid.png"));
                }
                assertEquals(List.of("OFF@0", "EMA@2"), calls, "rank " + rank + " takes part in every held-out evaluation");
                if (rank == 1) {
                    assertTrue(!Files.exists(dir), "rank 1 writes nothing");
                    assertTrue(fields.stream().allMatch(Map::isEmpty), "and adds nothing to metrics.jsonl");
                    continue;
                }
                assertEquals("", fields.get(0).get("hacking_warning"));
                assertTrue(((String) fields.get(1).get("hacking_warning")).contains("more of their source"), fields.get(1).toString());
                List<JsonObject> held = lines(dir.resolve(RunWatch.HELD_OUT));
                assertEquals(List.of(0, 2, 4), held.stream().map(o -> o.get("epoch").getAsInt()).toList());
                assertEquals(0.52f, f32(held.get(1).getAsJsonObject("judge_score").get("mean")));
                Map<String, Float> sc = scalars(dir);
                assertEquals(0f, sc.get("00001 monitor/hacking_warning"));
                assertEquals(1f, sc.get("00002 monitor/hacking_warning"));
                assertEquals(0.54f, sc.get("00004 heldout/judge_score"));
                assertNotNull(ImageIO.read(dir.resolve("reward_curve.png").toFile()));
            }
        }
    }

    /** A log that throws once it has printed marker: the run stops there as if the process died. */
    static PrintStream crashingAt(String marker) {
        return new PrintStream(new OutputStream() {
            final StringBuilder text = new StringBuilder();

            @Override
            public void write(int b) {
                text.append((char) b);
                if (text.indexOf(marker) >= 0) throw new IllegalStateException("simulated crash at '" + marker + "'");
            }
        });
    }

    @Test
    void aRunResumedAfterACrashWritesTheSameFiles(@TempDir Path tmp) throws Exception {
        TrainerTest.run(small(4), tmp.resolve("straight"), false);
        // the crash comes after epoch 3's metrics and scalars were written, the last checkpoint being epoch 2's
        Path crashed = tmp.resolve("crashed");
        try (RunContext ctx = RunContext.open(small(4), new PrintStream(OutputStream.nullOutputStream()), TrainerTest.OPS, null)) {
            Trainer t = new Trainer(ctx, new RunFolder(crashed), crashingAt("epoch    3/4"));
            t.setUp(false);
            assertThrows(IllegalStateException.class, t::run);
        }
        assertEquals(3, Files.readAllLines(crashed.resolve("metrics.jsonl")).size());
        TrainerTest.run(small(4), crashed, true);
        for (String f : List.of("metrics.jsonl", RunWatch.HELD_OUT))
            assertEquals(Files.readString(tmp.resolve("straight/" + f)), Files.readString(crashed.resolve(f)), f);
        Map<String, Float> a = scalars(tmp.resolve("straight")), b = scalars(crashed);
        a.keySet().removeIf(RunWatchTest::wallClock);
        b.keySet().removeIf(RunWatchTest::wallClock);
        assertEquals(a, b, "the same scalars at the same steps");
        List<Path> files = EventFiles.files(crashed.resolve("tensorboard"));
        assertEquals(2, files.size(), "the resumed session writes its own event file");
        List<EventFiles.Event> first = EventFiles.read(files.get(0)), second = EventFiles.read(files.get(1));
        assertTrue(first.stream().allMatch(e -> e.step() <= 2), "the first file was cut back to the checkpoint");
        assertEquals(TensorBoardWriter.FILE_VERSION, second.get(0).fileVersion());
        assertEquals(TensorBoardWriter.SESSION_START, second.get(1).sessionStatus());
        assertEquals(3, second.get(1).step());
    }

    /** A metrics number as an event file holds it: the double rounded once to float (parsing the decimal as a float may round differently). */
    static float f32(com.google.gson.JsonElement e) {
        return (float) e.getAsDouble();
    }

    static boolean wallClock(String key) {
        return key.contains(" seconds/") || key.contains(" speed/") || key.contains(" memory/");
    }
}
