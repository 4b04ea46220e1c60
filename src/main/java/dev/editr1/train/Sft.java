package dev.editr1.train;

import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;

import dev.editr1.data.EditItem;
import dev.editr1.kernels.ForwardResult;
import dev.editr1.kernels.Tensors;
import dev.editr1.model.Adapter;
import dev.editr1.model.EditingModel;
import dev.editr1.reward.SimulatedJudge;

/**
 * Supervised flow matching of a model's full weights on a dataset's targets: x_t from the
 * forward-process kernel, loss mean((v − (ε − x0))²), AdamW. {@code editr1 sft} with its defaults
 * (the built-in model from scratch on the embedded world) produces the embedded base checkpoint
 * that {@code editr1 train} starts from.
 */
public final class Sft {
    /** The SFT recipe (defaults: the recipe of the shipped base; see README). */
    public static final class Config {
        public long seed = 7;
        public int steps = 3000;
        public int batch = 64;
        public double lr = 2e-3;
        public double weightDecay = 0.0;
        public String modelPreset = "tiny";
        public int evalEvery = 300;
    }

    private final Config c;
    private final RunContext ctx;
    private final PrintStream log;

    /** @param ctx a run context whose model is the one to train (its base weights become trainable) */
    public Sft(Config c, RunContext ctx, PrintStream log) {
        if (c.steps < 1 || c.batch < 1 || !(c.lr > 0)) throw new IllegalArgumentException("sft: steps, batch and lr must be positive");
        this.c = c;
        this.ctx = ctx;
        this.log = log;
    }

    /** Trains; returns the model (its weights trained in place). */
    public EditingModel run() {
        EditingModel model = ctx.model;
        List<EditItem> train = ctx.data.train();
        for (EditItem it : train)
            if (!it.hasTarget()) throw new IllegalArgumentException("sft needs a target for every train item; " + it.id() + " has none");
        model.base().requireGrad(true);
        try (SimulatedJudge judge = new SimulatedJudge(ctx.ops, 99, 0.05)) {
            train(model, train, new Evaluator(ctx, judge, 12345));
        }
        model.base().requireGrad(false);
        return model;
    }

    private void train(EditingModel model, List<EditItem> train, Evaluator ev) {
        AdamW opt = new AdamW(model.base(), 0.9, 0.999, 1e-8, c.weightDecay);
        log.printf(Locale.ROOT, "sft: %d parameters, %d train tasks, %d steps of %d%n", model.base().count(), train.size(), c.steps,
                c.batch);
        int s = ctx.data.resolution();
        long t0 = System.nanoTime();
        double avg = Double.NaN;
        for (int step = 0; step < c.steps; step++) {
            try (PointerScope scope = new PointerScope()) {
                SplittableRandom rng = new SplittableRandom(c.seed * 1_000_003L + step);
                List<EditItem> tasks = new ArrayList<>();
                float[] t = new float[c.batch];
                for (int i = 0; i < c.batch; i++) {
                    tasks.add(train.get(rng.nextInt(train.size())));
                    t[i] = (float) rng.nextDouble();
                }
                Tensor tt = Tensors.fromFloats(t, model.device(), c.batch);
                Tensor x0;
                try (NoGradGuard g = new NoGradGuard()) {
                    Tensor[] imgs = new Tensor[c.batch];
                    for (int i = 0; i < c.batch; i++) imgs[i] = Tensors.fromFloats(ctx.data.target(tasks.get(i)), model.device(), 1, 3, s, s);
                    x0 = model.codec().encode(torch.cat(new TensorVector(imgs), 0));
                }
                ForwardResult fr = ctx.ops.forwardProcess(NoiseStreams.SFT.key(c.seed, (long) step * c.batch), x0, tt, true);
                Tensor v = model.velocity(fr.xt(), tt, ctx.conditions(tasks), Adapter.OFF);
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
                model.base().requireGrad(false);
                try (PointerScope scope = new PointerScope()) {
                    Evaluator.Result r = ev.evaluate(Adapter.OFF, 64);
                    log.printf(Locale.ROOT, "  held-out: judge %s  true quality %s%n", r.scoreCi(), r.qualityCi());
                }
                model.base().requireGrad(true);
            }
        }
    }

    /** The recipe as checkpoint metadata. */
    public Map<String, String> recipe() {
        return Map.of("editr1.sft", String.format(Locale.ROOT, "seed=%d steps=%d batch=%d lr=%g world_seed=%d train_tasks=%d",
                c.seed, c.steps, c.batch, c.lr, ctx.config.worldSeed, ctx.config.trainTasks));
    }
}
