package dev.editr1.model;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;

import com.google.gson.Gson;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import dev.editr1.kernels.Tensors;

import org.bytedeco.pytorch.Tensor;

/**
 * The safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON header
 * naming each tensor's dtype, shape and byte range, then the raw little-endian data. editr1
 * writes and reads F32 tensors; writes go to a temporary file that is renamed into place, so a
 * checkpoint is never half-written.
 */
public final class Safetensors {
    private Safetensors() {}

    /** Writes named f32 tensors (CPU copies are taken) with optional string metadata, atomically. */
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        JsonObject header = new JsonObject();
        if (metadata != null && !metadata.isEmpty()) {
            JsonObject meta = new JsonObject();
            // sorted: Map.of's order changes from one JVM to the next, and a checkpoint must be the same bytes
            new java.util.TreeMap<>(metadata).forEach(meta::addProperty);
            header.add("__metadata__", meta);
        }
        Map<String, float[]> data = new LinkedHashMap<>();
        long offset = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            float[] f = Tensors.toFloats(e.getValue());
            data.put(e.getKey(), f);
            JsonObject t = new JsonObject();
            t.addProperty("dtype", "F32");
            com.google.gson.JsonArray shape = new com.google.gson.JsonArray();
            for (long s : Tensors.shape(e.getValue())) shape.add(s);
            t.add("shape", shape);
            com.google.gson.JsonArray off = new com.google.gson.JsonArray();
            off.add(offset);
            off.add(offset + 4L * f.length);
            t.add("data_offsets", off);
            header.add(e.getKey(), t);
            offset += 4L * f.length;
        }
        byte[] json = new Gson().toJson(header).getBytes(StandardCharsets.UTF_8);
        int pad = (8 - json.length % 8) % 8; // the format allows trailing spaces; aligned data is friendlier
        byte[] padded = new byte[json.length + pad];
        System.arraycopy(json, 0, padded, 0, json.length);
        for (int i = json.length; i < padded.length; i++) padded[i] = ' ';
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.createDirectories(file.toAbsolutePath().getParent());
        try (OutputStream out = Files.newOutputStream(tmp)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(padded.length);
            out.write(len.array());
            out.write(padded);
            for (float[] f : data.values()) {
                ByteBuffer b = ByteBuffer.allocate(4 * f.length).order(ByteOrder.LITTLE_ENDIAN);
                b.asFloatBuffer().put(f);
                out.write(b.array());
            }
        }
        moveAtomically(tmp, file);
    }

    static void moveAtomically(Path tmp, Path file) throws IOException {
        try {
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** A file's tensors (CPU, f32) and metadata. */
    public record Contents(Map<String, Tensor> tensors, Map<String, String> metadata) {}

    /**
     * Reads a safetensors file.
     *
     * @throws IOException with a message naming the file and the problem when it is not a valid
     *                     safetensors file of F32 tensors (truncated, bad header, offsets out of range)
     */
    public static Contents read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) throw new IOException("checkpoint " + file + " does not exist");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) throw corrupt(file, "shorter than its 8-byte header length");
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            long hlen = lenBuf.flip().getLong();
            if (hlen <= 0 || hlen > 100_000_000 || 8 + hlen > size)
                throw corrupt(file, "header length " + hlen + " does not fit a file of " + size + " bytes");
            ByteBuffer hb = ByteBuffer.allocate((int) hlen);
            readFully(ch, hb, 8);
            JsonObject header;
            try {
                JsonElement e = JsonParser.parseString(new String(hb.array(), StandardCharsets.UTF_8).trim());
                header = e.getAsJsonObject();
            } catch (RuntimeException ex) {
                throw corrupt(file, "the JSON header does not parse (" + ex.getMessage() + ")");
            }
            long dataStart = 8 + hlen, dataLen = size - dataStart;
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            Map<String, String> meta = new LinkedHashMap<>();
            for (Map.Entry<String, JsonElement> e : header.entrySet()) {
                if (e.getKey().equals("__metadata__")) {
                    for (Map.Entry<String, JsonElement> m : e.getValue().getAsJsonObject().entrySet())
                        meta.put(m.getKey(), m.getValue().getAsString());
                    continue;
                }
                JsonObject t = e.getValue().getAsJsonObject();
                String dtype = t.get("dtype").getAsString();
                if (!dtype.equals("F32")) throw corrupt(file, "tensor " + e.getKey() + " has dtype " + dtype + " (F32 expected)");
                var shapeArr = t.getAsJsonArray("shape");
                long[] shape = new long[shapeArr.size()];
                long n = 1;
                for (int i = 0; i < shape.length; i++) {
                    shape[i] = shapeArr.get(i).getAsLong();
                    n *= shape[i];
                }
                var off = t.getAsJsonArray("data_offsets");
                long b = off.get(0).getAsLong(), en = off.get(1).getAsLong();
                if (b < 0 || en > dataLen || en - b != 4 * n)
                    throw corrupt(file, "tensor " + e.getKey() + " has byte range [" + b + ", " + en + ") for "
                            + n + " floats in " + dataLen + " data bytes");
                ByteBuffer db = ByteBuffer.allocate((int) (en - b)).order(ByteOrder.LITTLE_ENDIAN);
                readFully(ch, db, dataStart + b);
                float[] f = new float[(int) n];
                db.flip().asFloatBuffer().get(f);
                for (float v : f)
                    if (!Float.isFinite(v)) throw corrupt(file, "tensor " + e.getKey() + " holds NaN or Inf");
                tensors.put(e.getKey(), Tensors.fromFloats(f, shape));
            }
            return new Contents(tensors, meta);
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer b, long pos) throws IOException {
        while (b.hasRemaining()) {
            int r = ch.read(b, pos + b.position());
            if (r < 0) throw new IOException("unexpected end of file");
        }
    }

    private static IOException corrupt(Path file, String why) {
        return new IOException("checkpoint " + file + " is not a valid safetensors file: " + why);
    }
}
