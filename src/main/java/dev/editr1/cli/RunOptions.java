package dev.editr1.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import dev.editr1.train.TrainConfig;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * What every command that runs a model takes: the configuration ({@code --config}, {@code --set})
 * and the options that name the model, the data and the device. Applied in that order: file,
 * {@code --set}, then the named options.
 */
final class RunOptions {
    @Mixin DeviceOptions where;

    @Option(names = "--config", description = "a JSON file of configuration fields (as a run's config.json)")
    Path config;

    @Option(names = "--set", description = "set a configuration field, e.g. --set epochs=100 (repeatable)")
    List<String> sets;

    @Option(names = "--model", description = "the model: builtin (default)")
    String model;

    @Option(names = {"--weights", "--base"}, description = "the model's weights (default: the built-in model's embedded base)")
    String weights;

    @Option(names = "--data", description = "a dataset folder in Edit-R1's layout (default: the embedded world)")
    String data;

    @Option(names = "--threads", description = "CPU threads for libtorch (default 1); the CPU kernels' own: --set kernelThreads=N")
    Integer threads;

    /** The configuration these options describe (not yet validated). */
    TrainConfig config() throws IOException {
        TrainConfig cfg = new TrainConfig();
        if (config != null) {
            if (!Files.isRegularFile(config)) throw new IOException("config file " + config + " does not exist");
            cfg = TrainConfig.fromJson(Files.readString(config));
        }
        cfg.setAll(sets);
        apply(cfg);
        return cfg;
    }

    /** The named options onto a configuration. */
    void apply(TrainConfig cfg) {
        where.apply(cfg);
        if (model != null) cfg.set("model", model);
        if (weights != null) cfg.weights = weights;
        if (data != null) cfg.data = data;
        if (threads != null) cfg.threads = threads;
    }

    /** Whether an option that changes what a run computes was given (a resumed run refuses them). */
    boolean changesTheRun() {
        return config != null || (sets != null && !sets.isEmpty()) || model != null || weights != null || data != null;
    }

    /** {@link #changesTheRun} with the {@link #machineSetting machine settings} allowed: they do not change the math. */
    boolean changesTheRunBesidesDist() {
        boolean otherSets = sets != null && sets.stream().anyMatch(x -> !machineSetting(x));
        return config != null || otherSets || model != null || weights != null || data != null;
    }

    /**
     * A {@code --set} a resumed run may change: how it uses the machine, not what it computes — the
     * dist* settings, the CPU kernels' threads (bit-identical at any count: CpuPoolTest) and the
     * trainer's (forwardThreads: bit-identical, TrainerTest). Not
     * {@code blasThreads}: OpenBLAS's sums depend on its thread count, so the resumed run would not
     * end where an uninterrupted one does.
     */
    static boolean machineSetting(String set) {
        String key = set.trim().split("=", 2)[0].trim();
        return key.startsWith("dist") || key.equals("kernelThreads") || key.equals("forwardThreads");
    }
}
