package dev.editr1.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

import dev.editr1.flow.Sampler;
import dev.editr1.flow.SigmaSchedule;
import dev.editr1.kernels.KernelOps;
import dev.editr1.kernels.NoiseKey;
import dev.editr1.kernels.Tensors;
import dev.editr1.model.Checkpoints;
import dev.editr1.model.EditDiT;
import dev.editr1.model.LoraAdapter;
import dev.editr1.train.Pictures;
import dev.editr1.train.Policy;
import dev.editr1.train.TrainConfig;
import dev.editr1.train.WorldData;
import dev.editr1.world.EditTask;
import dev.editr1.world.Quality;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code editr1 sample}: edits one task of the embedded world with a checkpoint and writes a PNG. */
@Command(name = "sample", mixinStandardHelpOptions = true,
        description = "Edit one embedded-world task with a checkpoint; write source | base | checkpoint | target as a PNG.")
final class SampleCommand implements Callable<Integer> {
    @Option(names = "--base", description = "base checkpoint (default: the embedded one)") String base;
    @Option(names = "--adapter", description = "a LoRA adapter .safetensors") Path adapter;
    @Option(names = "--task", defaultValue = "0", description = "task index (default ${DEFAULT-VALUE})") int task;
    @Option(names = "--split", defaultValue = "heldout", description = "heldout or train") String split;
    @Option(names = "--seed", defaultValue = "0", description = "noise seed") long seed;
    @Option(names = "--out", defaultValue = "sample.png", description = "PNG to write (default ${DEFAULT-VALUE})") Path out;
    @picocli.CommandLine.Mixin
    BackendOptions backend;

    @Override
    public Integer call() throws Exception {
        KernelOps ops = backend.ops();
        EditDiT model = Common.base(base);
        LoraAdapter a = adapter == null ? null : Checkpoints.loadAdapter(model, adapter);
        TrainConfig cfg = new TrainConfig();
        dev.editr1.kernels.Backend.setCpuThreads(cfg.threads);
        WorldData data = new WorldData(cfg.worldSeed, cfg.trainTasks, cfg.heldOutTasks, model.cfg.imageSize());
        List<EditTask> tasks = switch (split) {
            case "heldout" -> data.heldOut;
            case "train" -> data.train;
            default -> throw new IllegalArgumentException("--split must be heldout or train, got '" + split + "'");
        };
        if (task < 0 || task >= tasks.size())
            throw new IllegalArgumentException("--task must be in 0.." + (tasks.size() - 1) + ", got " + task);
        EditTask t = tasks.get(task);
        double[] sigmas = SigmaSchedule.preset(SigmaSchedule.Preset.parse(cfg.sigmaPreset), cfg.steps, model.cfg.imageTokens(),
                Double.NaN);
        NoiseKey key = new NoiseKey(seed, 0, 5);
        float[] baseImg = Tensors.toFloats(Policy.sample(model, data, List.of(t), null, key, sigmas, Sampler.Solver.DPM2M, 1.0, ops));
        float[] img = a == null ? baseImg : Tensors.toFloats(Policy.sample(model, data, List.of(t), a, key, sigmas, Sampler.Solver.DPM2M, 1.0, ops));
        double qb = Quality.of(baseImg, data.source(t), data.target(t)), qc = Quality.of(img, data.source(t), data.target(t));
        Pictures.grid(out, List.of(new Pictures.Row(data.source(t), t.instruction(), baseImg, img, data.target(t),
                String.format(java.util.Locale.ROOT, "true quality: base %.2f → checkpoint %.2f", qb, qc))), data.size());
        System.out.printf("task %d (%s): \"%s\"  true quality: base %.3f, checkpoint %.3f  → %s%n", task, t.family().word,
                t.instruction(), qb, qc, out);
        return 0;
    }
}
