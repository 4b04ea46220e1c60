package dev.editr1.train;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
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
 * {@code checkpoints/latest/} (θ, old and EMA adapters, AdamW state, the trainer's state, and
 * {@code manifest.json} with every file's size and SHA-256; written to a temporary folder, fsynced,
 * then renamed, so a crash leaves the previous one whole, and a resume verifies the manifest) and
 * {@code checkpoints/final/} (the trained adapters).
 *
 * <p>A process that trains into the folder holds an exclusive lock on {@code .editr1.lock} (the OS
 * releases it when the process dies, however it dies): a second run into the same folder is refused.
 */
public final class RunFolder {
    /** What the trainer needs besides weights to continue a run exactly. */
    public record TrainerState(int epochsDone, long optimizerStep, double elapsedSeconds, Set<String> banned,
                               List<Double> rewardCurve, List<Double> qualityCurve) {}

    private final Path dir;
    private final boolean writes;
    private final Gson gson = Choices.gson(false);
    private FileChannel lockChannel;
    private FileLock lock;

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

    /** The lock file's name inside the run folder. */
    public static final String LOCK_FILE = ".editr1.lock";

    /**
     * Takes the folder's lock for this process (rank 0 or the only process; a no-op elsewhere and
     * when already held). Another process holding it — a run still training into the folder — is
     * an {@link IOException} naming the folder and that process.
     */
    public synchronized void lock() throws IOException {
        if (!writes || lock != null) return;
        Files.createDirectories(dir);
        Path f = dir.resolve(LOCK_FILE);
        FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        FileLock l;
        try {
            l = ch.tryLock();
        } catch (OverlappingFileLockException e) {
            l = null;   // this JVM holds it: another trainer of this process writes the folder
        }
        if (l == null) {
            String holder = "";
            try {
                holder = Files.readString(f).trim();
            } catch (IOException e) {
                // the holder's pid is a courtesy
            }
            ch.close();
            throw new IOException("run folder " + dir + " is in use by another editr1 run" + (holder.isEmpty() ? "" : " (" + holder + ")")
                    + "; wait for it to end, or train into another folder");
        }
        ch.truncate(0);
        ch.write(ByteBuffer.wrap(("pid " + ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.UTF_8)), 0);
        lockChannel = ch;
        lock = l;
    }

    /** Releases the folder's lock (the process's exit does too). */
    public synchronized void unlock() {
        if (lock == null) return;
        try {
            lock.release();
            lockChannel.close();
        } catch (IOException e) {
            // closing the channel releases the lock either way
        }
        lock = null;
        lockChannel = null;
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

    /** The checkpoint's manifest: every other file's size and SHA-256, checked on resume. */
    static final String MANIFEST = "manifest.json";

    /**
     * Writes checkpoints/latest via latest.tmp: the files, their manifest, fsync of each and of the
     * folder, then the rename — so a crash at any moment leaves the previous checkpoint whole and a
     * renamed one complete on disk.
     */
    public void checkpoint(LoraSets lora, AdamW optimizer, TrainerState st) throws IOException {
        if (!writes) return;
        Path tmp = checkpoints().resolve("latest.tmp");
        deleteTree(tmp);
        Files.createDirectories(tmp);
        Checkpoints.saveAdapter(lora.theta, tmp, "adapter_policy");
        Checkpoints.saveAdapter(lora.old, tmp, "adapter_old");
        Inject.haltIf("halt-in-checkpoint", st.epochsDone());   // test hook: a kill with half the files written
        Checkpoints.saveAdapter(lora.ema, tmp, "adapter_ema");
        Safetensors.write(tmp.resolve("optimizer.safetensors"), optimizer.state(), Map.of("step", String.valueOf(optimizer.step())));
        Checkpoints.writeAtomically(tmp.resolve("state.json"), stateJson(st));
        JsonObject manifest = new JsonObject();
        try (var files = Files.list(tmp)) {
            for (Path f : files.sorted().toList()) {
                JsonObject e = new JsonObject();
                e.addProperty("bytes", Files.size(f));
                e.addProperty("sha256", sha256(f));
                manifest.add(f.getFileName().toString(), e);
            }
        }
        Files.writeString(tmp.resolve(MANIFEST), Choices.gson(true).toJson(manifest));
        try (var files = Files.list(tmp)) {
            for (Path f : files.toList()) fsync(f);
        }
        fsync(tmp);
        Path latest = checkpoints().resolve("latest"), old = checkpoints().resolve("latest.old");
        deleteTree(old);
        if (Files.exists(latest)) Files.move(latest, old);
        Files.move(tmp, latest);
        fsync(checkpoints());
        deleteTree(old);
    }

    /** Flushes a file's (or a folder's entries') data to the disk. */
    static void fsync(Path p) throws IOException {
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }

    static String sha256(Path f) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        byte[] buf = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(f)) {
            for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
        }
        return java.util.HexFormat.of().formatHex(md.digest());
    }

    /**
     * Checks a checkpoint folder against its manifest: every listed file present with its size and
     * SHA-256. A checkpoint written before manifests existed passes with nothing to check.
     */
    static void verify(Path ckpt) throws IOException {
        Path m = ckpt.resolve(MANIFEST);
        if (!Files.exists(m)) return;
        JsonObject manifest;
        try {
            manifest = JsonParser.parseString(Files.readString(m)).getAsJsonObject();
        } catch (RuntimeException e) {
            throw new IOException("checkpoint manifest " + m + " does not parse (" + e.getMessage() + "); the checkpoint is damaged");
        }
        for (Map.Entry<String, JsonElement> e : manifest.entrySet()) {
            Path f = ckpt.resolve(e.getKey());
            JsonObject want = e.getValue().getAsJsonObject();
            if (!Files.isRegularFile(f)) throw new IOException("checkpoint file " + f + " is missing (listed in " + m + ")");
            long bytes = Files.size(f), wantBytes = want.get("bytes").getAsLong();
            if (bytes != wantBytes)
                throw new IOException("checkpoint file " + f + " has " + bytes + " bytes, its manifest says " + wantBytes
                        + " (truncated or overwritten); the checkpoint is damaged");
            if (!sha256(f).equals(want.get("sha256").getAsString()))
                throw new IOException("checkpoint file " + f + " does not match its SHA-256 in " + m + "; the checkpoint is damaged");
        }
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
     * returns the trainer's state. A run stopped before its first checkpoint starts over (state of
     * epoch 0, logs emptied).
     */
    public TrainerState restore(LoraSets lora, AdamW optimizer) throws IOException {
        if (!writes) throw new IllegalStateException("only rank 0 reads the run folder's checkpoint");
        Path latest = checkpoints().resolve("latest");
        if (!Files.isRegularFile(latest.resolve("state.json"))) latest = checkpoints().resolve("latest.old");
        if (!Files.isRegularFile(latest.resolve("state.json"))) {
            // stopped before its first checkpoint: the run starts over (what it had logged is dropped)
            TrainerState start = new TrainerState(0, 0, 0, Set.of(), List.of(), List.of());
            truncateLogs(0);
            return start;
        }
        verify(latest);
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
        truncateLogs(st.epochsDone());
        return st;
    }

    /** Cuts metrics.jsonl and timings.jsonl to their first {@code keep} lines (later ones belong to epochs that run again). */
    private void truncateLogs(int keep) throws IOException {
        for (String f : List.of("metrics.jsonl", "timings.jsonl")) {
            Path file = file(f);
            if (!Files.exists(file)) continue;
            List<String> lines = Files.readAllLines(file);
            if (lines.size() < keep)
                throw new IOException(file + " has " + lines.size() + " lines but the checkpoint is after epoch " + keep
                        + " (the file was cut short); restore it or start a new run");
            for (int i = 0; i < keep; i++)
                try {
                    JsonParser.parseString(lines.get(i)).getAsJsonObject();
                } catch (RuntimeException e) {
                    throw new IOException(file + " line " + (i + 1) + " is not a JSON object (the file was cut short or edited): "
                            + e.getMessage());
                }
            if (lines.size() > keep)
                Checkpoints.writeAtomically(file, String.join("\n", lines.subList(0, keep)) + (keep > 0 ? "\n" : ""));
        }
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
