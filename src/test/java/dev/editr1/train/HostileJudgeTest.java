package dev.editr1.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.editr1.cli.TrainCommandTest;
import dev.editr1.kernels.NativeOps;
import dev.editr1.reward.HostileJudgeServer;
import dev.editr1.reward.HostileJudgeServer.Fault;
import dev.editr1.reward.LoopbackJudgeServer;

/**
 * A real training run against a judge that breaks in every way a judge server breaks: the run
 * finishes, what it counts as unscored and low-mass equals what the server broke, nothing is
 * scored by default; a judge that dies stops the run; one that cannot be reached stops it before
 * its first rollout; the API key appears nowhere.
 */
class HostileJudgeTest {
    static final String KEY = System.getenv("EDITR1_TEST_JUDGE_KEY");

    static TrainConfig config(String url, int epochs) {
        TrainConfig c = TrainerTest.small(epochs);
        c.prompts = 4;   // 16 samples an epoch
        c.heldOutTasks = 2;
        c.judge = url;
        c.judgeModel = "judge";
        c.judgeApiKeyEnv = "EDITR1_TEST_JUDGE_KEY";
        c.judgeTimeoutSeconds = 1.5;
        c.judgeRetries = 3;
        c.evalEvery = 0;   // held-out evaluation only after training: every request before it is a training sample's
        return c;
    }

    /** Snapshots the server's counts when the trainer announces the final evaluation (its requests come after). */
    static final class Marker extends PrintStream {
        final Runnable atEvaluation;

        Marker(ByteArrayOutputStream to, Runnable atEvaluation) {
            super(to, true, StandardCharsets.UTF_8);
            this.atEvaluation = atEvaluation;
        }

        @Override
        public void println(String x) {
            if (x != null && x.startsWith("evaluating base and trained")) atEvaluation.run();
            super.println(x);
        }
    }

    @Test
    void aRunSurvivesAHostileJudgeAndCountsExactlyWhatItBroke(@TempDir Path tmp) throws Exception {
        Assumptions.assumeTrue(KEY != null, "surefire sets EDITR1_TEST_JUDGE_KEY");
        try (HostileJudgeServer server = new HostileJudgeServer(1.5)) {
            TrainConfig c = config(server.url(), 4);
            Path dir = tmp.resolve("run");
            ByteArrayOutputStream log = new ByteArrayOutputStream();
            int[] atEval = new int[3];
            Marker out = new Marker(log, () -> {
                atEval[0] = server.count(Fault::unscorable);
                atEval[1] = server.count(f -> f == Fault.LOW_MASS);
                atEval[2] = server.count(f -> true);
            });
            try (RunContext ctx = RunContext.open(c, out, new NativeOps(true), null)) {
                Trainer t = new Trainer(ctx, new RunFolder(dir), out);
                t.setUp(false);
                t.run();
            }
            int unscored = 0, lowMass = 0;
            List<String> lines = Files.readAllLines(dir.resolve("metrics.jsonl"));
            for (String l : lines) {
                JsonObject m = JsonParser.parseString(l).getAsJsonObject();
                unscored += m.get("unscored").getAsInt();
                lowMass += m.get("low_mass").getAsInt();
            }
            int samples = c.epochs * c.prompts * c.groupSize;
            System.out.printf(Locale.ROOT, "HostileJudgeTest: %d training requests, %d broken responses; server: %d unscorable, %d low-mass; "
                    + "metrics.jsonl: %d unscored, %d low-mass%n", atEval[2], server.brokenResponses.get(), atEval[0], atEval[1], unscored,
                    lowMass);
            assertEquals(samples, atEval[2], "one distinct request per training sample");
            assertEquals(atEval[0], unscored, "unscored = what the server made unscorable");
            assertEquals(atEval[1], lowMass, "low-mass = what the server answered with little mass on the score tokens");
            for (Fault f : Fault.values()) assertFalse(server.seen.get(f).isEmpty(), f + " happened");
            String text = log.toString(StandardCharsets.UTF_8);
            assertTrue(text.contains("unscored (excluded from their groups)"), text);
            assertTrue(Files.exists(dir.resolve("summary.json")) && Files.exists(dir.resolve("checkpoints/final/adapter_ema.safetensors")));
            assertKeyNowhere(text, dir);
        }
    }

    @Test
    void aJudgeThatDiesStopsTheRunWithAClearMessage(@TempDir Path tmp) throws Exception {
        Assumptions.assumeTrue(KEY != null, "surefire sets EDITR1_TEST_JUDGE_KEY");
        // the preflight call is answered; every later one fails
        try (LoopbackJudgeServer server = new LoopbackJudgeServer((n, body) -> body.contains("editr1 preflight")
                ? new Object[] {200, LoopbackJudgeServer.byContent(body)} : new Object[] {500, "{\"error\":\"gone\"}"})) {
            TrainConfig c = config(server.url(), 3);
            c.judgeRetries = 0;
            Path file = tmp.resolve("config.json"), dir = tmp.resolve("run");
            Files.writeString(file, c.toJson());
            TrainCommandTest.Out out = TrainCommandTest.run("train", "--config", file.toString(), "--out", dir.toString());
            assertEquals(1, out.code(), out.err());
            assertTrue(out.err().contains("epoch 1: 16 of 16 samples unscored (more than maxUnscoredFraction 0.50), e.g. HTTP 500")
                    && out.err().contains("no checkpoint was written yet"), out.err());
            assertFalse(Files.exists(dir.resolve("metrics.jsonl")), "no epoch was recorded as trained");
            assertKeyNowhere(out.out() + out.err(), dir);
        }
    }

    @Test
    void aJudgeThatCannotBeReachedIsFoundBeforeTheFirstRollout(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("run");
        TrainCommandTest.Out out = TrainCommandTest.run("train", "--judge", "http://127.0.0.1:9/v1", "--judge-model", "x", "--set",
                "epochs=3", "--out", dir.toString());
        assertEquals(1, out.code(), out.err());
        assertTrue(out.err().contains("cannot reach the judge at http://127.0.0.1:9/v1 (model x): connection refused; nothing was trained"),
                out.err());
        assertFalse(out.out().contains("epoch    1/3"), out.out());
        assertFalse(Files.exists(dir.resolve("metrics.jsonl")));
        // the folder holds nothing but the released lock: the same command can run again once the judge is up
        TrainCommandTest.Out again = TrainCommandTest.run("train", "--judge", "http://127.0.0.1:9/v1", "--judge-model", "x", "--set",
                "epochs=3", "--out", dir.toString());
        assertTrue(again.err().contains("cannot reach the judge"), again.err());
    }

    static void assertKeyNowhere(String printed, Path dir) throws Exception {
        assertFalse(printed.contains(KEY), "the key is not in the output");
        try (var files = Files.walk(dir)) {
            for (Path f : files.filter(Files::isRegularFile).toList())
                assertFalse(new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1).contains(KEY), "the key is not in " + f);
        }
    }
}
