package dev.editr1.model;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;

import org.bytedeco.pytorch.Tensor;

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
        List<String> targets = new java.util.ArrayList<>();
        for (String k : a.params.asMap().keySet()) if (k.endsWith(".lora_A.weight")) targets.add(k.substring(0, k.length() - 14));
        Files.createDirectories(dir);
        Map<String, Tensor> t = new LinkedHashMap<>();
        a.params.asMap().forEach((k, v) -> t.put(PEFT_PREFIX + k, v));
        Map<String, String> meta = Map.of("format", "pt", "editr1.adapter", name);
        Safetensors.write(dir.resolve(name + ".safetensors"), t, meta);
        JsonObject cfg = new JsonObject();
        cfg.addProperty("peft_type", "LORA");
        cfg.addProperty("r", a.rank);
        cfg.addProperty("lora_alpha", a.alpha);
        com.google.gson.JsonArray tm = new com.google.gson.JsonArray();
        for (String s : targets) tm.add(s);
        cfg.add("target_modules", tm);
        writeAtomically(dir.resolve(name + "_config.json"), new GsonBuilder().setPrettyPrinting().create().toJson(cfg));
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

    /** An adapter file written by {@link #saveAdapter} (its {@code <name>_config.json} beside it gives r and alpha). */
    public static LoraAdapter loadAdapter(EditingModel model, Path file) throws IOException {
        String fn = file.getFileName().toString();
        if (!fn.endsWith(".safetensors")) throw new IOException("adapter " + file + " is not a .safetensors file");
        String name = fn.substring(0, fn.length() - ".safetensors".length());
        Path cfgFile = file.resolveSibling(name + "_config.json");
        if (!Files.isRegularFile(file)) throw new IOException("adapter " + file + " does not exist");
        if (!Files.isRegularFile(cfgFile)) throw new IOException("adapter config " + cfgFile + " does not exist");
        JsonObject cfg;
        try {
            cfg = com.google.gson.JsonParser.parseString(Files.readString(cfgFile)).getAsJsonObject();
        } catch (RuntimeException e) {
            throw new IOException("adapter config " + cfgFile + " does not parse: " + e.getMessage());
        }
        int rank;
        double alpha;
        try {
            rank = cfg.get("r").getAsInt();
            alpha = cfg.get("lora_alpha").getAsDouble();
        } catch (RuntimeException e) {
            throw new IOException("adapter config " + cfgFile + " lacks r or lora_alpha");
        }
        LoraAdapter a = LoraAdapter.create(model.loraTargets(), rank, alpha, model.loraInit(), 0);
        loadAdapterInto(a, file.getParent() == null ? Path.of(".") : file.getParent(), name);
        return a;
    }

    public static void writeAtomically(Path file, String text) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.createDirectories(file.toAbsolutePath().getParent());
        Files.writeString(tmp, text, StandardCharsets.UTF_8);
        Safetensors.moveAtomically(tmp, file);
    }
}
