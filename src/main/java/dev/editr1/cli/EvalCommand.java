package dev.editr1.cli;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

import dev.editr1.model.Adapter;
import dev.editr1.model.Checkpoints;
import dev.editr1.model.LoraSets;
import dev.editr1.train.Evaluator;
import dev.editr1.train.RunContext;
import dev.editr1.train.TrainConfig;
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

    @Override
    public Integer call() throws Exception {
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
            Evaluator.Result r = new Evaluator(ctx, ctx.judge(), seed).evaluate(which, 64);
            System.out.printf(Locale.ROOT, "held-out (%d tasks): judge score %s  true quality %s%n", ctx.data.heldOut().size(),
                    r.scoreCi(), r.qualityCi());
        }
        return 0;
    }
}
