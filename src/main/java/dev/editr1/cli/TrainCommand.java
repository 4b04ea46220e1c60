package dev.editr1.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.concurrent.Callable;

import dev.editr1.kernels.Nvtx;
import dev.editr1.train.RunContext;
import dev.editr1.train.RunFolder;
import dev.editr1.train.TrainConfig;
import dev.editr1.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code editr1 train}: with no arguments, post-trains the shipped base on the embedded world with
 * DiffusionNFT and the simulated judge, on the CPU, and compares base and trained on the held-out
 * split. Any model, dataset, judge and device through the options; {@code --objective grpo} trains
 * with the Flow-GRPO baseline instead.
 */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Post-train with Edit-R1 (DiffusionNFT + judge logit reward). No arguments: the embedded default.")
final class TrainCommand implements Callable<Integer> {
    @Mixin RunOptions run;
    @Mixin JudgeOptions judge;

    @Option(names = "--out", description = "run folder (default runs/<date-time>); must not exist unless resuming")
    Path out;

    @Option(names = "--resume", description = "continue the interrupted run in this folder (its saved configuration; "
            + "only --epochs, --device and --threads may change)")
    Path resume;

    @Option(names = "--epochs", description = "epochs (optimizer steps)")
    Integer epochs;

    @Option(names = "--seed", description = "run seed")
    Long seed;

    @Option(names = "--objective", description = "nft (DiffusionNFT, default) or grpo (the Flow-GRPO baseline)")
    String objective;

    @Option(names = "--nvtx", description = "NVTX ranges around training phases and kernel launches (for Nsight Systems)")
    boolean nvtx;

    @Override
    public Integer call() throws Exception {
        TrainConfig cfg;
        Path dir;
        if (resume != null) {
            if (run.changesTheRun() || seed != null || objective != null || run.where.impl != null)
                throw new IllegalArgumentException("--resume continues the run's saved configuration; only --epochs, --device "
                        + "and --threads may change");
            dir = resume;
            Path saved = dir.resolve("config.json");
            if (!Files.isRegularFile(saved)) throw new IOException("cannot resume: " + saved + " does not exist");
            cfg = TrainConfig.fromJson(Files.readString(saved));
            run.apply(cfg);
        } else {
            cfg = run.config();
            if (seed != null) cfg.seed = seed;
            if (objective != null) cfg.set("objective", objective);
            dir = out != null ? out : Path.of("runs", LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
            if (Files.exists(dir) && (!Files.isDirectory(dir) || Files.list(dir).findAny().isPresent()))
                throw new IllegalArgumentException("run folder " + dir + " exists and is not empty; pass --resume " + dir
                        + " to continue it, or another --out");
        }
        judge.apply(cfg);
        if (epochs != null) cfg.epochs = epochs;
        cfg.validate();   // before anything is written
        if (nvtx) Nvtx.enable(true);
        try (RunContext ctx = RunContext.open(cfg, System.out)) {
            System.out.println("editr1 train: run folder " + dir);
            System.out.println(cfg.toJson());
            Trainer t = new Trainer(ctx, new RunFolder(dir), System.out);
            t.setUp(resume != null);
            t.run();
            return 0;
        }
    }
}
