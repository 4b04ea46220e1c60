package dev.editr1.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import dev.editr1.model.EditingModel;
import dev.editr1.train.RunContext;
import dev.editr1.train.Sft;
import dev.editr1.train.TrainConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code editr1 sft}: trains a model from scratch (or, with {@code --continue}, from its weights) by
 * plain flow matching on a dataset's targets.
 */
@Command(name = "sft", mixinStandardHelpOptions = true,
        description = "Train the built-in editing model by flow matching, from scratch (makes the shipped base checkpoint) or --continue from its weights.")
final class SftCommand implements Callable<Integer> {
    @Mixin RunOptions run;

    @Option(names = "--out", defaultValue = "base.safetensors", description = "checkpoint to write (default ${DEFAULT-VALUE})")
    Path out;

    @Option(names = "--steps", description = "optimizer steps (default 3000)")
    Integer steps;

    @Option(names = "--batch", description = "batch size (default 64)")
    Integer batch;

    @Option(names = "--lr", description = "learning rate (default 2e-3)")
    Double lr;

    @Option(names = "--seed", description = "seed (default 7)")
    Long seed;

    @Option(names = "--preset", description = "model size preset: tiny, small, base, large (default tiny)")
    String preset;

    @Option(names = "--force", description = "overwrite an existing --out file")
    boolean force;

    @Option(names = "--continue", description = "start from the model's weights (--weights; default the shipped base) instead of from scratch")
    boolean fromWeights;

    @Override
    public Integer call() throws Exception {
        if (Files.exists(out) && !force)
            throw new IllegalArgumentException(out + " exists; pass --force to overwrite it");
        if (fromWeights && preset != null)
            throw new IllegalArgumentException("--preset sizes a model trained from scratch; --continue trains the model --weights names");
        Sft.Config c = new Sft.Config();
        if (steps != null) c.steps = steps;
        if (batch != null) c.batch = batch;
        if (lr != null) c.lr = lr;
        if (seed != null) c.seed = seed;
        if (preset != null) c.modelPreset = preset;
        TrainConfig cfg = run.config();
        try (RunContext ctx = RunContext.open(cfg, System.out, null,
                fromWeights ? null : (conf, device) -> conf.model.fresh(c.modelPreset, conf.imageSize, c.seed, device))) {
            Sft sft = new Sft(c, ctx, System.out);
            EditingModel m = sft.run();
            java.util.Map<String, String> recipe = new java.util.LinkedHashMap<>(sft.recipe());
            // a continued checkpoint names what it continued, so its recipe is not read as one from scratch
            if (fromWeights) recipe.put("editr1.sft.continued_from", m.describe());
            cfg.model.saveBase(m, out, recipe);
            System.out.println("sft: base checkpoint written to " + out);
        }
        return 0;
    }
}
