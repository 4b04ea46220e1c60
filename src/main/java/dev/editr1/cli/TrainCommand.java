package dev.editr1.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import com.google.gson.Gson;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import dev.editr1.kernels.KernelOps;
import dev.editr1.model.EditDiT;
import dev.editr1.train.TrainConfig;
import dev.editr1.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code editr1 train}: with no arguments, post-trains the shipped base on the embedded world with
 * DiffusionNFT and the simulated judge, on the CPU, and compares base and trained on the held-out
 * split.
 */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Post-train with Edit-R1 (DiffusionNFT + judge logit reward). No arguments: the embedded default.")
final class TrainCommand implements Callable<Integer> {
    @Option(names = "--out", description = "run folder (default runs/<date-time>); must not exist unless resuming")
    Path out;

    @Option(names = "--resume", description = "continue the interrupted run in this folder")
    Path resume;

    @Option(names = "--config", description = "a JSON file of TrainConfig fields")
    Path config;

    @Option(names = "--set", description = "override a config field, e.g. --set epochs=100 (repeatable)")
    List<String> sets;

    @Option(names = "--epochs", description = "epochs (optimizer steps)")
    Integer epochs;

    @Option(names = "--seed", description = "run seed")
    Long seed;

    @Option(names = "--base", description = "base checkpoint (default: the embedded one)")
    String base;

    @Option(names = "--judge", description = "simulated (default) or an OpenAI-compatible base URL, e.g. http://HOST:PORT/v1")
    String judge;

    @Option(names = "--judge-model", description = "the judge server's model name (with an HTTP judge)")
    String judgeModel;

    @Option(names = "--nvtx", description = "NVTX ranges around training phases and kernel launches (for Nsight Systems)")
    boolean nvtx;

    @picocli.CommandLine.Mixin
    BackendOptions backend;

    @Override
    public Integer call() throws Exception {
        TrainConfig cfg;
        Path dir;
        if (resume != null) {
            dir = resume;
            Path saved = dir.resolve("config.json");
            if (!Files.isRegularFile(saved)) throw new IOException("cannot resume: " + saved + " does not exist");
            cfg = TrainConfig.fromJson(Files.readString(saved));
            if (epochs != null) cfg.epochs = epochs;
        } else {
            cfg = new TrainConfig();
            if (config != null) {
                if (!Files.isRegularFile(config)) throw new IOException("config file " + config + " does not exist");
                cfg = TrainConfig.fromJson(Files.readString(config));
            }
            applySets(cfg, sets);
            if (epochs != null) cfg.epochs = epochs;
            if (seed != null) cfg.seed = seed;
            if (base != null) cfg.basePath = base;
            if (judge != null) cfg.judge = judge;
            if (judgeModel != null) cfg.judgeModel = judgeModel;
            dir = out != null ? out : Path.of("runs", LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
            if (Files.exists(dir) && (!Files.isDirectory(dir) || Files.list(dir).findAny().isPresent()))
                throw new IllegalArgumentException("run folder " + dir + " exists and is not empty; pass --resume " + dir
                        + " to continue it, or another --out");
        }
        cfg.validate();   // before anything is written
        if (nvtx) dev.editr1.kernels.Nvtx.enable(true);
        KernelOps ops = backend.ops();
        EditDiT model = Common.base(cfg.basePath);
        System.out.println("editr1 train: run folder " + dir);
        System.out.println(cfg.toJson());
        Trainer t = new Trainer(cfg, ops, dir, System.out);
        try {
            t.setUp(model, resume != null);
            t.run();
            return 0;
        } finally {
            t.close();
        }
    }

    /** key=value pairs onto the config's fields (types from the config). */
    static void applySets(TrainConfig cfg, List<String> sets) {
        if (sets == null || sets.isEmpty()) return;
        Gson gson = new Gson();
        JsonObject o = JsonParser.parseString(gson.toJson(cfg)).getAsJsonObject();
        for (String s : sets) {
            int eq = s.indexOf('=');
            if (eq <= 0) throw new IllegalArgumentException("--set expects key=value, got '" + s + "'");
            String k = s.substring(0, eq), v = s.substring(eq + 1);
            JsonElement cur = o.get(k);
            if (cur == null) throw new IllegalArgumentException("--set: no config field '" + k + "'");
            if (cur.isJsonPrimitive() && cur.getAsJsonPrimitive().isString()) o.addProperty(k, v);
            else if (cur.isJsonPrimitive() && cur.getAsJsonPrimitive().isBoolean()) o.addProperty(k, Boolean.parseBoolean(v));
            else {
                try {
                    o.addProperty(k, Double.parseDouble(v));
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("--set " + k + ": '" + v + "' is not a number");
                }
            }
        }
        TrainConfig c2 = gson.fromJson(o, TrainConfig.class);
        for (Map.Entry<String, JsonElement> e : JsonParser.parseString(gson.toJson(c2)).getAsJsonObject().entrySet()) {
            try {
                var f = TrainConfig.class.getField(e.getKey());
                f.set(cfg, f.get(c2));
            } catch (ReflectiveOperationException ex) {
                throw new IllegalStateException(ex);
            }
        }
    }
}
