package dev.editr1.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.editr1.cli.TrainCommandTest;
import dev.editr1.model.Safetensors;
import dev.editr1.testing.ChildJvm;

/**
 * Checkpoints and run folders under damage: a checkpoint file flipped, truncated or missing is
 * refused on resume naming the file (its manifest's SHA-256 and size); metrics.jsonl or config.json
 * cut short likewise; a folder another process trains into is refused; a non-finite step is
 * skipped and counted, and too many in a row stop the run with its last checkpoint intact.
 */
class CheckpointSafetyTest {
    static TrainConfig config(int epochs) {
        TrainConfig c = TrainerTest.small(epochs);
        c.heldOutTasks = 2;
        c.checkpointEvery = 1;
        return c;
    }

    static IOException resumeFails(TrainConfig c, Path dir) {
        return assertThrows(IOException.class, () -> TrainerTest.run(c, dir, true));
    }

    @Test
    void aDamagedCheckpointIsRefusedNamingTheFileAndARepairedOneResumes(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("run");
        TrainerTest.run(config(2), dir, false);
        Path latest = dir.resolve("checkpoints/latest");
        assertTrue(Files.exists(latest.resolve(RunFolder.MANIFEST)));
        Path ema = latest.resolve("adapter_ema.safetensors"), opt = latest.resolve("optimizer.safetensors");
        byte[] emaBytes = Files.readAllBytes(ema), optBytes = Files.readAllBytes(opt);

        byte[] flipped = emaBytes.clone();
        flipped[flipped.length - 3] ^= 0x10;   // one bit of one weight
        Files.write(ema, flipped);
        String m = resumeFails(config(3), dir).getMessage();
        assertTrue(m.contains(ema.toString()) && m.contains("does not match its SHA-256"), m);
        Files.write(ema, emaBytes);

        Files.write(opt, java.util.Arrays.copyOf(optBytes, optBytes.length / 2));   // truncated body
        m = resumeFails(config(3), dir).getMessage();
        assertTrue(m.contains(opt.toString()) && m.contains("bytes, its manifest says " + optBytes.length), m);
        Files.delete(opt);
        m = resumeFails(config(3), dir).getMessage();
        assertTrue(m.contains(opt.toString()) && m.contains("is missing"), m);
        Files.write(opt, optBytes);

        Path metrics = dir.resolve("metrics.jsonl");
        String lines = Files.readString(metrics);
        Files.writeString(metrics, lines.substring(0, lines.indexOf('\n') + 10));   // the second line cut short
        m = resumeFails(config(3), dir).getMessage();
        assertTrue(m.contains(metrics.toString()) && m.contains("line 2 is not a JSON object"), m);
        Files.writeString(metrics, lines.substring(0, lines.indexOf('\n') + 1));     // a whole line missing
        m = resumeFails(config(3), dir).getMessage();
        assertTrue(m.contains(metrics.toString()) && m.contains("has 1 lines but the checkpoint is after epoch 2"), m);
        Files.writeString(metrics, lines);

        // repaired by hand: the resume goes on, and nothing of the user's was changed by the failures
        TrainerTest.run(config(3), dir, true);
        assertEquals(3, Files.readAllLines(metrics).size());
    }

    @Test
    void aConfigCutShortIsNamedAndNothingIsWritten(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("run");
        TrainerTest.run(config(1), dir, false);
        Path cfg = dir.resolve("config.json");
        String json = Files.readString(cfg);
        Files.writeString(cfg, json.substring(0, json.length() / 2));
        String metricsBefore = Files.readString(dir.resolve("metrics.jsonl"));
        TrainCommandTest.Out out = TrainCommandTest.run("train", "--resume", dir.toString());
        assertEquals(1, out.code(), out.err());
        assertTrue(out.err().contains("cannot resume: " + cfg) && out.err().contains("does not parse"), out.err());
        assertEquals(metricsBefore, Files.readString(dir.resolve("metrics.jsonl")));
    }

    @Test
    void aFolderAnotherRunTrainsIntoIsRefused(@TempDir Path tmp) throws Exception {
        TrainConfig c = config(400);   // long enough to be running while this test knocks
        Path file = tmp.resolve("config.json"), dir = tmp.resolve("run");
        Files.writeString(file, c.toJson());
        ChildJvm other = ChildJvm.start(Map.of(), List.of(), "train", "--config", file.toString(), "--out", dir.toString());
        try {
            long end = System.nanoTime() + 120_000_000_000L;
            while (!other.out().contains("epoch    1/400") && other.process.isAlive() && System.nanoTime() < end) Thread.sleep(50);
            assertTrue(other.process.isAlive(), other.describe());
            String metricsBefore = Files.readString(dir.resolve("metrics.jsonl"));
            TrainCommandTest.Out out = TrainCommandTest.run("train", "--resume", dir.toString());
            assertEquals(1, out.code(), out.err());
            assertTrue(out.err().contains("run folder " + dir + " is in use by another editr1 run (pid " + other.process.pid() + ")"),
                    out.err());
            assertTrue(Files.readString(dir.resolve("metrics.jsonl")).startsWith(metricsBefore), "the running run's metrics untouched");
        } finally {
            other.process.destroyForcibly();
            other.waitFor(60);
        }
        // the killer's lock died with it: the folder can be resumed now
        assertTrue(Files.exists(dir.resolve(RunFolder.LOCK_FILE)));
        new RunFolder(dir).lock();   // would throw if a lock were still held
    }

    @Test
    void aNonFiniteStepIsSkippedAndCountedAndTooManyStopTheRun(@TempDir Path tmp) throws Exception {
        Path clean = tmp.resolve("clean"), one = tmp.resolve("one"), many = tmp.resolve("many");
        TrainerTest.run(config(4), clean, false);
        String prop = System.getProperty("editr1.inject");
        try {
            System.setProperty("editr1.inject", "nan-grad:2");
            TrainerTest.run(config(4), one, false);
            List<String> lines = Files.readAllLines(one.resolve("metrics.jsonl"));
            JsonObject e2 = JsonParser.parseString(lines.get(1)).getAsJsonObject(), e3 = JsonParser.parseString(lines.get(2)).getAsJsonObject();
            assertEquals(1, e2.get("skipped_step").getAsInt());
            assertTrue(Double.isNaN(e2.get("grad_norm").getAsDouble()), lines.get(1));
            assertEquals(1, e2.get("step").getAsInt(), "epoch 2 did not step");
            assertEquals(0, e3.get("skipped_step").getAsInt());
            assertEquals(2, e3.get("step").getAsInt());
            Map<String, org.bytedeco.pytorch.Tensor> w = Safetensors.read(one.resolve("checkpoints/latest/adapter_policy.safetensors")).tensors();
            for (var t : w.values())
                for (float x : dev.editr1.kernels.Tensors.toFloats(t)) assertTrue(Float.isFinite(x), "the adapter stays finite");
            assertNotEquals(Files.readString(clean.resolve("metrics.jsonl")), Files.readString(one.resolve("metrics.jsonl")));

            System.setProperty("editr1.inject", "nan-grad:2:10");
            TrainConfig c = config(8);
            c.maxBadSteps = 3;
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> TrainerTest.run(c, many, false));
            assertTrue(e.getMessage().startsWith("epoch 4: 3 optimizer steps in a row had a non-finite loss or gradient (maxBadSteps 3)")
                    && e.getMessage().contains("the last checkpoint (after epoch 3)"), e.getMessage());
        } finally {
            if (prop == null) System.clearProperty("editr1.inject");
            else System.setProperty("editr1.inject", prop);
        }
        // the last good checkpoint is whole: it verifies and resumes (no fault now)
        RunFolder.verify(many.resolve("checkpoints/latest"));
        TrainerTest.run(config(5), many, true);
        assertEquals(5, Files.readAllLines(many.resolve("metrics.jsonl")).size());
    }
}
