package dev.editr1.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.editr1.kernels.NativeOps;
import dev.editr1.kernels.Tensors;
import dev.editr1.model.Checkpoints;
import dev.editr1.model.EditDiT;
import dev.editr1.model.LoraAdapter;

/** Short seeded runs of the real trainer on the shipped base. */
class TrainerTest {
    static final NativeOps OPS = new NativeOps(true);

    static TrainConfig small(int epochs) {
        TrainConfig c = new TrainConfig();
        c.epochs = epochs;
        c.prompts = 2;
        c.groupSize = 4;
        c.rolloutBatch = 4;
        c.trainTasks = 200;
        c.heldOutTasks = 8;
        c.checkpointEvery = 2;
        c.seed = 3;
        c.device = "cpu";
        return c;
    }

    static Trainer.Summary run(TrainConfig c, Path dir, boolean resume) throws Exception {
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
        try (RunContext ctx = RunContext.open(c, quiet, OPS, null)) {
            Trainer t = new Trainer(ctx, new RunFolder(dir), quiet);
            t.setUp(resume);
            return t.run();
        }
    }

    /** lrSchedule: constant keeps lr; cosine starts at lr, halves at mid-run and reaches 0 at the last epoch. */
    @Test
    void theLearningRateFollowsItsSchedule() {
        TrainConfig c = new TrainConfig();
        c.epochs = 600;
        c.lr = 1e-3;
        assertEquals(1e-3, c.lrAt(0));
        assertEquals(1e-3, c.lrAt(599));
        c.set("lrSchedule", "cosine");
        assertEquals(1e-3, c.lrAt(0), 1e-18);
        assertEquals(5e-4, c.lrAt(300), 1e-15);
        assertEquals(0.0, c.lrAt(600), 1e-18);
        assertTrue(c.lrAt(100) > c.lrAt(101), "it decreases step by step");
    }

    /** loraMlp: the run's adapters target each block's fc1 and fc2 beside the attention projections. */
    @Test
    void loraMlpAddsTheMlpLayers() {
        EditDiT m = new EditDiT(new dev.editr1.model.DiTConfig(16, 4, 32, 2, 4, 10, 40), 1);
        TrainConfig c = new TrainConfig();
        assertEquals(m.loraTargets().keySet(), Trainer.loraTargets(m, c).keySet());
        c.set("loraMlp", "true");
        java.util.Set<String> both = Trainer.loraTargets(m, c).keySet();
        assertEquals(2 * m.loraTargets().size(), both.size());
        assertTrue(both.containsAll(java.util.List.of("blocks.0.mlp.fc1", "blocks.1.mlp.fc2", "blocks.1.attn.qkv")), both.toString());
    }

    @Test
    void sameSeedSameMetrics(@TempDir Path tmp) throws Exception {
        run(small(3), tmp.resolve("a"), false);
        run(small(3), tmp.resolve("b"), false);
        String a = Files.readString(tmp.resolve("a/metrics.jsonl")), b = Files.readString(tmp.resolve("b/metrics.jsonl"));
        assertEquals(3, a.lines().count());
        assertEquals(a, b, "metrics.jsonl differs between two runs with one seed");
        assertTrue(Files.exists(tmp.resolve("a/summary.json")) && Files.exists(tmp.resolve("a/heldout_grid.png"))
                && Files.exists(tmp.resolve("a/reward_curve.png")) && Files.exists(tmp.resolve("a/timings.jsonl"))
                && Files.exists(tmp.resolve("a/config.json")));
    }

    /**
     * A busy process beside the run changes the thread counts that follow the load (the CPU kernels'
     * pool, OpenBLAS with blasThreads=0) but not the metrics: the kernels are bit-identical at any
     * count, and OpenBLAS's count, which changes its sums, is fixed by default.
     */
    @Test
    void metricsDoNotDependOnTheMachinesLoad(@TempDir Path tmp) throws Exception {
        for (TrainConfig c : new TrainConfig[] {small(2), GrpoTrainerTest.grpo(2)}) {
            Path quiet = tmp.resolve(c.objective + "-quiet"), loaded = tmp.resolve(c.objective + "-busy");
            run(c, quiet, false);
            Process busy = new ProcessBuilder("sh", "-c", "while :; do :; done").start();
            try {
                Thread.sleep(300);   // the pool samples /proc/stat every 0.1 s
                run(c, loaded, false);
            } finally {
                busy.destroyForcibly().waitFor();
            }
            assertEquals(Files.readString(quiet.resolve("metrics.jsonl")), Files.readString(loaded.resolve("metrics.jsonl")), c.objective.toString());
        }
    }

    /**
     * forwardThreads: the old and reference forwards beside θ's and rollout chunks sampled in pairs
     * on a second thread give the metrics of one thread, bit for bit (NFT and Flow-GRPO).
     */
    @Test
    void aSecondThreadDoesNotChangeTheMetrics(@TempDir Path tmp) throws Exception {
        for (TrainConfig c : new TrainConfig[] {small(2), GrpoTrainerTest.grpo(2)}) {
            c.forwardThreads = 1;
            Path one = tmp.resolve(c.objective + "-1"), two = tmp.resolve(c.objective + "-2");
            run(c, one, false);
            PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
            try (RunContext ctx = RunContext.open(c, quiet, OPS, null)) {
                SideThread side = SideThread.open(2, () -> 2);   // concurrent whatever the machine's load
                ctx.useSide(side);
                Trainer t = new Trainer(ctx, new RunFolder(two), quiet);
                t.setUp(false);
                t.run();
                assertTrue(side.besideCount() >= 2 * 2, c.objective + ": a rollout chunk per epoch and the forwards ran beside ("
                        + side.besideCount() + ")");
            }
            assertEquals(Files.readString(one.resolve("metrics.jsonl")), Files.readString(two.resolve("metrics.jsonl")), c.objective.toString());
        }
    }

    @Test
    void resumedRunEndsWithTheSameWeights(@TempDir Path tmp) throws Exception {
        run(small(4), tmp.resolve("straight"), false);
        run(small(2), tmp.resolve("interrupted"), false);     // stops after epoch 2's checkpoint
        run(small(4), tmp.resolve("interrupted"), true);      // resumes from it
        for (String name : new String[] {"adapter_policy", "adapter_old", "adapter_ema"}) {
            EditDiT m = Checkpoints.loadEmbeddedBase();
            LoraAdapter a = Checkpoints.loadAdapter(m, tmp.resolve("straight/checkpoints/latest/" + name + ".safetensors"));
            LoraAdapter b = Checkpoints.loadAdapter(m, tmp.resolve("interrupted/checkpoints/latest/" + name + ".safetensors"));
            for (String k : a.params.asMap().keySet())
                assertArrayEquals(Tensors.toFloats(a.params.get(k)), Tensors.toFloats(b.params.get(k)), name + " " + k);
        }
        assertEquals(Files.readString(tmp.resolve("straight/metrics.jsonl")),
                Files.readString(tmp.resolve("interrupted/metrics.jsonl")));
    }

    /** The training reward is read off the judge as rewardMethod says: a digit is a multiple of 1/5. */
    @Test
    void theTrainingRewardFollowsRewardMethod(@TempDir Path tmp) throws Exception {
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
        for (String method : new String[] {"score-logit", "sampled-digit", "greedy-digit", "yes-no-logit"}) {
            TrainConfig c = small(2);
            c.set("rewardMethod", method);
            boolean digit = method.endsWith("digit");
            try (RunContext ctx = RunContext.open(c, quiet, OPS, null)) {
                Trainer t = new Trainer(ctx, new RunFolder(tmp.resolve(method)), quiet);
                t.setUp(false);
                for (int e = 0; e < 2; e++) {
                    Trainer.EpochMetrics m = t.epoch(e);
                    double fifths = m.rewardMean() * c.prompts * c.groupSize * 5;   // the sum of the rewards in fifths
                    assertTrue(m.rewardMean() >= 0 && m.rewardMean() <= 1, method + ": " + m.rewardMean());
                    assertEquals(digit, Math.abs(fifths - Math.rint(fifths)) < 1e-6, method + ": mean reward " + m.rewardMean());
                }
            }
        }
    }

    /** groupBy=instruction pools the groups of prompts with one instruction (4 prompts drawn from 4 tasks repeat one). */
    @Test
    void groupingByInstructionPoolsRepeatedPrompts(@TempDir Path tmp) throws Exception {
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
        double[][] loss = new double[2][];
        String[] by = {"task", "instruction"};
        for (int k = 0; k < 2; k++) {
            TrainConfig c = small(1);
            c.trainTasks = 4;
            c.prompts = 4;
            c.set("groupBy", by[k]);
            try (RunContext ctx = RunContext.open(c, quiet, OPS, null)) {
                Trainer t = new Trainer(ctx, new RunFolder(tmp.resolve(by[k])), quiet);
                t.setUp(false);
                long distinct = t.prompts(0).stream().map(dev.editr1.data.EditItem::prompt).distinct().count();
                assertTrue(distinct < c.prompts, "the test needs an epoch with a repeated instruction: " + t.prompts(0));
                Trainer.EpochMetrics m = t.epoch(0);
                loss[k] = new double[] {m.rewardMean(), m.loss()};
            }
        }
        assertEquals(loss[0][0], loss[1][0], 0.0, "the same rollouts and rewards");
        assertTrue(loss[0][1] != loss[1][1], "pooled group means change the advantages, hence the loss: " + loss[0][1]);
    }

    @Test
    void rewardRisesOnHeldOut(@TempDir Path tmp) throws Exception {
        TrainConfig c = new TrainConfig();
        c.device = "cpu";
        c.epochs = 120;
        c.heldOutTasks = 64;
        c.checkpointEvery = 120;
        c.lr = 1e-3;   // a short run that must show the rise: 120 epochs at the default 3e-4 gain +0.01 [−0.01, 0.03]
        Trainer.Summary s = run(c, tmp.resolve("run"), false);
        System.out.println("rewardRisesOnHeldOut: base " + s.baseScore() + ", trained " + s.trainedScore() + ", gain " + s.scoreGain()
                + "; true quality gain " + s.qualityGain());
        assertTrue(s.scoreGain().lo() > 0, "judge score gain " + s.scoreGain() + " (base " + s.baseScore() + ", trained "
                + s.trainedScore() + ")");
        assertTrue(s.qualityGain().mean() > 0, "true quality gain " + s.qualityGain());
    }

    /**
     * A bf16 base trains: its first steps match the f32 base's (same seed: the same prompts, noise and
     * judge draws; the rollouts differ by bf16 rounding) and its adapter moves and stays finite. The
     * held-out comparison the issue asks for (120 epochs, gain inside the f32 run's CI) is not run
     * here: libtorch's bf16 matmuls on this CPU (no AVX512-BF16) make an epoch 6.4× slower (11.7 s vs
     * 1.8 s), 23 minutes for that run.
     */
    @Test
    void aBf16BaseTrainsLikeTheF32One(@TempDir Path tmp) throws Exception {
        java.util.List<com.google.gson.JsonObject> f32 = new java.util.ArrayList<>(), bf16 = new java.util.ArrayList<>();
        for (int i = 0; i < 2; i++) {
            TrainConfig c = small(6);
            c.baseDtype = i == 0 ? dev.editr1.kernels.DType.F32 : dev.editr1.kernels.DType.BF16;
            Path dir = tmp.resolve("run" + i);
            run(c, dir, false);
            for (String l : Files.readAllLines(dir.resolve("metrics.jsonl")))
                (i == 0 ? f32 : bf16).add(com.google.gson.JsonParser.parseString(l).getAsJsonObject());
        }
        double worstReward = 0;
        for (int e = 0; e < f32.size(); e++) {
            double a = f32.get(e).get("reward_mean").getAsDouble(), b = bf16.get(e).get("reward_mean").getAsDouble();
            worstReward = Math.max(worstReward, Math.abs(a - b));
            double g = bf16.get(e).get("grad_norm").getAsDouble();
            assertTrue(Double.isFinite(g) && g > 0, "epoch " + e + ": bf16 gradient norm " + g);
            assertEquals(0, bf16.get(e).get("skipped_step").getAsInt());
        }
        double g0 = f32.get(0).get("grad_norm").getAsDouble(), b0 = bf16.get(0).get("grad_norm").getAsDouble();
        System.out.printf(java.util.Locale.ROOT, "aBf16BaseTrainsLikeTheF32One: first gradient norm f32 %.5f, bf16 %.5f; largest reward "
                + "difference over %d epochs %.4f%n", g0, b0, f32.size(), worstReward);
        assertEquals(g0, b0, 0.1 * g0, "the first step's gradient norm");
        assertTrue(worstReward < 0.05, "per-epoch mean rewards differ by up to " + worstReward);
    }
}
