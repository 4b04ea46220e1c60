package dev.editr1.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import dev.editr1.flow.Sampler;
import dev.editr1.flow.SigmaSchedule;
import dev.editr1.kernels.KernelOps;
import dev.editr1.kernels.NoiseKey;
import dev.editr1.kernels.Tensors;
import dev.editr1.model.EditDiT;
import dev.editr1.reward.Calibration;
import dev.editr1.reward.Judge;
import dev.editr1.train.Policy;
import dev.editr1.train.TrainConfig;
import dev.editr1.train.WorldData;
import dev.editr1.world.Batch;
import dev.editr1.world.EditTask;
import dev.editr1.world.Quality;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code editr1 calibrate}: pairwise accuracy of each rating method against labelled pairs (the
 * paper's Table 4: score-logit 74.74%, yes/no-logit 67.01%, sampled score 60.82% on human labels).
 * Without a file: pairs from the embedded world — two samples of the shipped base for each
 * held-out task, the better one being the one of higher true quality — rated by the simulated judge.
 */
@Command(name = "calibrate", mixinStandardHelpOptions = true,
        description = "Pairwise accuracy of the judge's rating methods on labelled pairs (embedded-world pairs by default).")
final class CalibrateCommand implements Callable<Integer> {
    @Mixin JudgeOptions judgeOptions;
    @Mixin BackendOptions backend;

    @Option(names = "--pairs", description = "JSONL of labelled pairs (source, instruction, edited_a, edited_b, better)")
    Path pairsFile;

    @Option(names = "--base", description = "base checkpoint for the embedded pairs (default: the embedded one)")
    String base;

    @Override
    public Integer call() throws Exception {
        KernelOps ops = backend.ops();
        List<Calibration.Pair> pairs = pairsFile != null ? Calibration.read(pairsFile) : embeddedPairs(ops);
        Map<Judge.Method, Calibration.Accuracy> r;
        try (Judge judge = judgeOptions.create(ops)) {
            System.out.println("judge: " + judge.describe() + "; " + pairs.size() + " labelled pairs");
            r = Calibration.run(judge, pairs);
        }
        System.out.printf(Locale.ROOT, "  %-16s %-24s %6s %9s%n", "method", "accuracy [95% CI]", "pairs", "unscored");
        for (Calibration.Accuracy a : r.values())
            System.out.printf(Locale.ROOT, "  %-16s %.3f [%.3f, %.3f]     %6d %9d%n", label(a.method()), a.accuracy(), a.lo(), a.hi(),
                    a.pairs(), a.unscored());
        return 0;
    }

    static String label(Judge.Method m) {
        return switch (m) {
            case SCORE_LOGIT -> "score-logit";
            case YES_NO_LOGIT -> "yes/no-logit";
            case GREEDY_DIGIT -> "greedy digit";
            case SAMPLED_DIGIT -> "sampled digit";
        };
    }

    private List<Calibration.Pair> embeddedPairs(KernelOps ops) throws Exception {
        EditDiT model = Common.base(base);
        TrainConfig cfg = new TrainConfig();
        dev.editr1.kernels.Backend.setCpuThreads(cfg.threads);
        WorldData data = new WorldData(cfg.worldSeed, cfg.trainTasks, cfg.heldOutTasks, model.cfg.imageSize());
        double[] sigmas = SigmaSchedule.preset(SigmaSchedule.Preset.parse(cfg.sigmaPreset), cfg.steps, model.cfg.imageTokens(),
                Double.NaN);
        List<EditTask> tasks = data.heldOut;
        int s = data.size();
        float[] a = Tensors.toFloats(Policy.sample(model, data, tasks, null, new NoiseKey(101, 0, 6), sigmas,
                Sampler.Solver.DPM2M, 1.0, ops));
        float[] b = Tensors.toFloats(Policy.sample(model, data, tasks, null, new NoiseKey(202, 0, 6), sigmas,
                Sampler.Solver.DPM2M, 1.0, ops));
        List<Calibration.Pair> out = new ArrayList<>();
        for (int i = 0; i < tasks.size(); i++) {
            EditTask t = tasks.get(i);
            float[] ea = Batch.image(a, i, s), eb = Batch.image(b, i, s);
            double qa = Quality.of(ea, data.source(t), data.target(t)), qb = Quality.of(eb, data.source(t), data.target(t));
            if (qa == qb) continue;   // no label without a difference
            out.add(new Calibration.Pair(data.source(t), t.instruction(), t.requirement(), ea, eb, qa > qb, data.target(t)));
        }
        return out;
    }
}
