package dev.editr1.model.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;

import dev.editr1.data.Digests;
import dev.editr1.kernels.DType;
import dev.editr1.model.Safetensors;

/**
 * What frozen text encoders make of a dataset's prompts, computed once offline (by a script under
 * {@code tools/} on a machine with diffusers) and read here; the Java side never runs the encoders.
 *
 * <p>Layout: one safetensors file per (prompt, source image) in {@code <dir>}, named
 * {@code <key>.safetensors} with key = {@link Digests#conditioningKey}(prompt, SHA-256 of the source
 * image file). Tensors: the model's named conditioning tensors without a batch dimension (e.g.
 * FLUX.1-Kontext: {@code prompt_embeds} [L, 4096] and {@code pooled_prompt_embeds} [768]), F32, BF16 or
 * F16. Metadata: {@code editr1.model} (the model kind), {@code editr1.key}, {@code editr1.prompt},
 * {@code editr1.image_sha256}. Loading checks all of it against the item and the model and says
 * which check failed.
 */
public final class ConditioningCache {
    private final Path dir;
    private final String model;
    private final Map<String, long[]> shapes;

    /** @param shapes the tensors every entry must hold, with their shapes (no batch dimension) */
    public ConditioningCache(Path dir, String model, Map<String, long[]> shapes) {
        this.dir = dir;
        this.model = model;
        this.shapes = new LinkedHashMap<>(shapes);
    }

    public Path dir() {
        return dir;
    }

    /** The file of an item. */
    public Path file(String prompt, String imageSha256) {
        return dir.resolve(Digests.conditioningKey(prompt, imageSha256) + ".safetensors");
    }

    /**
     * Checks an item's entry without reading its tensors: the file exists, its header parses, its
     * metadata matches and it holds exactly the expected tensors with their shapes.
     */
    public void check(String prompt, String imageSha256) throws IOException {
        header(prompt, imageSha256);
    }

    private SafetensorsHeader header(String prompt, String imageSha256) throws IOException {
        String key = Digests.conditioningKey(prompt, imageSha256);
        Path f = dir.resolve(key + ".safetensors");
        if (!Files.isRegularFile(f))
            throw new IOException("no cached conditioning for prompt \"" + prompt + "\" (image sha256 " + imageSha256 + "): " + f
                    + " does not exist; fill " + dir + " with tools/cache_conditioning.py on a machine with diffusers");
        SafetensorsHeader h = SafetensorsHeader.read(f);
        Map<String, String> meta = h.metadata();
        check(f, "editr1.model", model, meta);
        check(f, "editr1.key", key, meta);
        check(f, "editr1.prompt", prompt, meta);
        check(f, "editr1.image_sha256", imageSha256, meta);
        for (String name : h.entries().keySet())
            if (!shapes.containsKey(name)) throw new IOException(f + ": unexpected tensor '" + name + "' for model " + model);
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            SafetensorsHeader.Entry en = h.entries().get(e.getKey());
            if (en == null) throw new IOException(f + ": missing tensor '" + e.getKey() + "' for model " + model);
            if (!Arrays.equals(en.shape(), e.getValue()))
                throw new IOException(f + ": tensor '" + e.getKey() + "' has shape " + Arrays.toString(en.shape()) + ", model " + model
                        + " expects " + Arrays.toString(e.getValue()));
        }
        return h;
    }

    /**
     * An item's tensors, each [1, ...] on a device in a dtype.
     *
     * @throws IOException naming the file and what does not match (missing entry, other model, other
     *                     prompt or image, a missing, extra or mis-shaped tensor, a corrupt file)
     */
    public Map<String, Tensor> load(String prompt, String imageSha256, Device device, DType dtype) throws IOException {
        SafetensorsHeader h = header(prompt, imageSha256);
        WeightFolder w = WeightFolder.single(h.file, h);
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (String name : shapes.keySet()) out.put(name, w.load(name, device, dtype).unsqueeze(0));
        return out;
    }

    private static void check(Path f, String field, String want, Map<String, String> meta) throws IOException {
        String got = meta.get(field);
        if (!want.equals(got))
            throw new IOException(f + ": metadata " + field + " is " + (got == null ? "missing" : "'" + got + "'") + ", expected '" + want + "'");
    }

    /** Writes one entry (F32), as the tools/ scripts do: for tests and for conditioning made in Java. */
    public void write(String prompt, String imageSha256, Map<String, Tensor> tensors) throws IOException {
        String key = Digests.conditioningKey(prompt, imageSha256);
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.put("editr1.model", model);
        meta.put("editr1.key", key);
        meta.put("editr1.prompt", prompt);
        meta.put("editr1.image_sha256", imageSha256);
        Files.createDirectories(dir);
        Safetensors.write(dir.resolve(key + ".safetensors"), tensors, meta);
    }
}
