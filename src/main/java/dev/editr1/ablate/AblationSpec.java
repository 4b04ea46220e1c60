package dev.editr1.ablate;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;

import dev.editr1.train.TrainConfig;

/**
 * An ablation: named variants of one base configuration, each trained with several seeds for an
 * equal budget. Read from a JSON file:
 * <pre>
 * {
 *   "base":     { "prompts": 8, "lr": 0.001 },                 // config.json fields (optional)
 *   "variants": [ {"name": "nft",  "set": {}},
 *                 {"name": "grpo", "set": {"objective": "grpo"}},     // --set overrides per variant
 *                 {"name": "cheap", "set": {"prompts": "4"}, "epochs": 240} ],  // its own epoch count (optional)
 *   "seeds":    [1, 2, 3],
 *   "budget":   {"epochs": 120}       // or {"seconds": 900, "max_epochs": 100000}
 *   "parallel": 1,                    // runs at once (optional; default: one per two cores)
 *   "reach_reward": 0.6,              // report the training time to reach this reward (optional)
 *   "smooth_epochs": 5,               // window of the reward's moving average (optional, 5)
 *   "jvm_args": ["-Xmx2g"]            // options of the child JVMs (optional; default: this JVM's)
 * }
 * </pre>
 * Every (variant, seed) is a {@code train} run in a child process. An epoch budget gives every run
 * the same number of epochs ({@code epochs}); a seconds budget gives every run the same training
 * time ({@code wallSeconds}: a run stops after the epoch that brings it there, at most
 * {@code max_epochs}). Under an epoch budget a variant may name its own {@code epochs}: an equal-cost
 * comparison of variants whose epochs cost differently (measured beforehand: the report's training
 * seconds show what each run cost), which, unlike a seconds budget, does not depend on the machine's
 * load — every run is a function of its seed.
 *
 * @param base     the base configuration's fields, as in a config.json (JSON text)
 * @param variants the variants in order
 * @param seeds    the seeds every variant runs with
 * @param epochs   the epoch budget (0 with a seconds budget)
 * @param seconds  the training-time budget in seconds (0 with an epoch budget)
 * @param maxEpochs the epoch cap of a seconds budget
 * @param parallel runs at once (0: the default)
 * @param reachReward the reward whose time to reach is reported (NaN: not reported)
 * @param smoothEpochs the moving-average window for time-to-reach and the plots
 * @param jvmArgs  the child JVMs' options (null: this JVM's)
 */
public record AblationSpec(String base, List<Variant> variants, List<Long> seeds, int epochs, double seconds, int maxEpochs,
                           int parallel, double reachReward, int smoothEpochs, List<String> jvmArgs) {

    /**
     * A variant: a name (a folder name), {@code --set} overrides in order, and its own epoch count
     * under an epoch budget (0: the budget's).
     */
    public record Variant(String name, Map<String, String> sets, int epochs) {}

    public static AblationSpec read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) throw new IOException("ablation file " + file + " does not exist");
        try {
            return parse(Files.readString(file));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage());
        }
    }

    /** Parses and checks a spec (every variant's configuration is validated too). */
    public static AblationSpec parse(String json) {
        JsonObject o;
        try {
            o = JsonParser.parseString(json).getAsJsonObject();
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("the ablation does not parse as a JSON object: " + e.getMessage());
        }
        Set<String> known = Set.of("base", "variants", "seeds", "budget", "parallel", "reach_reward", "smooth_epochs", "jvm_args");
        for (String k : o.keySet())
            if (!known.contains(k)) throw new IllegalArgumentException("unknown key '" + k + "' (" + String.join(", ", known) + ")");
        String base = o.has("base") ? o.getAsJsonObject("base").toString() : "{}";
        List<Variant> variants = new ArrayList<>();
        if (!o.has("variants") || !o.get("variants").isJsonArray() || o.getAsJsonArray("variants").isEmpty())
            throw new IllegalArgumentException("'variants' must be a non-empty list of {\"name\": …, \"set\": {…}}");
        Set<String> names = new HashSet<>();
        for (JsonElement e : o.getAsJsonArray("variants")) {
            JsonObject v = e.getAsJsonObject();
            String name = v.has("name") ? v.get("name").getAsString() : "";
            if (!name.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,63}"))
                throw new IllegalArgumentException("variant name '" + name + "' must be a folder name (letters, digits, . _ -)");
            if (!names.add(name)) throw new IllegalArgumentException("variant name '" + name + "' appears twice");
            Map<String, String> sets = new LinkedHashMap<>();
            if (v.has("set"))
                for (Map.Entry<String, JsonElement> s : v.getAsJsonObject("set").entrySet()) {
                    if (!s.getValue().isJsonPrimitive())
                        throw new IllegalArgumentException("variant " + name + ": set." + s.getKey() + " must be a string, number or boolean");
                    sets.put(s.getKey(), text(s.getValue().getAsJsonPrimitive()));
                }
            int ve = 0;
            if (v.has("epochs")) {
                ve = v.get("epochs").getAsInt();
                if (ve < 1) throw new IllegalArgumentException("variant " + name + ": 'epochs' must be >= 1");
            }
            for (String k : v.keySet())
                if (!Set.of("name", "set", "epochs").contains(k))
                    throw new IllegalArgumentException("variant " + name + ": unknown key '" + k + "' (name, set, epochs)");
            variants.add(new Variant(name, sets, ve));
        }
        List<Long> seeds = new ArrayList<>();
        if (!o.has("seeds") || !o.get("seeds").isJsonArray() || o.getAsJsonArray("seeds").isEmpty())
            throw new IllegalArgumentException("'seeds' must be a non-empty list of integers");
        for (JsonElement e : o.getAsJsonArray("seeds")) seeds.add(e.getAsLong());
        if (new HashSet<>(seeds).size() != seeds.size()) throw new IllegalArgumentException("'seeds' has a repeated seed");
        if (!o.has("budget") || !o.get("budget").isJsonObject())
            throw new IllegalArgumentException("'budget' must be {\"epochs\": N} or {\"seconds\": S}");
        JsonObject b = o.getAsJsonObject("budget");
        int epochs = b.has("epochs") ? b.get("epochs").getAsInt() : 0;
        double seconds = b.has("seconds") ? b.get("seconds").getAsDouble() : 0;
        int maxEpochs = b.has("max_epochs") ? b.get("max_epochs").getAsInt() : 100_000;
        if ((epochs > 0) == (seconds > 0))
            throw new IllegalArgumentException("'budget' needs exactly one of epochs (> 0) or seconds (> 0)");
        if (seconds > 0)
            for (Variant v : variants)
                if (v.epochs() > 0)
                    throw new IllegalArgumentException("variant " + v.name() + ": its own 'epochs' needs an epoch budget (the spec's is "
                            + seconds + " s of training)");
        if (maxEpochs < 1) throw new IllegalArgumentException("budget.max_epochs must be >= 1");
        int parallel = o.has("parallel") ? o.get("parallel").getAsInt() : 0;
        if (parallel < 0) throw new IllegalArgumentException("'parallel' must be >= 1 (or absent for the default)");
        double reach = o.has("reach_reward") ? o.get("reach_reward").getAsDouble() : Double.NaN;
        int smooth = o.has("smooth_epochs") ? o.get("smooth_epochs").getAsInt() : 5;
        if (smooth < 1) throw new IllegalArgumentException("'smooth_epochs' must be >= 1");
        List<String> jvm = null;
        if (o.has("jvm_args")) {
            jvm = new ArrayList<>();
            for (JsonElement e : o.getAsJsonArray("jvm_args")) jvm.add(e.getAsString());
        }
        AblationSpec spec = new AblationSpec(base, List.copyOf(variants), List.copyOf(seeds), epochs, seconds, maxEpochs, parallel,
                reach, smooth, jvm == null ? null : List.copyOf(jvm));
        for (Variant v : spec.variants) {
            TrainConfig c = spec.config(v, spec.seeds.get(0));
            List<String> p = c.problems();
            if (!p.isEmpty()) throw new IllegalArgumentException("variant " + v.name() + ": " + String.join("; ", p));
        }
        return spec;
    }

    /** A JSON string, number (its text as written) or boolean, as --set reads it. */
    private static String text(JsonPrimitive p) {
        return p.getAsString();
    }

    /** The resolved configuration of one run: base, the variant's overrides, the seed and the budget. */
    public TrainConfig config(Variant v, long seed) {
        TrainConfig c = TrainConfig.fromJson(base);
        for (Map.Entry<String, String> s : v.sets().entrySet())
            try {
                c.set(s.getKey(), s.getValue());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("variant " + v.name() + ": " + e.getMessage());
            }
        c.seed = seed;
        if (epochs > 0) {
            c.epochs = v.epochs() > 0 ? v.epochs() : epochs;
            c.wallSeconds = 0;
        } else {
            c.epochs = maxEpochs;
            c.wallSeconds = seconds;
        }
        return c;
    }

    /** The number of runs at once: the spec's, else one per two available cores (at least one). */
    public int parallelism() {
        return parallel > 0 ? parallel : Math.max(1, Runtime.getRuntime().availableProcessors() / 2);
    }

    /** "120 epochs", "120 epochs (variants with their own: cheap 240)" or "900 s of training (at most N epochs)". */
    public String describeBudget() {
        if (epochs > 0) {
            List<String> own = new ArrayList<>();
            for (Variant v : variants)
                if (v.epochs() > 0) own.add(v.name() + " " + v.epochs());
            return epochs + " epochs" + (own.isEmpty() ? "" : " (variants with their own: " + String.join(", ", own) + ")");
        }
        return String.format(java.util.Locale.ROOT, "%.0f s of training (at most %d epochs)", seconds,
                maxEpochs);
    }

    /** The spec as JSON (saved beside the runs). */
    public JsonObject toJson() {
        JsonObject o = new JsonObject();
        o.add("base", JsonParser.parseString(base));
        JsonArray vs = new JsonArray();
        for (Variant v : variants) {
            JsonObject vo = new JsonObject();
            vo.addProperty("name", v.name());
            JsonObject s = new JsonObject();
            v.sets().forEach(s::addProperty);
            vo.add("set", s);
            if (v.epochs() > 0) vo.addProperty("epochs", v.epochs());
            vs.add(vo);
        }
        o.add("variants", vs);
        JsonArray ss = new JsonArray();
        seeds.forEach(ss::add);
        o.add("seeds", ss);
        JsonObject b = new JsonObject();
        if (epochs > 0) b.addProperty("epochs", epochs);
        else {
            b.addProperty("seconds", seconds);
            b.addProperty("max_epochs", maxEpochs);
        }
        o.add("budget", b);
        if (parallel > 0) o.addProperty("parallel", parallel);
        if (!Double.isNaN(reachReward)) o.addProperty("reach_reward", reachReward);
        o.addProperty("smooth_epochs", smoothEpochs);
        if (jvmArgs != null) {
            JsonArray j = new JsonArray();
            jvmArgs.forEach(j::add);
            o.add("jvm_args", j);
        }
        return o;
    }
}
