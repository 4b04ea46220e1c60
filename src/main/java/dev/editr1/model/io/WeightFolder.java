package dev.editr1.model.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;

import dev.editr1.kernels.DType;
import dev.editr1.kernels.Tensors;

/**
 * The weights of one diffusers model folder ({@code transformer/}, {@code vae/}): a single
 * {@code <base>.safetensors} or shards listed by {@code <base>.safetensors.index.json}'s
 * {@code weight_map}. Headers are read and checked when the folder is opened; tensors are then
 * streamed one at a time from the file into their final dtype and device, so loading holds the
 * weights once (plus one tensor in flight), never the whole checkpoint twice.
 */
public final class WeightFolder {
    private final Path dir;
    private final Map<String, SafetensorsHeader> byName = new LinkedHashMap<>();

    private WeightFolder(Path dir) {
        this.dir = dir;
    }

    /**
     * @param base the file name without extension, e.g. {@code diffusion_pytorch_model}
     * @throws IOException naming the file (and tensor) when an index, a shard or a header is bad
     */
    public static WeightFolder open(Path dir, String base) throws IOException {
        WeightFolder w = new WeightFolder(dir);
        Path single = dir.resolve(base + ".safetensors"), index = dir.resolve(base + ".safetensors.index.json");
        if (Files.isRegularFile(single)) {
            SafetensorsHeader h = SafetensorsHeader.read(single);
            for (String k : h.entries().keySet()) w.byName.put(k, h);
        } else if (Files.isRegularFile(index)) {
            JsonObject map;
            try {
                map = JsonParser.parseString(Files.readString(index)).getAsJsonObject().getAsJsonObject("weight_map");
                if (map == null) throw new IllegalStateException("no weight_map");
            } catch (RuntimeException e) {
                throw new IOException(index + ": not a safetensors index (" + e.getMessage() + ")");
            }
            Map<String, SafetensorsHeader> shards = new HashMap<>();
            for (Map.Entry<String, JsonElement> e : map.entrySet()) {
                String shard = e.getValue().getAsString();
                Path file = dir.resolve(shard).normalize();
                if (!file.startsWith(dir.normalize())) throw new IOException(index + ": shard '" + shard + "' is outside " + dir);
                SafetensorsHeader h = shards.get(shard);
                if (h == null) {
                    if (!Files.isRegularFile(file)) throw new IOException(index + " lists shard " + shard + ", which does not exist");
                    h = SafetensorsHeader.read(file);
                    shards.put(shard, h);
                }
                if (!h.entries().containsKey(e.getKey()))
                    throw new IOException(index + " puts tensor '" + e.getKey() + "' in " + file + ", which does not hold it");
                w.byName.put(e.getKey(), h);
            }
            for (SafetensorsHeader h : shards.values())
                for (String k : h.entries().keySet())
                    if (!w.byName.containsKey(k))
                        throw new IOException(h.file + " holds tensor '" + k + "', which " + index + " does not list");
        } else {
            throw new IOException(dir + " has neither " + base + ".safetensors nor " + base + ".safetensors.index.json");
        }
        return w;
    }

    /**
     * Every tensor of a model folder, checked against the names and shapes a model expects
     * ({@link #expect}), then read one at a time into a dtype on a device. The tensors are the
     * model's weights: retained, so no caller's {@code PointerScope} frees them.
     *
     * @param what the model's class name for messages, e.g. {@code QwenImageTransformer2DModel}
     * @throws IOException naming the file and key of a missing, unexpected, mis-shaped, truncated or
     *                     non-finite tensor
     */
    public static Map<String, Tensor> loadAll(Path dir, String base, Map<String, long[]> expected, String what, Device device,
                                              DType dtype) throws IOException {
        WeightFolder w = open(dir, base);
        w.expect(expected, what);
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (String k : expected.keySet()) {
            Tensor x = w.load(k, device, dtype);
            x.retainReference();
            out.put(k, x);
        }
        return out;
    }

    /** One file whose header is already read. */
    public static WeightFolder single(Path file, SafetensorsHeader h) {
        WeightFolder w = new WeightFolder(file.getParent() == null ? Path.of(".") : file.getParent());
        for (String k : h.entries().keySet()) w.byName.put(k, h);
        return w;
    }

    public Set<String> names() {
        return byName.keySet();
    }

    public SafetensorsHeader.Entry entry(String name) {
        SafetensorsHeader h = byName.get(name);
        if (h == null) throw new IllegalArgumentException(dir + " has no tensor '" + name + "'");
        return h.entries().get(name);
    }

    /** The file a tensor lives in. */
    public Path fileOf(String name) {
        SafetensorsHeader h = byName.get(name);
        return h == null ? dir : h.file;
    }

    /**
     * Checks the folder holds exactly these names with these shapes.
     *
     * @throws IOException naming the first missing, unexpected or mis-shaped tensor and its file
     */
    public void expect(Map<String, long[]> shapes, String what) throws IOException {
        for (String k : byName.keySet())
            if (!shapes.containsKey(k)) throw new IOException(what + ": unexpected tensor '" + k + "' in " + fileOf(k));
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            if (!byName.containsKey(e.getKey())) throw new IOException(what + ": missing tensor '" + e.getKey() + "' (in " + dir + ")");
            long[] got = entry(e.getKey()).shape();
            if (!Arrays.equals(got, e.getValue()))
                throw new IOException(what + ": tensor '" + e.getKey() + "' in " + fileOf(e.getKey()) + " has shape "
                        + Arrays.toString(got) + ", expected " + Arrays.toString(e.getValue()));
        }
    }

    /**
     * One tensor, read from its file into a CPU tensor of the file's dtype, then moved to the device
     * and dtype asked for (the staging tensor is freed at once when they differ).
     *
     * @throws IOException naming the tensor and file when it is truncated or holds NaN or ±Inf
     */
    public Tensor load(String name, Device device, DType dtype) throws IOException {
        SafetensorsHeader h = byName.get(name);
        if (h == null) throw new IOException(dir + " has no tensor '" + name + "'");
        SafetensorsHeader.Entry e = h.entries().get(name);
        Tensor staging = Tensors.empty(e.dtype().scalarType, Tensors.cpu(), e.shape());
        long bytes = e.end() - e.begin();
        try (FileChannel ch = FileChannel.open(h.file, StandardOpenOption.READ)) {
            if (h.dataStart + e.end() > ch.size())
                throw new IOException(h.file + ": tensor '" + name + "' runs past the end of the file (truncated?)");
            BytePointer base = new BytePointer(staging.data_ptr());
            for (long done = 0; done < bytes; ) {
                int chunk = (int) Math.min(bytes - done, 1 << 30);
                ByteBuffer buf = base.position(done).limit(done + chunk).capacity(done + chunk).asByteBuffer();
                SafetensorsHeader.readFully(ch, buf, h.dataStart + e.begin() + done, h.file);
                done += chunk;
            }
        }
        Tensor out;
        try (NoGradGuard g = new NoGradGuard()) {
            boolean finite;
            // the check's mask is as many bytes as the tensor has elements: freed now, not at the
            // next GC (32 tensors of a shard would otherwise leave half the weights' size behind)
            try (org.bytedeco.javacpp.PointerScope check = new org.bytedeco.javacpp.PointerScope()) {
                finite = e.numel() == 0 || torch.isfinite(staging).all().item_bool();
            }
            if (!finite) throw new IOException(h.file + ": tensor '" + name + "' holds NaN or Inf");
            boolean same = Tensors.on(staging, device) && e.dtype() == dtype;
            out = same ? staging : staging.to(device, dtype.scalarType);
        }
        if (out != staging) staging.close();
        return out;
    }
}
