package dev.editr1.ablate;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import dev.editr1.model.Checkpoints;
import dev.editr1.train.Choices;
import dev.editr1.train.TrainConfig;

/**
 * Runs an {@link AblationSpec}: one {@code train} run per (variant, seed), each a child JVM
 * ({@code java -cp <this class path> dev.editr1.cli.Main train …}) so runs are isolated and can run
 * side by side, then writes the report ({@link AblationReport}).
 *
 * <p>The output folder holds {@code ablation.json} (the spec), {@code configs/<variant>.json} (each
 * variant's resolved configuration, seed aside), {@code runs/<variant>/seed-<s>/} (a run folder
 * each), {@code logs/<variant>-seed-<s>.log} (each child's output, appended across attempts) and the
 * report. Running the same command again resumes the ablation:
 * <ul>
 *   <li>a run with a {@code summary.json} is finished and skipped;</li>
 *   <li>a run with a checkpoint is resumed from it ({@code train --resume}): with an epoch budget it
 *       ends exactly as an uninterrupted run would; with a seconds budget it continues with the
 *       training time it had already spent;</li>
 *   <li>a run that stopped before its first checkpoint is deleted and run again from the start.</li>
 * </ul>
 * A run folder whose saved configuration differs from what the spec now asks for is an error (before
 * anything starts): the spec changed under it.
 */
public final class Ablation {
    /** What a run needs: nothing (finished), a resume, or a start from scratch. */
    public enum State { DONE, RESUME, FRESH }

    /** One (variant, seed). */
    public record Run(AblationSpec.Variant variant, long seed, Path dir, Path log) {
        public String label() {
            return variant.name() + " seed " + seed;
        }
    }

    /** How the ablation ended: the runs that failed (exit code ≠ 0), by label. */
    public record Outcome(List<String> failed, int started, int skipped) {}

    private final AblationSpec spec;
    private final Path out;
    private final PrintStream log;
    private final List<Run> runs = new ArrayList<>();

    public Ablation(AblationSpec spec, Path out, PrintStream log) {
        this.spec = spec;
        this.out = out;
        this.log = log;
        for (AblationSpec.Variant v : spec.variants())
            for (long s : spec.seeds())
                runs.add(new Run(v, s, out.resolve("runs").resolve(v.name()).resolve("seed-" + s),
                        out.resolve("logs").resolve(v.name() + "-seed-" + s + ".log")));
    }

    public List<Run> runs() {
        return Collections.unmodifiableList(runs);
    }

    public Path out() {
        return out;
    }

    /**
     * A run's state from its folder.
     *
     * @throws IllegalStateException when the folder holds a run of another configuration
     */
    public State state(Run r) throws IOException {
        Path cfgFile = r.dir().resolve("config.json");
        boolean done = Files.isRegularFile(r.dir().resolve("summary.json"));
        boolean checkpoint = Files.isRegularFile(r.dir().resolve("checkpoints/latest/state.json"))
                || Files.isRegularFile(r.dir().resolve("checkpoints/latest.old/state.json"));
        if (!done && !checkpoint) return State.FRESH;
        if (!Files.isRegularFile(cfgFile)) throw new IllegalStateException(r.dir() + " has results but no config.json");
        String saved = TrainConfig.fromJson(Files.readString(cfgFile)).toJson(), expected = spec.config(r.variant(), r.seed()).toJson();
        if (!saved.equals(expected))
            throw new IllegalStateException(r.dir() + " holds a run of another configuration than the ablation now asks for ("
                    + differences(saved, expected) + "); delete it, or write the ablation to another --out");
        return done ? State.DONE : State.RESUME;
    }

    private static String differences(String a, String b) {
        JsonObject x = JsonParser.parseString(a).getAsJsonObject(), y = JsonParser.parseString(b).getAsJsonObject();
        List<String> d = new ArrayList<>();
        for (String k : y.keySet())
            if (!String.valueOf(x.get(k)).equals(String.valueOf(y.get(k)))) d.add(k + ": " + x.get(k) + " there, " + y.get(k) + " now");
        return d.isEmpty() ? "formatting" : String.join(", ", d);
    }

    /** The child JVM's command for a run. */
    List<String> command(Run r, State st) {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        if (spec.jvmArgs() != null) cmd.addAll(spec.jvmArgs());
        else
            for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments())
                if (!a.startsWith("-agentlib:jdwp") && !a.startsWith("-Xrunjdwp") && !a.startsWith("-javaagent")) cmd.add(a);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add("dev.editr1.cli.Main");
        cmd.add("train");
        if (st == State.RESUME) {
            cmd.add("--resume");
            cmd.add(r.dir().toString());
        } else {
            cmd.add("--out");
            cmd.add(r.dir().toString());
            cmd.add("--config");
            cmd.add(configFile(r.variant()).toString());
            cmd.add("--seed");
            cmd.add(String.valueOf(r.seed()));
        }
        return cmd;
    }

    private Path configFile(AblationSpec.Variant v) {
        return out.resolve("configs").resolve(v.name() + ".json");
    }

    /**
     * Runs what is not finished, {@code parallel} at a time (0: the spec's choice), then writes the
     * report.
     */
    public Outcome run(int parallel) throws IOException, InterruptedException {
        int par = parallel > 0 ? parallel : spec.parallelism();
        List<Run> todo = new ArrayList<>();
        List<State> states = new ArrayList<>();
        int skipped = 0;
        for (Run r : runs) {   // every folder is checked before anything is written or started
            State st = state(r);
            if (st == State.DONE) skipped++;
            else {
                todo.add(r);
                states.add(st);
            }
        }
        Files.createDirectories(out.resolve("logs"));
        Checkpoints.writeAtomically(out.resolve("ablation.json"), Choices.gson(true).toJson(spec.toJson()));
        for (AblationSpec.Variant v : spec.variants())
            Checkpoints.writeAtomically(configFile(v), spec.config(v, spec.seeds().get(0)).toJson());
        log.printf(Locale.ROOT, "editr1 ablate: %d variants × %d seeds, %s each; %d finished, %d to run, %d at a time; output %s%n",
                spec.variants().size(), spec.seeds().size(), spec.describeBudget(), skipped, todo.size(), par, out);
        List<String> failed = Collections.synchronizedList(new ArrayList<>());
        List<Process> live = Collections.synchronizedList(new ArrayList<>());
        Thread hook = new Thread(() -> {   // an interrupted ablation leaves its children's checkpoints, not its children
            synchronized (live) {
                live.forEach(Process::destroy);
            }
        });
        Runtime.getRuntime().addShutdownHook(hook);
        ExecutorService pool = Executors.newFixedThreadPool(par);
        AtomicInteger counter = new AtomicInteger();
        try {
            List<Future<?>> fs = new ArrayList<>();
            for (int i = 0; i < todo.size(); i++) {
                Run r = todo.get(i);
                State st = states.get(i);
                fs.add(pool.submit(() -> {
                    int k = counter.incrementAndGet();
                    String tag = String.format(Locale.ROOT, "[%d/%d] %s", k, todo.size(), r.label());
                    try {
                        if (st == State.FRESH && Files.exists(r.dir())) deleteTree(r.dir());   // died before its first checkpoint
                        Files.createDirectories(r.dir().getParent());
                        log.println(tag + ": " + (st == State.RESUME ? "resuming from its last checkpoint" : "starting"));
                        long t0 = System.nanoTime();
                        ProcessBuilder pb = new ProcessBuilder(command(r, st)).redirectErrorStream(true)
                                .redirectOutput(ProcessBuilder.Redirect.appendTo(r.log().toFile()));
                        Process p = pb.start();
                        live.add(p);
                        int code = p.waitFor();
                        live.remove(p);
                        double sec = (System.nanoTime() - t0) / 1e9;
                        if (code != 0 || !Files.isRegularFile(r.dir().resolve("summary.json"))) {
                            failed.add(r.label());
                            log.printf(Locale.ROOT, "%s: FAILED (exit code %d) after %.0f s; see %s%n", tag, code, sec, r.log());
                        } else {
                            log.printf(Locale.ROOT, "%s: done in %.0f s; %s%n", tag, sec, AblationReport.oneLine(r.dir()));
                        }
                    } catch (IOException e) {
                        failed.add(r.label());
                        log.println(tag + ": FAILED: " + e.getMessage());
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs)
                try {
                    f.get();
                } catch (java.util.concurrent.ExecutionException e) {
                    throw new IllegalStateException(e.getCause());
                }
        } finally {
            pool.shutdownNow();
            synchronized (live) {
                live.forEach(Process::destroy);
            }
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // the JVM is already shutting down: the hook runs
            }
        }
        AblationReport.write(spec, this, log);
        List<String> f = new ArrayList<>(failed);
        Collections.sort(f);
        return new Outcome(f, todo.size(), skipped);
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (var walk = Files.walk(p)) {
            for (Path q : walk.sorted(Comparator.reverseOrder()).toList()) Files.delete(q);
        }
    }
}
