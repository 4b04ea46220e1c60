package dev.editr1.model.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;

import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.editr1.kernels.DType;
import dev.editr1.kernels.Tensors;
import dev.editr1.testing.ChildJvm;

/**
 * Loading a multi-GB sharded diffusers checkpoint holds its weights once: a fresh JVM loads a
 * synthetic 2 GiB bf16 folder (4 shards) through {@link WeightFolder#loadAll} and reports its peak
 * RSS (the kernel's VmHWM); the rise over the JVM's own footprint must stay well under twice the
 * weights (reading every shard into memory before converting would need two copies).
 */
class LoadPeakTest {
    static final int SHARDS = 4, TENSORS_PER_SHARD = 8;

    /** Child process: loads the folder given in args[0] and prints "baseline=… peak=… bytes=…". */
    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        long rows = Long.parseLong(args[1]), cols = Long.parseLong(args[2]);
        Tensors.cpu();   // libtorch and the natives loaded before the baseline
        Tensor warm = Tensors.fromFloats(new float[16], 16);
        warm.close();
        long baseline = vm("VmRSS");
        Map<String, long[]> expected = new LinkedHashMap<>();
        for (int s = 0; s < SHARDS; s++) for (int i = 0; i < TENSORS_PER_SHARD; i++) expected.put(name(s, i), new long[] {rows, cols});
        Map<String, Tensor> w = WeightFolder.loadAll(dir, "diffusion_pytorch_model", expected, "a synthetic model", Tensors.cpu(), DType.BF16);
        long bytes = 0;
        for (Tensor t : w.values()) bytes += t.numel() * 2;
        System.out.println("baseline=" + baseline + " peak=" + vm("VmHWM") + " bytes=" + bytes + " tensors=" + w.size());
    }

    static String name(int shard, int i) {
        return "blocks." + shard + ".w" + i + ".weight";
    }

    /** A /proc/self/status field in bytes. */
    static long vm(String field) throws IOException {
        for (String l : Files.readAllLines(Path.of("/proc/self/status")))
            if (l.startsWith(field + ":")) return Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024;
        throw new IOException(field + " not in /proc/self/status");
    }

    /** Writes the shards and index without holding a tensor: header, then the body in 8 MiB chunks of bf16 1.0. */
    static long write(Path dir, long rows, long cols) throws IOException {
        Files.createDirectories(dir);
        JsonObject map = new JsonObject();
        long total = 0, tensorBytes = rows * cols * 2;
        byte[] chunk = new byte[8 << 20];
        ByteBuffer bb = ByteBuffer.wrap(chunk).order(ByteOrder.LITTLE_ENDIAN);
        while (bb.hasRemaining()) bb.putShort((short) 0x3F80);
        for (int s = 0; s < SHARDS; s++) {
            String file = String.format(Locale.ROOT, "diffusion_pytorch_model-%05d-of-%05d.safetensors", s + 1, SHARDS);
            JsonObject header = new JsonObject();
            long off = 0;
            for (int i = 0; i < TENSORS_PER_SHARD; i++) {
                JsonObject t = new JsonObject();
                t.addProperty("dtype", "BF16");
                JsonArray shape = new JsonArray(), offs = new JsonArray();
                shape.add(rows);
                shape.add(cols);
                offs.add(off);
                offs.add(off + tensorBytes);
                t.add("shape", shape);
                t.add("data_offsets", offs);
                header.add(name(s, i), t);
                map.addProperty(name(s, i), file);
                off += tensorBytes;
            }
            byte[] h = header.toString().getBytes(StandardCharsets.UTF_8);
            int pad = (8 - h.length % 8) % 8;
            try (OutputStream o = Files.newOutputStream(dir.resolve(file))) {
                o.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length + pad).array());
                o.write(h);
                for (int k = 0; k < pad; k++) o.write(' ');
                for (long left = off; left > 0; left -= chunk.length) o.write(chunk, 0, (int) Math.min(chunk.length, left));
            }
            total += off;
        }
        JsonObject index = new JsonObject();
        index.add("metadata", new JsonObject());
        index.add("weight_map", map);
        Files.writeString(dir.resolve("diffusion_pytorch_model.safetensors.index.json"), index.toString());
        return total;
    }

    @Test
    void aShardedTwoGibCheckpointLoadsHoldingItsWeightsOnce(@TempDir Path tmp) throws Exception {
        long rows = 4096, cols = 8192;   // 64 MiB per bf16 tensor, 32 tensors: 2 GiB in 4 shards
        Path dir = tmp.resolve("transformer");
        long bytes = write(dir, rows, cols);
        assertEquals(2L << 30, bytes);
        ChildJvm child = ChildJvm.startClass(LoadPeakTest.class.getName(), Map.of(), List.of("-Xmx256m"), dir.toString(), "" + rows,
                "" + cols);
        assertEquals(0, child.waitFor(300), child.describe());
        String line = child.out().lines().filter(l -> l.startsWith("baseline=")).findFirst().orElseThrow(() -> new AssertionError(child.describe()));
        Map<String, Long> v = new LinkedHashMap<>();
        for (String kv : line.split(" ")) v.put(kv.substring(0, kv.indexOf('=')), Long.parseLong(kv.substring(kv.indexOf('=') + 1)));
        long rise = v.get("peak") - v.get("baseline");
        System.out.printf(Locale.ROOT, "LoadPeakTest: %d tensors, %.2f GiB of bf16 weights in %d shards: peak RSS %.2f GiB, %.2f GiB above the "
                        + "JVM's %.2f GiB before loading (%.2f × the weights)%n", v.get("tensors"), v.get("bytes") / 1073741824.0, SHARDS,
                v.get("peak") / 1073741824.0, rise / 1073741824.0, v.get("baseline") / 1073741824.0, (double) rise / v.get("bytes"));
        assertEquals(bytes, (long) v.get("bytes"));
        assertTrue(rise < 1.25 * bytes, "loading needed " + rise + " bytes for " + bytes + " of weights");
    }
}
