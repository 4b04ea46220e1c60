package dev.editr1.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.IntStream;

import dev.editr1.data.EditItem;
import dev.editr1.model.Adapter;
import dev.editr1.model.Checkpoints;
import dev.editr1.model.LoraSets;
import dev.editr1.train.Evaluator;
import dev.editr1.train.Headroom;
import dev.editr1.train.RunContext;
import dev.editr1.train.TrainConfig;
import dev.editr1.world.EmbeddedDataset;
import dev.editr1.world.Family;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code editr1 eval}: held-out judge score and true quality of the base, or the base with an adapter. */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Evaluate a model (and an adapter) on the held-out split: judge score and true quality with 95%% CIs.")
final class EvalCommand implements Callable<Integer> {
    @Mixin RunOptions run;
    @Mixin JudgeOptions judge;

    @Option(names = "--adapter", description = "a LoRA adapter .safetensors (e.g. RUN/checkpoints/final/adapter_ema.safetensors)")
    Path adapter;

    @Option(names = "--seed", defaultValue = "1", description = "evaluation seed (noise and judge; default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--steps", description = "sampler steps (default: the training default, 6)")
    Integer steps;

    @Option(names = "--solver", description = "euler or dpm2m (default dpm2m)")
    String solver;

    @Option(names = "--samples", defaultValue = "1", paramLabel = "K",
            description = "samples per task (evaluation seeds seed .. seed+K-1); K > 1 also reports the best of K "
                    + "by true quality and by the judge's score, and the spread (default ${DEFAULT-VALUE})")
    int samples;

    @Override
    public Integer call() throws Exception {
        if (samples < 1 || samples > 1024) throw new IllegalArgumentException("--samples must be in 1..1024, got " + samples);
        TrainConfig cfg = run.config();
        judge.apply(cfg);
        cfg.seed = seed;
        if (steps != null) cfg.steps = steps;
        if (solver != null) cfg.set("solver", solver);
        try (RunContext ctx = RunContext.open(cfg, System.err)) {
            Adapter which = Adapter.OFF;
            if (adapter != null) {
                ctx.model.attachLora(LoraSets.single(Checkpoints.loadAdapter(ctx.model, adapter)));
                which = Adapter.POLICY;
            }
            Evaluator ev = new Evaluator(ctx, ctx.judge(), seed);
            int n = ctx.data.heldOut().size();
            if (samples == 1) {
                Evaluator.Result r = ev.evaluate(which, 64);
                System.out.printf(Locale.ROOT, "held-out (%d tasks): judge score %s  true quality %s%n", n, r.scoreCi(),
                        r.qualityCi());
                return 0;
            }
            List<Evaluator.Result> all = new ArrayList<>(samples);
            for (int k = 0; k < samples; k++) all.add(ev.evaluate(which, 64, 0, n, k));
            printHeadroom(ctx, all);
        }
        return 0;
    }

    private void printHeadroom(RunContext ctx, List<Evaluator.Result> all) {
        Headroom h = Headroom.of(all);
        int k = samples;
        System.out.printf(Locale.ROOT, "held-out (%d tasks), %d samples each (evaluation seeds %d..%d); means [95%% CI over tasks]%n",
                h.tasks(), k, seed, seed + k - 1);
        System.out.printf(Locale.ROOT, "  one sample:                judge score %s  true quality %s%n", h.oneScore(), h.oneQuality());
        System.out.printf(Locale.ROOT, "  best of %d by true quality: true quality %s  gain %s%n", k, h.bestQuality(), h.bestGain());
        System.out.printf(Locale.ROOT, "  best of %d by the judge:    true quality %s  gain %s  (its judge score %s)%n", k,
                h.judgePickQuality(), h.judgePickGain(), h.judgePickScore());
        System.out.printf(Locale.ROOT, "  spread of true quality over a task's samples (sd, mean over tasks): %.4f%n", h.spread());
        if (!(ctx.data instanceof EmbeddedDataset world)) return;
        List<EditItem> tasks = ctx.data.heldOut();
        System.out.printf(Locale.ROOT, "  by family (true quality):  %-10s %5s %10s %10s %10s %8s%n", "family", "tasks", "one", "best",
                "judge's", "spread");
        for (Family f : Family.values()) {
            int[] idx = IntStream.range(0, tasks.size()).filter(i -> world.task(tasks.get(i)).family() == f).toArray();
            if (idx.length == 0) continue;
            Headroom hf = Headroom.of(all, idx);
            System.out.printf(Locale.ROOT, "                             %-10s %5d %10.4f %10.4f %10.4f %8.4f%n", f.word, idx.length,
                    hf.oneQuality().mean(), hf.bestQuality().mean(), hf.judgePickQuality().mean(), hf.spread());
        }
    }
}
