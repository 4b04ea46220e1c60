package dev.editr1.model;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;

import org.bytedeco.pytorch.Tensor;

import dev.editr1.kernels.Tensors;

/**
 * Checkpoints as safetensors: the base model (its {@link DiTConfig} in the metadata) and each LoRA
 * adapter separately, PEFT-style ({@code base_model.model.<module>.lora_A.weight} plus an
 * {@code adapter_config.json}). All writes are atomic.
 */
public final class Checkpoints {
    public static final String EMBEDDED_BASE = "/dev/editr1/models/tiny-base.safetensors";
    private static final String PEFT_PREFIX = "base_model.model.";

    private Checkpoints() {}

    public static void saveBase(EditDiT model, Path file, Map<String, String> extraMeta) throws IOException {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.put("editr1.model", "EditDiT");
        meta.put("editr1.config", new Gson().toJson(model.cfg));
        if (extraMeta != null) meta.putAll(extraMeta);
        Safetensors.write(file, model.base.asMap(), meta);
    }

    /** Loads a base checkpoint: the model is built from the config in its metadata. */
    public static EditDiT loadBase(Path file) throws IOException {
        return fromContents(Safetensors.read(file), file.toString()).withWeightsDescription(file.toString());
    }

    /** The base checkpoint shipped inside the jar (produced by {@code editr1 sft}, see README). */
    public static EditDiT loadEmbeddedBase() throws IOException {
        try (InputStream in = Checkpoints.class.getResourceAsStream(EMBEDDED_BASE)) {
            if (in == null) throw new IOException("the embedded base checkpoint " + EMBEDDED_BASE + " is missing from the jar");
            Path tmp = Files.createTempFile("editr1-base", ".safetensors");
            try {
                Files.copy(in, tmp, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                return fromContents(Safetensors.read(tmp), "embedded base").withWeightsDescription("the embedded base");
            } finally {
                Files.deleteIfExists(tmp);
            }
        }
    }

    private static EditDiT fromContents(Safetensors.Contents c, String what) throws IOException {
        String cfgJson = c.metadata().get("editr1.config");
        if (cfgJson == null) throw new IOException(what + " has no editr1.config metadata: not an editr1 base checkpoint");
        DiTConfig cfg;
        try {
            cfg = new Gson().fromJson(cfgJson, DiTConfig.class);
        } catch (RuntimeException e) {
            throw new IOException(what + ": its editr1.config does not parse: " + e.getMessage());
        }
        EditDiT m = new EditDiT(cfg, 0);
        try {
            m.base.load(c.tensors(), what);
        } catch (IllegalArgumentException e) {
            throw new IOException(e.getMessage());
        }
        return m;
    }

    /** Writes an adapter as {@code dir/name.safetensors} with its PEFT {@code name_config.json}. */
    public static void saveAdapter(LoraAdapter a, Path dir, String name) throws IOException {
        Files.createDirectories(dir);
        Map<String, Tensor> t = new LinkedHashMap<>();
        a.params.asMap().forEach((k, v) -> t.put(PEFT_PREFIX + k, v));
        Map<String, String> meta = Map.of("format", "pt", "editr1.adapter", name);
        Safetensors.write(dir.resolve(name + ".safetensors"), t, meta);
        writeAtomically(dir.resolve(name + "_config.json"), new GsonBuilder().setPrettyPrinting().create().toJson(peftConfig(a, true)));
    }

    /** Loads an adapter's values into an existing adapter of the same shape. */
    public static void loadAdapterInto(LoraAdapter a, Path dir, String name) throws IOException {
        Path f = dir.resolve(name + ".safetensors");
        Safetensors.Contents c = Safetensors.read(f);
        Map<String, Tensor> t = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : c.tensors().entrySet()) {
            if (!e.getKey().startsWith(PEFT_PREFIX)) throw new IOException(f + ": tensor '" + e.getKey() + "' is not a PEFT adapter name");
            t.put(e.getKey().substring(PEFT_PREFIX.length()), e.getValue());
        }
        try {
            a.params.load(t, f.toString());
        } catch (IllegalArgumentException e) {
            throw new IOException(e.getMessage());
        }
    }

    /** diffusers' LoRA file name ({@code load_lora_weights(dir)} looks for it) and its metadata key. */
    public static final String DIFFUSERS_LORA_FILE = "pytorch_lora_weights.safetensors", DIFFUSERS_LORA_METADATA = "lora_adapter_metadata";

    /**
     * Writes an adapter in the form diffusers' {@code load_lora_weights} reads: {@code dir/pytorch_lora_weights.safetensors}
     * with {@code <component>.<module>.lora_A.weight} / {@code lora_B.weight} keys (f32) and the LoRA
     * config (r, lora_alpha, target_modules, …) as JSON under the header's {@code lora_adapter_metadata}
     * with the component prefix on each key, as diffusers writes it (without it diffusers assumes
     * alpha = r and loads the adapter at the wrong strength); plus PEFT's {@code adapter_config.json}.
     *
     * @param component the pipeline component the adapter belongs to, e.g. {@code transformer}
     * @param init      PEFT's init_lora_weights value ("gaussian" or true)
     */
    public static void saveDiffusersAdapter(LoraAdapter a, Path dir, String component, Object init) throws IOException {
        Files.createDirectories(dir);
        Map<String, Tensor> t = new LinkedHashMap<>();
        a.params.asMap().forEach((k, v) -> t.put(component + "." + k, v));
        JsonObject cfg = peftConfig(a, init);
        JsonObject prefixed = new JsonObject();
        cfg.entrySet().stream().filter(e -> !e.getKey().equals("peft_type") && !e.getKey().equals("task_type")
                && !e.getKey().equals("base_model_name_or_path")).forEach(e -> prefixed.add(component + "." + e.getKey(), e.getValue()));
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.put(DIFFUSERS_LORA_METADATA, new Gson().toJson(prefixed));
        Safetensors.write(dir.resolve(DIFFUSERS_LORA_FILE), t, meta);
        writeAtomically(dir.resolve("adapter_config.json"), new GsonBuilder().setPrettyPrinting().create().toJson(cfg));
    }

    /** PEFT's LoraConfig fields for an adapter (the ones diffusers passes to LoraConfig(**metadata)). */
    static JsonObject peftConfig(LoraAdapter a, Object init) {
        JsonObject cfg = new JsonObject();
        cfg.addProperty("peft_type", "LORA");
        cfg.addProperty("r", a.rank);
        cfg.addProperty("lora_alpha", a.alpha);
        com.google.gson.JsonArray tm = new com.google.gson.JsonArray();
        for (String k : a.params.asMap().keySet()) if (k.endsWith(".lora_A.weight")) tm.add(k.substring(0, k.length() - ".lora_A.weight".length()));
        cfg.add("target_modules", tm);
        cfg.addProperty("lora_dropout", 0.0);
        cfg.addProperty("bias", "none");
        if (init instanceof Boolean b) cfg.addProperty("init_lora_weights", b);
        else cfg.addProperty("init_lora_weights", String.valueOf(init));
        cfg.addProperty("use_dora", false);
        cfg.addProperty("use_rslora", false);
        return cfg;
    }

    /**
     * An adapter file for a model: editr1's PEFT-style file (its {@code <name>_config.json} beside it
     * gives r and alpha) or a diffusers LoRA file ({@code <component>.}-prefixed keys; r and alpha from
     * the header's {@code lora_adapter_metadata}, else {@code adapter_config.json} beside it). Every
     * module must be one of the model's linear layers, with matching shapes.
     *
     * @throws IOException naming the file and the problem
     */
    public static LoraAdapter loadAdapter(EditingModel model, Path file) throws IOException {
        String fn = file.getFileName().toString();
        if (!fn.endsWith(".safetensors")) throw new IOException("adapter " + file + " is not a .safetensors file");
        if (!Files.isRegularFile(file)) throw new IOException("adapter " + file + " does not exist");
        dev.editr1.model.io.SafetensorsHeader h = dev.editr1.model.io.SafetensorsHeader.read(file);
        boolean peft = h.entries().keySet().stream().allMatch(k -> k.startsWith(PEFT_PREFIX));
        String prefix;
        JsonObject cfg;
        if (peft) {
            prefix = PEFT_PREFIX;
            cfg = jsonFile(file.resolveSibling(fn.substring(0, fn.length() - ".safetensors".length()) + "_config.json"));
        } else {
            String first = h.entries().keySet().stream().findFirst().orElseThrow(() -> new IOException("adapter " + file + " holds no tensor"));
            prefix = first.substring(0, first.indexOf('.') + 1);   // the component, e.g. "transformer."
            for (String k : h.entries().keySet())
                if (!k.startsWith(prefix)) throw new IOException("adapter " + file + ": tensor '" + k + "' is not under " + prefix);
            String raw = h.metadata().get(DIFFUSERS_LORA_METADATA);
            if (raw != null) {
                JsonObject all = com.google.gson.JsonParser.parseString(raw).getAsJsonObject();
                cfg = new JsonObject();
                for (var e : all.entrySet())
                    if (e.getKey().startsWith(prefix)) cfg.add(e.getKey().substring(prefix.length()), e.getValue());
            } else {
                cfg = jsonFile(file.resolveSibling("adapter_config.json"));
            }
        }
        int rank;
        double alpha;
        try {
            rank = cfg.get("r").getAsInt();
            alpha = cfg.get("lora_alpha").getAsDouble();
        } catch (RuntimeException e) {
            throw new IOException("adapter " + file + ": its config lacks r or lora_alpha");
        }
        dev.editr1.model.io.WeightFolder w = dev.editr1.model.io.WeightFolder.single(file, h);
        ParamStore p = new ParamStore();
        Map<String, long[]> linears = new LinkedHashMap<>();
        for (var e : model.base().asMap().entrySet())
            if (e.getKey().endsWith(".weight") && e.getValue().dim() == 2)
                linears.put(e.getKey().substring(0, e.getKey().length() - ".weight".length()), Tensors.shape(e.getValue()));
        for (String k : h.entries().keySet()) {
            String name = k.substring(prefix.length());
            boolean isA = name.endsWith(".lora_A.weight"), isB = name.endsWith(".lora_B.weight");
            if (!isA && !isB) throw new IOException("adapter " + file + ": tensor '" + k + "' is neither lora_A nor lora_B");
            String module = name.substring(0, name.length() - ".lora_A.weight".length());
            long[] base = linears.get(module);
            if (base == null) throw new IOException("adapter " + file + ": module '" + module + "' is not a linear layer of " + model.describe());
            long[] want = isA ? new long[] {rank, base[1]} : new long[] {base[0], rank};
            if (!java.util.Arrays.equals(w.entry(k).shape(), want))
                throw new IOException("adapter " + file + ": tensor '" + k + "' has shape " + java.util.Arrays.toString(w.entry(k).shape())
                        + ", expected " + java.util.Arrays.toString(want) + " (r = " + rank + ")");
            p.put(name, w.load(k, Tensors.cpu(), dev.editr1.kernels.DType.F32));
        }
        for (String k : p.asMap().keySet()) {
            String other = k.endsWith(".lora_A.weight") ? k.replace(".lora_A.weight", ".lora_B.weight") : k.replace(".lora_B.weight", ".lora_A.weight");
            if (!p.has(other)) throw new IOException("adapter " + file + ": '" + k + "' has no matching '" + other + "'");
        }
        return LoraAdapter.of(rank, alpha, p);
    }

    private static JsonObject jsonFile(Path f) throws IOException {
        if (!Files.isRegularFile(f)) throw new IOException("adapter config " + f + " does not exist");
        try {
            return com.google.gson.JsonParser.parseString(Files.readString(f)).getAsJsonObject();
        } catch (RuntimeException e) {
            throw new IOException("adapter config " + f + " does not parse: " + e.getMessage());
        }
    }

    public static void writeAtomically(Path file, String text) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.createDirectories(file.toAbsolutePath().getParent());
        Files.writeString(tmp, text, StandardCharsets.UTF_8);
        Safetensors.moveAtomically(tmp, file);
    }
}
