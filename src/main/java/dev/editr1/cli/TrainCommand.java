package dev.editr1.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import dev.editr1.dist.C10dCollective;
import dev.editr1.dist.DistEnv;
import dev.editr1.dist.Launcher;
import dev.editr1.kernels.Backend;

import dev.editr1.kernels.Nvtx;
import dev.editr1.train.RunContext;
import dev.editr1.train.RunFolder;
import dev.editr1.train.TrainConfig;
import dev.editr1.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code editr1 train}: with no arguments, post-trains the shipped base on the embedded world with
 * DiffusionNFT and the simulated judge, on the CPU, and compares base and trained on the held-out
 * split. Any model, dataset, judge and device through the options; {@code --objective grpo} trains
 * with the Flow-GRPO baseline instead.
 *
 * <p>Many processes: under torchrun (or any launcher that sets RANK, WORLD_SIZE, LOCAL_RANK,
 * MASTER_ADDR and MASTER_PORT: {@link DistEnv}) each process is one rank of a data-parallel run on
 * c10d — Gloo for the CPU, NCCL for CUDA on cuda:LOCAL_RANK. {@code --nproc N} starts N local ranks
 * itself ({@link Launcher}). Rank 0's configuration is the run's: the others check that theirs
 * agrees (on a resume they take it, so only rank 0 needs to see the run folder).
 */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Post-train with Edit-R1 (DiffusionNFT + judge logit reward). No arguments: the embedded default.")
final class TrainCommand implements Callable<Integer> {
    @Mixin RunOptions run;
    @Mixin JudgeOptions judge;

    @Option(names = "--out", description = "run folder (default runs/<date-time>); must not exist unless resuming")
    Path out;

    @Option(names = "--resume", description = "continue the interrupted run in this folder (its saved configuration; "
            + "only --epochs, --device, --threads and --set of dist*, kernelThreads and forwardThreads may change)")
    Path resume;

    @Option(names = "--epochs", description = "epochs (optimizer steps)")
    Integer epochs;

    @Option(names = "--seed", description = "run seed")
    Long seed;

    @Option(names = "--objective", description = "nft (DiffusionNFT, default) or grpo (the Flow-GRPO baseline)")
    String objective;

    @Option(names = "--nvtx", description = "NVTX ranges around training phases and kernel launches (for Nsight Systems)")
    boolean nvtx;

    @Option(names = "--nproc", description = "start N ranks on this machine (data-parallel on c10d's Gloo, or NCCL on "
            + "cuda:0..N-1), as torchrun --nproc-per-node N would")
    Integer nproc;

    @Spec CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        DistEnv env = DistEnv.fromEnvironment();
        if (nproc != null && nproc != 1) return launch(env);   // --nproc 1 is this process
        boolean lead = env.rank() == 0;   // rank 0 (or the only process) owns the run folder
        TrainConfig cfg;
        Path dir;
        if (resume != null) {
            if (run.changesTheRunBesidesDist() || seed != null || objective != null || run.where.impl != null)
                throw new IllegalArgumentException("--resume continues the run's saved configuration; only --epochs, --device, "
                        + "--threads and the dist*, kernelThreads and forwardThreads settings may change");
            dir = resume;
            Path saved = dir.resolve("config.json");
            if (lead) {
                if (!Files.isRegularFile(saved)) throw new IOException("cannot resume: " + saved + " does not exist");
                try {
                    cfg = TrainConfig.fromJson(Files.readString(saved));
                } catch (IllegalArgumentException e) {
                    throw new IOException("cannot resume: " + saved + ": " + e.getMessage());
                }
            } else cfg = new TrainConfig();   // a placeholder until rank 0's arrives (the folder may be on rank 0's machine only)
            cfg.setAll(run.sets);
            run.apply(cfg);
        } else {
            cfg = run.config();
            if (seed != null) cfg.seed = seed;
            if (objective != null) cfg.set("objective", objective);
            dir = out != null ? out : defaultRunFolder();
            if (lead && Files.exists(dir) && (!Files.isDirectory(dir) || holdsMoreThanALock(dir)))
                throw new IllegalArgumentException("run folder " + dir + " exists and is not empty; pass --resume " + dir
                        + " to continue it, or another --out");
        }
        judge.apply(cfg);
        if (epochs != null) cfg.epochs = epochs;
        cfg.validate();   // before anything is written
        if (nvtx) Nvtx.enable(true);
        if (env.distributed()) return distributed(env, cfg, dir);
        try (RunContext ctx = RunContext.open(cfg, System.out)) {
            System.out.println("editr1 train: run folder " + dir);
            System.out.println(cfg.toJson());
            Trainer t = new Trainer(ctx, new RunFolder(dir), System.out);
            t.setUp(resume != null);
            t.run();
            return 0;
        }
    }

    /** A folder with files besides a run's lock (a run that stopped before its first write leaves only that). */
    private static boolean holdsMoreThanALock(Path dir) throws IOException {
        try (var files = Files.list(dir)) {
            return files.anyMatch(f -> !f.getFileName().toString().equals(RunFolder.LOCK_FILE));
        }
    }

    private static Path defaultRunFolder() {
        return Path.of("runs", LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
    }

    /** --nproc N: this process becomes the launcher of N ranks with the same arguments. */
    private int launch(DistEnv env) throws IOException, InterruptedException {
        if (nproc < 1) throw new IllegalArgumentException("--nproc must be >= 1 (got " + nproc + ")");
        if (env.distributed())
            throw new IllegalArgumentException("--nproc starts the ranks itself; this process already is rank " + env.rank() + " of "
                    + env.worldSize() + " (RANK and WORLD_SIZE are set)");
        List<String> args = Launcher.withoutNproc(spec.commandLine().getParseResult().originalArgs());
        if (resume == null && out == null) {   // one folder for every rank, named once
            args = new ArrayList<>(args);
            args.add("--out");
            args.add(defaultRunFolder().toString());
        }
        TrainConfig cfg = resume == null ? run.config() : new TrainConfig();
        if (resume != null) cfg.setAll(run.sets);
        // the ranks stop by themselves within their heartbeat timeout of a failure; then the launcher kills what is left
        return Launcher.run(nproc, Main.class.getName(), args, cfg.distHeartbeatTimeoutSeconds + 5, System.out, System.err);
    }

    /**
     * One rank of many: join the run (store, liveness, process group), take rank 0's configuration,
     * train. A failure of this rank is announced to the others before the exception leaves.
     */
    private int distributed(DistEnv env, TrainConfig cfg, Path dir) throws Exception {
        cfg.device = rankDevice(cfg, env);
        Backend backend = Backend.resolve(cfg.device, cfg.impl, Backend.checkFiniteSetting());
        C10dCollective c = C10dCollective.open(env, C10dCollective.Settings.of(cfg), backend.device(), System.out, System.err);
        try {
            // rank 0's configuration and folder are the run's
            String shared = c.broadcast(env.rank() == 0 ? dir + "\n" + cfg.toJson() : "");
            int nl = shared.indexOf('\n');
            if (env.rank() != 0) {
                TrainConfig lead = TrainConfig.fromJson(shared.substring(nl + 1));
                List<String> diff = differences(lead, cfg);
                if (resume == null && !diff.isEmpty())
                    throw new IllegalArgumentException("rank " + env.rank() + " was started with another configuration than rank 0: "
                            + String.join(", ", diff) + " (every rank must get the same arguments)");
                lead.device = cfg.device;
                lead.threads = cfg.threads;
                lead.kernelThreads = cfg.kernelThreads;
                lead.forwardThreads = cfg.forwardThreads;
                lead.blasThreads = cfg.blasThreads;
                cfg = lead;
                dir = Path.of(shared.substring(0, nl));
            }
            try (RunContext ctx = RunContext.open(cfg, System.out)) {
                if (env.rank() == 0) {
                    System.out.println("editr1 train: run folder " + dir + " (written by rank 0 of " + env.worldSize() + ")");
                    System.out.println(cfg.toJson());
                }
                Trainer t = new Trainer(ctx, RunFolder.forRank(dir, env.rank()), System.out, c);
                t.setUp(resume != null);
                t.run();
            }
            c.close();
            return 0;
        } catch (Throwable e) {
            c.abort(e);
            if (e instanceof IllegalArgumentException || e instanceof IllegalStateException || e instanceof IOException)
                throw new IllegalStateException("rank " + env.rank() + ": " + e.getMessage(), e);
            throw e;
        }
    }

    /**
     * The device of this rank: {@code cuda} (and {@code auto} where CUDA can be used) become
     * cuda:LOCAL_RANK, one GPU per rank as torchrun runs; {@code cpu} and an explicit cuda:N stay.
     */
    static String rankDevice(TrainConfig cfg, DistEnv env) {
        Backend.DeviceSpec d = Backend.DeviceSpec.parse(cfg.device);
        if (d.auto()) return Backend.probe().whyNotCuda(cfg.impl, env.localRank()) == null ? "cuda:" + env.localRank() : cfg.device;
        if (d.kind() == Backend.Kind.CUDA && cfg.device.trim().equalsIgnoreCase("cuda")) return "cuda:" + env.localRank();
        return cfg.device;
    }

    /** The settings in which two configurations differ, besides the per-rank device and thread counts. */
    static List<String> differences(TrainConfig lead, TrainConfig mine) {
        JsonObject a = JsonParser.parseString(lead.toJson()).getAsJsonObject(), b = JsonParser.parseString(mine.toJson()).getAsJsonObject();
        List<String> out = new ArrayList<>();
        for (String k : a.keySet()) {
            if (k.equals("device") || k.equals("threads") || k.equals("kernelThreads") || k.equals("forwardThreads")
                    || k.equals("blasThreads")) continue;
            if (!a.get(k).equals(b.get(k))) out.add(k + " (rank 0: " + a.get(k) + ", here: " + b.get(k) + ")");
        }
        return out;
    }
}
