package dev.editr1.cli;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

import dev.editr1.flow.Sampler;
import dev.editr1.flow.SigmaSchedule;
import dev.editr1.kernels.KernelOps;
import dev.editr1.model.Checkpoints;
import dev.editr1.model.EditDiT;
import dev.editr1.model.LoraAdapter;
import dev.editr1.reward.SimulatedJudge;
import dev.editr1.train.Evaluator;
import dev.editr1.train.TrainConfig;
import dev.editr1.train.WorldData;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code editr1 eval}: held-out judge score and true quality of a checkpoint (base, or base + adapter). */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = "Evaluate a checkpoint on the embedded world's held-out split (judge score and true quality, 95% CI).")
final class EvalCommand implements Callable<Integer> {
    @Option(names = "--base", description = "base checkpoint (default: the embedded one)")
    String base;

    @Option(names = "--adapter", description = "a LoRA adapter .safetensors (e.g. RUN/checkpoints/final/adapter_ema.safetensors)")
    Path adapter;

    @Option(names = "--seed", defaultValue = "1", description = "evaluation seed (noise and judge; default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--steps", description = "sampler steps (default: the training default, 6)")
    Integer steps;

    @Option(names = "--solver", description = "euler or dpm2m (default dpm2m)")
    String solver;

    @picocli.CommandLine.Mixin
    BackendOptions backend;

    @Override
    public Integer call() throws Exception {
        KernelOps ops = backend.ops();
        EditDiT model = Common.base(base);
        TrainConfig cfg = new TrainConfig();
        if (steps != null) cfg.steps = steps;
        if (solver != null) cfg.solver = solver;
        cfg.validate();
        dev.editr1.kernels.Backend.setCpuThreads(cfg.threads);
        LoraAdapter a = adapter == null ? null : Checkpoints.loadAdapter(model, adapter);
        WorldData data = new WorldData(cfg.worldSeed, cfg.trainTasks, cfg.heldOutTasks, model.cfg.imageSize());
        double[] sigmas = SigmaSchedule.preset(SigmaSchedule.Preset.parse(cfg.sigmaPreset), cfg.steps,
                model.cfg.imageTokens(), Double.NaN);
        try (SimulatedJudge judge = new SimulatedJudge(ops, seed * 31 + 7, cfg.judgeNoise, cfg.judgeExponent)) {
            Evaluator.Result r = new Evaluator(data, ops, judge, seed).evaluate(model, a, sigmas,
                    Sampler.Solver.parse(cfg.solver), 64);
            System.out.printf(Locale.ROOT, "held-out (%d tasks): judge score %s  true quality %s%n", data.heldOut.size(),
                    r.scoreCi(), r.qualityCi());
        }
        return 0;
    }
}
