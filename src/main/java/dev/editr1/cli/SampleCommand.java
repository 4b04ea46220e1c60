package dev.editr1.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import dev.editr1.data.EditItem;
import dev.editr1.kernels.NoiseKey;
import dev.editr1.kernels.Tensors;
import dev.editr1.model.Adapter;
import dev.editr1.model.Checkpoints;
import dev.editr1.model.LoraSets;
import dev.editr1.train.NoiseStreams;
import dev.editr1.train.Pictures;
import dev.editr1.train.Rollouts;
import dev.editr1.train.RunContext;
import dev.editr1.world.Quality;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code editr1 sample}: edits one dataset task with the base and with an adapter, and writes a PNG. */
@Command(name = "sample", mixinStandardHelpOptions = true,
        description = "Edit one task with the base and an adapter; write source | base | adapter | target as a PNG.")
final class SampleCommand implements Callable<Integer> {
    @Mixin RunOptions run;

    @Option(names = "--adapter", description = "a LoRA adapter .safetensors") Path adapter;
    @Option(names = "--task", defaultValue = "0", description = "task index (default ${DEFAULT-VALUE})") int task;
    @Option(names = "--split", defaultValue = "heldout", description = "heldout or train") String split;
    @Option(names = "--seed", defaultValue = "0", description = "noise seed") long seed;
    @Option(names = "--out", defaultValue = "sample.png", description = "PNG to write (default ${DEFAULT-VALUE})") Path out;

    @Override
    public Integer call() throws Exception {
        try (RunContext ctx = RunContext.open(run.config(), System.err)) {
            List<EditItem> tasks = switch (split) {
                case "heldout" -> ctx.data.heldOut();
                case "train" -> ctx.data.train();
                default -> throw new IllegalArgumentException("--split must be heldout or train, got '" + split + "'");
            };
            if (task < 0 || task >= tasks.size())
                throw new IllegalArgumentException("--task must be in 0.." + (tasks.size() - 1) + ", got " + task);
            EditItem t = tasks.get(task);
            if (adapter != null) ctx.model.attachLora(LoraSets.single(Checkpoints.loadAdapter(ctx.model, adapter)));
            Rollouts rollouts = ctx.rollouts();
            NoiseKey key = NoiseStreams.SAMPLE.key(seed, 0);
            float[] baseImg = Tensors.toFloats(ctx.model.codec().decode(rollouts.sample(ctx.conditions(List.of(t)), Adapter.OFF, key)));
            float[] img = adapter == null ? baseImg
                    : Tensors.toFloats(ctx.model.codec().decode(rollouts.sample(ctx.conditions(List.of(t)), Adapter.POLICY, key)));
            float[] src = ctx.data.source(t), tgt = ctx.data.target(t);
            double qb = tgt == null ? Double.NaN : Quality.of(baseImg, src, tgt), qc = tgt == null ? Double.NaN : Quality.of(img, src, tgt);
            Pictures.grid(out, List.of(new Pictures.Row(src, t.prompt(), baseImg, img, tgt,
                    String.format(Locale.ROOT, "true quality: base %.2f → adapter %.2f", qb, qc))), ctx.data.resolution());
            System.out.printf(Locale.ROOT, "task %d (%s): \"%s\"  true quality: base %.3f, adapter %.3f  → %s%n", task, t.id(),
                    t.prompt(), qb, qc, out);
        }
        return 0;
    }
}
