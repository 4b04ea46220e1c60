package dev.editr1.train;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

import dev.editr1.flow.Sampler;
import dev.editr1.flow.SigmaSchedule;
import dev.editr1.kernels.ForwardResult;
import dev.editr1.kernels.KernelOps;
import dev.editr1.kernels.NoiseKey;
import dev.editr1.kernels.Tensors;
import dev.editr1.model.Checkpoints;
import dev.editr1.model.DiTConfig;
import dev.editr1.model.EditDiT;
import dev.editr1.reward.SimulatedJudge;
import dev.editr1.world.EditTask;

/**
 * Supervised flow matching of the base model on the world's train split: x_t from the
 * forward-process kernel, loss mean((v − (ε − x0))²), AdamW. {@code editr1 sft} with its defaults
 * produces the embedded base checkpoint that {@code editr1 train} starts from.
 */
public final class Sft {
    static final int STREAM_SFT = 4;

    /** SFT settings (defaults: the recipe of the shipped base; see README). */
    public static final class Config {
        public long seed = 7;
        public int steps = 3000;
        public int batch = 64;
        public double lr = 2e-3;
        public double weightDecay = 0.0;
        public int threads = 1;
        public String modelPreset = "tiny";
        public int imageSize = 18;
        public long worldSeed = 2026;
        public int trainTasks = 20000;   // more tasks than steps see twice: generalization, not recall
        public int heldOutTasks = 128;
        public int evalEvery = 300;
    }

    private final Config c;
    private final KernelOps ops;
    private final PrintStream log;

    public Sft(Config c, KernelOps ops, PrintStream log) {
        if (c.steps < 1 || c.batch < 1 || !(c.lr > 0)) throw new IllegalArgumentException("sft: steps, batch and lr must be positive");
        this.c = c;
        this.ops = ops;
        this.log = log;
    }

    public EditDiT run(Path out) throws IOException {
        dev.editr1.kernels.Backend.setCpuThreads(c.threads);
        WorldData data = new WorldData(c.worldSeed, c.trainTasks, c.heldOutTasks, c.imageSize);
        DiTConfig mc = DiTConfig.preset(c.modelPreset, c.imageSize, data.vocab.size(), data.vocab.length());
        EditDiT model = new EditDiT(mc, c.seed);
        model.base.requireGrad(true);
        AdamW opt = new AdamW(model.base, 0.9, 0.999, 1e-8, c.weightDecay);
        double[] sigmas = SigmaSchedule.preset(SigmaSchedule.Preset.QWEN, 6, mc.imageTokens(), Double.NaN);
        SimulatedJudge judge = new SimulatedJudge(ops, 99, 0.05);
        Evaluator ev = new Evaluator(data, ops, judge, 12345);
        log.printf(Locale.ROOT, "sft: %s model, %d parameters, %d train tasks, %d steps of %d%n", c.modelPreset,
                model.base.count(), data.train.size(), c.steps, c.batch);
        long t0 = System.nanoTime();
        double avg = Double.NaN;
        for (int step = 0; step < c.steps; step++) {
            try (PointerScope scope = new PointerScope()) {
                SplittableRandom rng = new SplittableRandom(c.seed * 1_000_003L + step);
                List<EditTask> tasks = new ArrayList<>();
                float[] t = new float[c.batch];
                for (int i = 0; i < c.batch; i++) {
                    tasks.add(data.train.get(rng.nextInt(data.train.size())));
                    t[i] = (float) rng.nextDouble();
                }
                Tensor tt = Tensors.fromFloats(t, c.batch);
                Tensor x0 = data.targets(tasks);
                ForwardResult fr = ops.forwardProcess(new NoiseKey(c.seed, (long) step * c.batch, STREAM_SFT), x0, tt, true);
                Tensor v = model.velocity(fr.xt(), data.sources(tasks), data.idTensor(tasks), tt, null);
                Tensor loss = v.sub(fr.eps().sub(x0)).square().mean();
                loss.backward();
                opt.clipGradNorm(1.0);
                opt.step(c.lr);
                opt.zeroGrad();
                double l = loss.item_double();
                avg = Double.isNaN(avg) ? l : 0.98 * avg + 0.02 * l;
            }
            if ((step + 1) % 100 == 0 || step + 1 == c.steps) {
                double el = (System.nanoTime() - t0) / 1e9;
                log.printf(Locale.ROOT, "sft step %5d/%d  loss %.4f  %.1f steps/s  ETA %s%n", step + 1, c.steps, avg,
                        (step + 1) / el, Trainer.hms(el / (step + 1) * (c.steps - step - 1)));
            }
            if ((step + 1) % c.evalEvery == 0 || step + 1 == c.steps) {
                model.base.requireGrad(false);
                try (PointerScope scope = new PointerScope()) {
                    Evaluator.Result r = ev.evaluate(model, null, sigmas, Sampler.Solver.DPM2M, 64);
                    log.printf(Locale.ROOT, "  held-out: judge %s  true quality %s%n", r.scoreCi(), r.qualityCi());
                }
                model.base.requireGrad(true);
            }
        }
        judge.close();
        model.base.requireGrad(false);
        Checkpoints.saveBase(model, out, Map.of("editr1.sft", String.format(Locale.ROOT,
                "seed=%d steps=%d batch=%d lr=%g world_seed=%d train_tasks=%d", c.seed, c.steps, c.batch, c.lr, c.worldSeed,
                c.trainTasks)));
        log.println("sft: base checkpoint written to " + out);
        return model;
    }
}
