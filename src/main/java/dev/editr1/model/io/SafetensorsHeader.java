package dev.editr1.model.io;

import java.io.IOException;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.google.gson.JsonParseException;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;

import dev.editr1.kernels.DType;

/**
 * A safetensors file's header, read and checked without touching the data: an 8-byte little-endian
 * header length, a JSON object of {@code name → {dtype, shape, data_offsets}} (and an optional
 * {@code __metadata__} of strings), then the data. Checked: the header fits the file and is at most
 * 100 MB (a length that claims terabytes is refused before anything is allocated), the JSON parses,
 * no name appears twice, each dtype is F32, BF16 or F16, each byte range matches its shape, lies in
 * the data and overlaps no other. Every error names the file (and the tensor).
 */
public final class SafetensorsHeader {
    /** One tensor's entry. */
    public record Entry(String name, DType dtype, long[] shape, long begin, long end) {
        public long numel() {
            long n = 1;
            for (long s : shape) n *= s;
            return n;
        }
    }

    static final long MAX_HEADER = 100L << 20;

    public final Path file;
    public final long dataStart, fileSize;
    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;

    private SafetensorsHeader(Path file, long dataStart, long fileSize, Map<String, Entry> entries, Map<String, String> metadata) {
        this.file = file;
        this.dataStart = dataStart;
        this.fileSize = fileSize;
        this.entries = Collections.unmodifiableMap(entries);
        this.metadata = Collections.unmodifiableMap(metadata);
    }

    public Map<String, Entry> entries() {
        return entries;
    }

    public Map<String, String> metadata() {
        return metadata;
    }

    /** Reads and checks a file's header. */
    public static SafetensorsHeader read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) throw new IOException(file + " does not exist");
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) throw bad(file, "shorter than its 8-byte header length");
            ByteBuffer lb = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lb, 0, file);
            long hlen = lb.flip().getLong();
            if (hlen <= 0 || hlen > MAX_HEADER)
                throw bad(file, "header length " + Long.toUnsignedString(hlen) + " bytes is not in (0, 100 MB]");
            if (8 + hlen > size) throw bad(file, "header length " + hlen + " runs past the end of the " + size + "-byte file");
            ByteBuffer hb = ByteBuffer.allocate((int) hlen);
            readFully(ch, hb, 8, file);
            String json = new String(hb.array(), StandardCharsets.UTF_8);
            long dataStart = 8 + hlen, dataLen = size - dataStart;
            Map<String, Entry> entries = new LinkedHashMap<>();
            Map<String, String> meta = new LinkedHashMap<>();
            try (JsonReader r = new JsonReader(new StringReader(json))) {
                r.beginObject();
                while (r.hasNext()) {
                    String name = r.nextName();
                    if (name.equals("__metadata__")) {
                        r.beginObject();
                        while (r.hasNext()) {
                            String k = r.nextName();
                            if (r.peek() != JsonToken.STRING) throw bad(file, "metadata '" + k + "' is not a string");
                            meta.put(k, r.nextString());
                        }
                        r.endObject();
                        continue;
                    }
                    if (entries.containsKey(name)) throw bad(file, "tensor '" + name + "' appears twice in the header");
                    entries.put(name, entry(file, name, r, dataLen));
                }
                r.endObject();
            } catch (IllegalStateException | JsonParseException | NumberFormatException | java.io.EOFException e) {
                throw bad(file, "the JSON header does not parse (" + e.getMessage() + ")");
            }
            List<Entry> byOffset = new ArrayList<>(entries.values());
            byOffset.sort(Comparator.comparingLong(Entry::begin));
            for (int i = 1; i < byOffset.size(); i++)
                if (byOffset.get(i).begin() < byOffset.get(i - 1).end())
                    throw bad(file, "tensors '" + byOffset.get(i - 1).name() + "' and '" + byOffset.get(i).name() + "' overlap");
            return new SafetensorsHeader(file, dataStart, size, entries, meta);
        }
    }

    private static Entry entry(Path file, String name, JsonReader r, long dataLen) throws IOException {
        String dtype = null;
        long[] shape = null, off = null;
        r.beginObject();
        while (r.hasNext()) {
            switch (r.nextName()) {
                case "dtype" -> dtype = r.nextString();
                case "shape" -> shape = longs(r);
                case "data_offsets" -> off = longs(r);
                default -> r.skipValue();
            }
        }
        r.endObject();
        if (dtype == null || shape == null || off == null || off.length != 2)
            throw bad(file, "tensor '" + name + "' lacks dtype, shape or a [begin, end] data_offsets");
        DType dt = switch (dtype) {
            case "F32" -> DType.F32;
            case "BF16" -> DType.BF16;
            case "F16" -> DType.F16;
            default -> throw bad(file, "tensor '" + name + "' has dtype " + dtype + " (F32, BF16 or F16 expected)");
        };
        long n = 1;
        for (long s : shape) {
            if (s < 0) throw bad(file, "tensor '" + name + "' has a negative dimension");
            n = Math.multiplyExact(n, s);
        }
        long begin = off[0], end = off[1];
        if (begin < 0 || end < begin || end > dataLen)
            throw bad(file, "tensor '" + name + "' has byte range [" + begin + ", " + end + ") outside the " + dataLen
                    + " data bytes (truncated file?)");
        if (end - begin != n * dt.bytes)
            throw bad(file, "tensor '" + name + "' has " + (end - begin) + " bytes for " + n + " " + dtype + " values");
        return new Entry(name, dt, shape, begin, end);
    }

    private static long[] longs(JsonReader r) throws IOException {
        List<Long> v = new ArrayList<>();
        r.beginArray();
        while (r.hasNext()) v.add(r.nextLong());
        r.endArray();
        long[] a = new long[v.size()];
        for (int i = 0; i < a.length; i++) a[i] = v.get(i);
        return a;
    }

    static void readFully(FileChannel ch, ByteBuffer b, long pos, Path file) throws IOException {
        long p = pos;
        while (b.hasRemaining()) {
            int n = ch.read(b, p);
            if (n < 0) throw bad(file, "ends early (truncated)");
            p += n;
        }
    }

    static IOException bad(Path file, String why) {
        return new IOException(file + " is not a valid safetensors file: " + why);
    }
}
