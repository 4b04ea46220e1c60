package dev.editr1.train;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.google.gson.JsonParser;

import dev.editr1.kernels.NativeOps;
import dev.editr1.reward.LoopbackJudgeServer;

/** The trainer with an HTTP judge on loopback: failures are excluded and counted, the key stays secret. */
class TrainerHttpJudgeTest {
    static final String KEY = System.getenv("EDITR1_TEST_JUDGE_KEY");

    @Test
    void unscoredSamplesAreCountedAndTheKeyIsNeverWritten(@TempDir Path tmp) throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(KEY != null, "surefire sets EDITR1_TEST_JUDGE_KEY");
        // every other call fails with a client error (not retried): half the samples come back unscored
        try (LoopbackJudgeServer server = new LoopbackJudgeServer(
                n -> n % 2 == 0 ? new Object[] {200, LoopbackJudgeServer.normal()} : new Object[] {400, "{\"error\":\"nope\"}"})) {
            TrainConfig c = TrainerTest.small(2);
            c.judge = server.url();
            c.judgeModel = "judge";
            c.judgeApiKeyEnv = "EDITR1_TEST_JUDGE_KEY";
            c.judgeRetries = 0;
            ByteArrayOutputStream log = new ByteArrayOutputStream();
            Path dir = tmp.resolve("run");
            PrintStream logOut = new PrintStream(log, true, StandardCharsets.UTF_8);
            try (RunContext ctx = RunContext.open(c, logOut, new NativeOps(true), null)) {
                Trainer t = new Trainer(ctx, new RunFolder(dir), logOut);
                t.setUp(false);
                t.run();
            }
            List<String> lines = Files.readAllLines(dir.resolve("metrics.jsonl"));
            int unscored = 0;
            for (String l : lines) unscored += JsonParser.parseString(l).getAsJsonObject().get("unscored").getAsInt();
            int samples = c.epochs * c.prompts * c.groupSize;
            assertTrue(unscored > 0 && unscored < samples, "unscored " + unscored + " of " + samples);
            String out = log.toString(StandardCharsets.UTF_8);
            assertTrue(out.contains("unscored (excluded from their groups)") && out.contains("HTTP 400"), out);
            assertTrue(server.authorization.contains("Bearer " + KEY), "the key reaches the server");
            assertFalse(out.contains(KEY), "the key is not in the log");
            try (var files = Files.walk(dir)) {
                for (Path f : files.filter(Files::isRegularFile).toList()) {
                    String text = new String(Files.readAllBytes(f), StandardCharsets.ISO_8859_1);
                    assertFalse(text.contains(KEY), "the key is not in " + f);
                }
            }
            assertTrue(Files.readString(dir.resolve("config.json")).contains("\"judgeApiKeyEnv\": \"EDITR1_TEST_JUDGE_KEY\""));
        }
    }
}
