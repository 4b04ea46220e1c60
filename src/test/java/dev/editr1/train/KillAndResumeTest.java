package dev.editr1.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.editr1.testing.ChildJvm;

/**
 * The kill campaign: {@code train} in a child JVM is SIGKILLed at random moments (rollouts,
 * judging, backward, the optimizer step, checkpoint writes — wherever the moment falls) and once,
 * deterministically, halfway through writing a checkpoint; each time it is resumed, until the run
 * completes. The resumed run's adapters, AdamW state and metrics must equal an uninterrupted run's
 * bit for bit, and no kill may lose more than one epoch. {@code -Deditr1.campaign=long} makes it 50
 * kills over a longer run (for a person to run by hand).
 */
class KillAndResumeTest {
    static final boolean LONG = "long".equals(System.getProperty("editr1.campaign"));
    static final Pattern EPOCH = Pattern.compile("(?m)^epoch\\s+(\\d+)/\\d+");

    static TrainConfig config(int epochs) {
        TrainConfig c = TrainerTest.small(epochs);
        c.heldOutTasks = 2;
        c.checkpointEvery = 1;   // at most one epoch of work between checkpoints
        return c;
    }

    static int lastEpochPrinted(String out) {
        Matcher m = EPOCH.matcher(out);
        int last = 0;
        while (m.find()) last = Integer.parseInt(m.group(1));
        return last;
    }

    static int epochsDone(Path dir) throws Exception {
        Path s = dir.resolve("checkpoints/latest/state.json");
        if (!Files.exists(s)) s = dir.resolve("checkpoints/latest.old/state.json");
        if (!Files.exists(s)) return 0;
        return JsonParser.parseString(Files.readString(s)).getAsJsonObject().get("epochs_done").getAsInt();
    }

    @Test
    void killedAnywhereAndResumedEndsBitForBitAsAnUninterruptedRun(@TempDir Path tmp) throws Exception {
        // each killed attempt trains about two epochs (see below), the halted one one
        int kills = LONG ? 50 : 10, epochs = 2 * kills + 8;
        TrainConfig c = config(epochs);
        Path cfg = tmp.resolve("config.json");
        Files.writeString(cfg, c.toJson());

        Path straight = tmp.resolve("straight");
        ChildJvm ref = ChildJvm.start(Map.of(), List.of(), "train", "--config", cfg.toString(), "--out", straight.toString());
        assertEquals(0, ref.waitFor(600), ref.describe());

        Path dir = tmp.resolve("killed");
        SplittableRandom rng = new SplittableRandom(20261130);
        int haltAt = kills / 2;   // this attempt halts inside a checkpoint write instead of being killed from outside
        List<String> table = new ArrayList<>();
        int maxLost = 0, attempts = 0;
        double recoveryTotal = 0;
        for (int k = 0; ; k++) {
            boolean fresh = k == 0;
            int doneBefore = fresh ? 0 : epochsDone(dir);
            List<String> jvm = k == haltAt ? List.of("-Deditr1.inject=halt-in-checkpoint:" + (doneBefore + 2)) : List.of();
            long t0 = System.nanoTime();
            ChildJvm run = fresh ? ChildJvm.start(Map.of(), jvm, "train", "--config", cfg.toString(), "--out", dir.toString())
                    : ChildJvm.start(Map.of(), jvm, "train", "--resume", dir.toString());
            attempts++;
            // wait for the first epoch this attempt trains (recovery time), or the end of the run
            double recovery = Double.NaN;
            while (run.process.isAlive() && lastEpochPrinted(run.out()) <= doneBefore) Thread.sleep(20);
            if (lastEpochPrinted(run.out()) > doneBefore) {
                recovery = (System.nanoTime() - t0) / 1e9;
                recoveryTotal += recovery;
            }
            if (k >= kills || !run.process.isAlive()) {
                int code = run.waitFor(600);
                assertEquals(0, code, run.describe());
                break;
            }
            if (k == haltAt) {   // the halt comes by itself
                int code = run.waitFor(600);
                assertEquals(137, code, run.describe());
                int done = epochsDone(dir);
                assertEquals(doneBefore + 1, done, "the previous checkpoint is whole: " + run.describe());
                assertTrue(run.err().contains("editr1 inject: halt-in-checkpoint"), run.describe());
                table.add(String.format(Locale.ROOT, "halt inside the checkpoint after epoch %d: resumes after epoch %d, lost 1 epoch, "
                        + "recovery %.1f s", doneBefore + 2, done, recovery));
                maxLost = Math.max(maxLost, 1);
                continue;
            }
            // The kill falls at a uniform moment of one epoch cycle (training, its line, its
            // checkpoint), timed on this attempt: a fixed window spans several epochs on a fast
            // machine and the run ends before the campaign has made its kills (a CI run of the
            // two-thread trainer made 8 of 10), and a fresh JVM's first cycle is slower than the
            // uninterrupted run's mean, which would put every kill in the first checkpoint write.
            int first = lastEpochPrinted(run.out());
            long tFirst = System.nanoTime();
            while (run.process.isAlive() && lastEpochPrinted(run.out()) <= first) Thread.sleep(5);
            double cycle = (System.nanoTime() - tFirst) / 1e9;
            if (!run.process.isAlive()) {   // the run ended first; the count below says so
                assertEquals(0, run.waitFor(600), run.describe());
                break;
            }
            Thread.sleep((long) (rng.nextDouble() * cycle * 1000));
            String phase = lastLine(run.out());
            run.process.destroyForcibly();     // SIGKILL
            run.waitFor(60);
            int printed = lastEpochPrinted(run.out()), done = epochsDone(dir);
            int lost = Math.max(0, printed - done);
            maxLost = Math.max(maxLost, lost);
            assertTrue(lost <= 1, "kill " + k + " lost " + lost + " epochs (printed " + printed + ", checkpoint after " + done + ")");
            table.add(String.format(Locale.ROOT, "SIGKILL %d after '%s': checkpoint after epoch %d, lost %d, recovery %.1f s", k, phase,
                    done, lost, recovery));
            if (done >= epochs) break;   // killed after the last checkpoint: the resume below only evaluates
        }
        // a run killed after its last checkpoint: resume finishes it
        if (!Files.exists(dir.resolve("summary.json"))) {
            ChildJvm run = ChildJvm.start(Map.of(), List.of(), "train", "--resume", dir.toString());
            assertEquals(0, run.waitFor(600), run.describe());
        }
        System.out.println("KillAndResumeTest: " + (attempts - 1) + " interruptions, most epochs lost by one: " + maxLost
                + String.format(Locale.ROOT, ", mean time to the first resumed epoch %.1f s", recoveryTotal / Math.max(1, attempts - 1)));
        table.forEach(l -> System.out.println("  " + l));
        assertTrue(attempts - 1 >= kills, "interrupted " + (attempts - 1) + " times, wanted " + kills);

        for (String f : List.of("adapter_policy.safetensors", "adapter_old.safetensors", "adapter_ema.safetensors",
                "optimizer.safetensors"))
            assertArrayEquals(Files.readAllBytes(straight.resolve("checkpoints/latest").resolve(f)),
                    Files.readAllBytes(dir.resolve("checkpoints/latest").resolve(f)), f + " differs from the uninterrupted run's");
        assertEquals(Files.readString(straight.resolve("metrics.jsonl")), Files.readString(dir.resolve("metrics.jsonl")), "metrics.jsonl");
        JsonObject a = JsonParser.parseString(Files.readString(straight.resolve("checkpoints/latest/state.json"))).getAsJsonObject(),
                b = JsonParser.parseString(Files.readString(dir.resolve("checkpoints/latest/state.json"))).getAsJsonObject();
        for (String key : List.of("epochs_done", "optimizer_step", "banned", "reward_curve", "quality_curve"))
            assertEquals(a.get(key), b.get(key), "state.json " + key);
        assertArrayEquals(Files.readAllBytes(straight.resolve("checkpoints/final/adapter_ema.safetensors")),
                Files.readAllBytes(dir.resolve("checkpoints/final/adapter_ema.safetensors")), "the final EMA adapter");
    }

    private static String lastLine(String out) {
        String[] lines = out.strip().split("\n");
        String l = lines[lines.length - 1];
        return l.length() > 60 ? l.substring(0, 60) + "…" : l;
    }
}
