package dev.editr1.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bad configuration: a clear message, exit code 1, and nothing written. */
public class TrainCommandTest {
    public record Out(int code, String out, String err) {}

    /** Runs the CLI in this JVM, capturing its output. */
    public static Out run(String... args) {
        PrintStream o = System.out, e = System.err;
        ByteArrayOutputStream ob = new ByteArrayOutputStream(), eb = new ByteArrayOutputStream();
        System.setOut(new PrintStream(ob, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(eb, true, StandardCharsets.UTF_8));
        try {
            int c = Main.run(args);
            return new Out(c, ob.toString(StandardCharsets.UTF_8), eb.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(o);
            System.setErr(e);
        }
    }

    @Test
    void badSettingsAreRefusedBeforeAnythingIsWritten(@TempDir Path tmp) throws Exception {
        Object[][] cases = {
                {new String[] {"--set", "groupSize=1"}, "groupSize"},
                {new String[] {"--set", "lr=-0.001"}, "lr must be a positive number"},
                {new String[] {"--set", "sigmaPreset=flux9"}, "unknown sigmaPreset 'flux9' (sd3, kontext, qwen)"},
                {new String[] {"--set", "nosuchfield=3"}, "no config field 'nosuchfield'"},
                {new String[] {"--set", "filterMode=xor"}, "unknown filterMode 'xor' (or, and, off)"},
                {new String[] {"--set", "solver=rk4"}, "unknown solver 'rk4' (euler, dpm2m)"},
                {new String[] {"--set", "lrSchedule=warm"}, "unknown lrSchedule 'warm' (constant, cosine)"},
                {new String[] {"--set", "epochs=many"}, "'many' is not an integer"},
                {new String[] {"--device", "tpu"}, "unknown device 'tpu' (auto, cpu, cuda or cuda:N)"},
                {new String[] {"--model", "sdxl"}, "unknown model 'sdxl' (builtin, flux-kontext, qwen-image-edit"},
                {new String[] {"--data", tmp.resolve("no-such-dataset").toString()}, "does not exist"},
                {new String[] {"--base", tmp.resolve("missing.safetensors").toString()}, "does not exist"},
                {new String[] {"--nproc", "0"}, "--nproc must be >= 1 (got 0)"},
                {new String[] {"--set", "distHeartbeatTimeoutSeconds=0.1"}, "distHeartbeatTimeoutSeconds must be >= 0.5"},
                {new String[] {"--objective", "grpo", "--set", "groupNoise=true"}, "groupNoise is DiffusionNFT's training noise"},
                {new String[] {"--objective", "grpo", "--set", "highNoiseTimesteps=true"}, "highNoiseTimesteps picks DiffusionNFT's training timesteps"},
                {new String[] {"--objective", "grpo", "--set", "rolloutNoise=true"}, "rolloutNoise is DiffusionNFT's training noise"},
                {new String[] {"--set", "groupNoise=true", "--set", "rolloutNoise=true"}, "groupNoise and rolloutNoise both choose"},
                {new String[] {"--objective", "grpo", "--set", "weighting=best"}, "weighting best picks DiffusionNFT's r"},
                {new String[] {"--set", "advantageStd=prompt"}, "unknown advantageStd 'prompt' (epoch, group)"},
                {new String[] {"--set", "extremes=-1"}, "extremes must be >= 0"},
                {new String[] {"--set", "extremes=4", "--set", "weighting=best"}, "extremes picks the samples weighting advantage trains"},
                {new String[] {"--objective", "grpo", "--set", "extremes=4"}, "extremes picks DiffusionNFT's training samples"},
        };
        int i = 0;
        for (Object[] c : cases) {
            Path out = tmp.resolve("run" + i++);
            String[] extra = (String[]) c[0];
            String[] args = new String[extra.length + 3];
            args[0] = "train";
            args[1] = "--out";
            args[2] = out.toString();
            System.arraycopy(extra, 0, args, 3, extra.length);
            Out r = run(args);
            assertEquals(1, r.code(), String.join(" ", args) + "\n" + r.err());
            assertTrue(r.err().contains((String) c[1]), "message for " + String.join(" ", extra) + ": " + r.err());
            assertFalse(Files.exists(out), "nothing is written for a refused run: " + out);
        }
    }

    @Test
    void cudaWithoutAGpuStopsAtOnceSayingWhatIsMissing(@TempDir Path tmp) throws Exception {
        dev.editr1.kernels.Backend.Probe p = dev.editr1.kernels.Backend.probe();
        org.junit.jupiter.api.Assumptions.assumeFalse(p.cudaUsable(), "CUDA is usable here");
        for (String device : new String[] {"cuda", "cuda:1"}) {
            Path out = tmp.resolve("run-" + device.replace(':', '-'));
            Out r = run("train", "--device", device, "--out", out.toString());
            assertEquals(1, r.code(), r.err());
            assertTrue(r.err().contains("CUDA cannot be used") && r.err().contains(p.whyNotCuda(
                    dev.editr1.kernels.Backend.Impl.NATIVE, 0)), r.err());
            assertFalse(r.out().contains("epoch"), "nothing ran: " + r.out());
            assertFalse(Files.exists(out), "nothing is written");
        }
    }

    @Test
    void helpIsClean() {
        for (String[] args : new String[][] {{"--help"}, {"train", "--help"}, {"eval", "--help"}, {"export-world", "--help"}}) {
            Out r = run(args);
            assertEquals(0, r.code());
            String all = r.out() + r.err();
            assertFalse(all.contains("WARN") || all.contains("Exception"), String.join(" ", args) + ":\n" + all);
        }
        assertTrue(run("eval", "--help").out().contains("95% CIs"));
    }

    @Test
    void exportWorldRefusesAFolderInUse(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("used");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("mine.txt"), "keep");
        Out r = run("export-world", dir.toString(), "--train-tasks", "10", "--held-out-tasks", "2");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("is not an empty folder"), r.err());
        assertEquals("keep", Files.readString(dir.resolve("mine.txt")));
        Path fresh = tmp.resolve("fresh");
        r = run("export-world", fresh.toString(), "--train-tasks", "10", "--held-out-tasks", "2");
        assertEquals(0, r.code(), r.err());
        assertEquals(10, Files.readAllLines(fresh.resolve("train_metadata.jsonl")).size());
        assertEquals(2, Files.readAllLines(fresh.resolve("test_metadata.jsonl")).size());
        assertFalse(Files.exists(tmp.resolve("fresh.tmp-export")), "no temporary folder left behind");
    }

    @Test
    void corruptBaseCheckpointIsNamed(@TempDir Path tmp) throws Exception {
        Path bad = tmp.resolve("bad.safetensors");
        Files.writeString(bad, "not a checkpoint");
        Out r = run("train", "--out", tmp.resolve("r").toString(), "--base", bad.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("bad.safetensors") && r.err().contains("not a valid safetensors"), r.err());
        assertFalse(Files.exists(tmp.resolve("r")));
    }

    @Test
    void existingRunFolderIsNotOverwritten(@TempDir Path tmp) throws Exception {
        Path dir = tmp.resolve("used");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("keep.txt"), "precious");
        Out r = run("train", "--out", dir.toString());
        assertEquals(1, r.code());
        assertTrue(r.err().contains("--resume"), r.err());
        assertEquals("precious", Files.readString(dir.resolve("keep.txt")));
        Out missing = run("train", "--resume", tmp.resolve("nope").toString());
        assertEquals(1, missing.code());
        assertTrue(missing.err().contains("cannot resume"), missing.err());
    }

    @Test
    void resumeChangesOnlyHowTheRunUsesTheMachine(@TempDir Path tmp) {
        String dir = tmp.resolve("nope").toString();
        Out math = run("train", "--resume", dir, "--set", "lr=1e-3");
        assertEquals(1, math.code());
        assertTrue(math.err().contains("continues the run's saved configuration"), math.err());
        // OpenBLAS's thread count changes its sums, hence the results
        Out blas = run("train", "--resume", dir, "--set", "blasThreads=2");
        assertEquals(1, blas.code());
        assertTrue(blas.err().contains("continues the run's saved configuration"), blas.err());
        // the CPU kernels' threads do not: past the check, to the missing folder
        Out threads = run("train", "--resume", dir, "--set", "kernelThreads=1", "--set", "distBucketMB=8");
        assertEquals(1, threads.code());
        assertTrue(threads.err().contains("cannot resume") && threads.err().contains("config.json"), threads.err());
    }

    @Test
    void sigmasPrintsTheGrid() {
        Out r = run("sigmas", "--preset", "qwen", "--steps", "6", "--tokens", "1024");
        assertEquals(0, r.code(), r.err());
        String out = r.out().trim();
        assertTrue(out.startsWith("[") && out.endsWith("]"), out);
        String[] parts = out.substring(1, out.length() - 1).split(",");
        double[] expect = {1, 0.86248, 0.70279, 0.51511, 0.29134, 0.02, 0};   // SPEC §2
        assertEquals(expect.length, parts.length, out);
        for (int i = 0; i < expect.length; i++) assertEquals(expect[i], Double.parseDouble(parts[i].trim()), 5e-6, out);
        Out bad = run("sigmas", "--preset", "nope", "--steps", "6");
        assertEquals(1, bad.code());
        assertTrue(bad.err().contains("unknown sigma preset"), bad.err());
    }
}
