package dev.editr1.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

import dev.editr1.train.Sft;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code editr1 sft}: trains the base model by plain flow matching on the world's train split. */
@Command(name = "sft", mixinStandardHelpOptions = true,
        description = "Train the base editing model by flow matching on the embedded world (makes the shipped base checkpoint).")
final class SftCommand implements Callable<Integer> {
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

    @Option(names = "--model", description = "model preset: tiny, small, base, large (default tiny)")
    String model;

    @Option(names = "--threads", description = "libtorch threads (default 1)")
    Integer threads;

    @Option(names = "--force", description = "overwrite an existing --out file")
    boolean force;

    @picocli.CommandLine.Mixin
    BackendOptions backend;

    @Override
    public Integer call() throws Exception {
        if (Files.exists(out) && !force)
            throw new IllegalArgumentException(out + " exists; pass --force to overwrite it");
        Sft.Config c = new Sft.Config();
        if (steps != null) c.steps = steps;
        if (batch != null) c.batch = batch;
        if (lr != null) c.lr = lr;
        if (seed != null) c.seed = seed;
        if (model != null) c.modelPreset = model;
        if (threads != null) c.threads = threads;
        new Sft(c, backend.ops(), System.out).run(out);
        return 0;
    }
}
