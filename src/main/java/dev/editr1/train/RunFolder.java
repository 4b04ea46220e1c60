package dev.editr1.train;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import dev.editr1.model.Checkpoints;
import dev.editr1.model.LoraSets;
import dev.editr1.model.Safetensors;

/**
 * A run's folder: {@code config.json}, {@code metrics.jsonl} (a function of the seed alone),
 * {@code timings.jsonl} (wall clock), {@code summary.json}, the pictures, and checkpoints —
 * {@code checkpoints/latest/} (θ, old and EMA adapters, AdamW state, the trainer's state; written to
 * a temporary folder and renamed, so a crash leaves the previous one whole) and
 * {@code checkpoints/final/} (the trained adapters).
 */
public final class RunFolder {
    /** What the trainer needs besides weights to continue a run exactly. */
    public record TrainerState(int epochsDone, long optimizerStep, double elapsedSeconds, Set<String> banned,
                               List<Double> rewardCurve, List<Double> qualityCurve) {}

    private final Path dir;
    private final boolean writes;
    private final Gson gson = Choices.gson(false);

    public RunFolder(Path dir) {
        this(dir, true);
    }

    private RunFolder(Path dir, boolean writes) {
        this.dir = dir;
        this.writes = writes;
    }

    /**
     * The folder as rank {@code rank} of a multi-process run sees it: rank 0 alone writes (and reads
     * checkpoints); on the other ranks every write is ignored, so they need no access to the folder.
     */
    public static RunFolder forRank(Path dir, int rank) {
        return new RunFolder(dir, rank == 0);
    }

    /** Whether this process writes the folder (rank 0, or the only process). */
    public boolean writes() {
        return writes;
    }

    public Path dir() {
        return dir;
    }

    public Path file(String name) {
        return dir.resolve(name);
    }

    private Path checkpoints() {
        return dir.resolve("checkpoints");
    }

    public void writeConfig(TrainConfig cfg) throws IOException {
        if (!writes) return;
        Files.createDirectories(dir);
        Checkpoints.writeAtomically(file("config.json"), cfg.toJson());
    }

    /** Appends one epoch's line to metrics.jsonl and to timings.jsonl. */
    public void append(Trainer.EpochMetrics m) throws IOException {
        append(m, Map.of());
    }

    /** As {@link #append(Trainer.EpochMetrics)}, with more fields at the end of the metrics line (the monitor's verdict). */
    public void append(Trainer.EpochMetrics m, Map<String, Object> more) throws IOException {
        if (!writes) return;
        Map<String, Object> line = new java.util.LinkedHashMap<>(m.metrics());
        line.putAll(more);
        append(file("metrics.jsonl"), gson.toJson(line));
        append(file("timings.jsonl"), gson.toJson(m.timings()));
    }

    private static void append(Path file, String line) throws IOException {
        Files.writeString(file, line + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    public void writeJson(String name, JsonObject o) throws IOException {
        if (!writes) return;
        Checkpoints.writeAtomically(file(name), Choices.gson(true).toJson(o));
    }

    /** Writes checkpoints/latest via latest.tmp, so a crash leaves the previous checkpoint whole. */
    public void checkpoint(LoraSets lora, AdamW optimizer, TrainerState st) throws IOException {
        if (!writes) return;
        Path tmp = checkpoints().resolve("latest.tmp");
        deleteTree(tmp);
        Files.createDirectories(tmp);
        Checkpoints.saveAdapter(lora.theta, tmp, "adapter_policy");
        Checkpoints.saveAdapter(lora.old, tmp, "adapter_old");
        Checkpoints.saveAdapter(lora.ema, tmp, "adapter_ema");
        Safetensors.write(tmp.resolve("optimizer.safetensors"), optimizer.state(), Map.of("step", String.valueOf(optimizer.step())));
        Checkpoints.writeAtomically(tmp.resolve("state.json"), stateJson(st));
        Path latest = checkpoints().resolve("latest"), old = checkpoints().resolve("latest.old");
        deleteTree(old);
        if (Files.exists(latest)) Files.move(latest, old);
        Files.move(tmp, latest);
        deleteTree(old);
    }

    /** The trainer state as the JSON of state.json (also how rank 0 hands it to the other ranks on a resume). */
    static String stateJson(TrainerState st) {
        JsonObject o = new JsonObject();
        o.addProperty("epochs_done", st.epochsDone());
        o.addProperty("optimizer_step", st.optimizerStep());
        o.addProperty("elapsed_seconds", st.elapsedSeconds());
        JsonArray b = new JsonArray();
        new TreeSet<>(st.banned()).forEach(b::add);
        o.add("banned", b);
        o.add("reward_curve", array(st.rewardCurve()));
        o.add("quality_curve", array(st.qualityCurve()));
        return Choices.gson(false).toJson(o);
    }

    /** Parses {@link #stateJson}; the optimizer step is the given one (the optimizer's own file says it). */
    static TrainerState parseState(JsonObject o, long optimizerStep) {
        Set<String> banned = new TreeSet<>();
        o.getAsJsonArray("banned").forEach(x -> banned.add(x.getAsString()));
        return new TrainerState(o.get("epochs_done").getAsInt(), optimizerStep, o.get("elapsed_seconds").getAsDouble(), banned,
                doubles(o.getAsJsonArray("reward_curve")), doubles(o.getAsJsonArray("quality_curve")));
    }

    /** Parses {@link #stateJson} with its own optimizer step. */
    static TrainerState parseState(String json) {
        JsonObject o = JsonParser.parseString(json).getAsJsonObject();
        return parseState(o, o.get("optimizer_step").getAsLong());
    }

    private static JsonArray array(List<Double> xs) {
        JsonArray a = new JsonArray();
        xs.forEach(a::add);
        return a;
    }

    /**
     * Restores the last checkpoint into the adapters and the optimizer, truncates metrics.jsonl and
     * timings.jsonl to the epochs it covers (later lines belong to epochs that run again), and
     * returns the trainer's state.
     */
    public TrainerState restore(LoraSets lora, AdamW optimizer) throws IOException {
        if (!writes) throw new IllegalStateException("only rank 0 reads the run folder's checkpoint");
        Path latest = checkpoints().resolve("latest");
        if (!Files.isRegularFile(latest.resolve("state.json"))) latest = checkpoints().resolve("latest.old");
        if (!Files.isRegularFile(latest.resolve("state.json")))
            throw new IOException("no checkpoint to resume in " + checkpoints());
        JsonObject o;
        try {
            o = JsonParser.parseString(Files.readString(latest.resolve("state.json"))).getAsJsonObject();
        } catch (RuntimeException e) {
            throw new IOException("checkpoint state " + latest.resolve("state.json") + " does not parse: " + e.getMessage());
        }
        Checkpoints.loadAdapterInto(lora.theta, latest, "adapter_policy");
        Checkpoints.loadAdapterInto(lora.old, latest, "adapter_old");
        Checkpoints.loadAdapterInto(lora.ema, latest, "adapter_ema");
        Safetensors.Contents opt = Safetensors.read(latest.resolve("optimizer.safetensors"));
        optimizer.loadState(opt.tensors(), Long.parseLong(opt.metadata().getOrDefault("step", "0")));
        TrainerState st;
        try {
            st = parseState(o, optimizer.step());
        } catch (RuntimeException e) {
            throw new IOException("checkpoint state " + latest.resolve("state.json") + " lacks a field: " + e.getMessage());
        }
        for (String f : List.of("metrics.jsonl", "timings.jsonl")) {
            Path file = file(f);
            if (!Files.exists(file)) continue;
            List<String> lines = Files.readAllLines(file);
            int keep = st.epochsDone();
            if (lines.size() > keep)
                Checkpoints.writeAtomically(file, String.join("\n", lines.subList(0, keep)) + (keep > 0 ? "\n" : ""));
        }
        return st;
    }

    private static List<Double> doubles(JsonArray a) {
        List<Double> out = new ArrayList<>();
        for (JsonElement x : a) out.add(x.isJsonNull() ? Double.NaN : x.getAsDouble());
        return out;
    }

    /** checkpoints/final: the EMA adapter (the trained model) and the policy adapter. */
    public Path writeFinal(LoraSets lora) throws IOException {
        Path fin = checkpoints().resolve("final");
        if (!writes) return fin;
        Checkpoints.saveAdapter(lora.ema, fin, "adapter_ema");
        Checkpoints.saveAdapter(lora.theta, fin, "adapter_policy");
        return fin;
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (var walk = Files.walk(p)) {
            for (Path q : walk.sorted(Comparator.reverseOrder()).toList()) Files.delete(q);
        }
    }
}
