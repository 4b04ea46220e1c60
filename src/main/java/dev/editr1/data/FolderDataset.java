package dev.editr1.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

/**
 * A dataset folder in Edit-R1's layout: {@code train_metadata.jsonl} and {@code test_metadata.jsonl},
 * one JSON object a line with {@code prompt} (the instruction), {@code image} (the source, a path
 * relative to the folder), {@code requirement} (the judge's per-task requirement; optional, "" when
 * absent) and an optional {@code target} image (used by the simulated judge and for true quality).
 * Images are center-cropped and resized to the model's resolution by {@link ImageLoader}.
 *
 * <p>Bad input, each reported as {@code file:line: reason}:
 * <ul>
 *   <li><b>fatal</b> (the folder is refused): a missing folder or metadata file, an unreadable
 *       metadata file, a path that leaves the folder ({@code ../}, absolute, or a link pointing
 *       outside: a dataset that reaches outside its folder is not trusted), and a split with no usable
 *       line;</li>
 *   <li><b>the line is skipped and counted</b>: malformed JSON, a missing or empty prompt, a missing
 *       {@code image} field, a missing, unreadable or non-image file, an image over the size limits,
 *       a {@code target} that cannot be read.</li>
 * </ul>
 * Headers are checked when the folder is opened (no pixels decoded); pixels are decoded on first use
 * and kept in a bounded cache. A file whose header reads but whose body does not decode fails at that
 * use with the same {@code file:line: reason} message.
 */
public final class FolderDataset implements EditDataset {
    public static final String TRAIN = "train_metadata.jsonl", TEST = "test_metadata.jsonl";

    /** A line that was skipped, and why. */
    public record Skipped(String file, int line, String reason) {
        @Override
        public String toString() {
            return file + ":" + line + ": " + reason;
        }
    }

    private record Entry(Path source, Path target, String where) {}

    private final Path dir;
    private final int resolution;
    private final ImageLoader.Limits limits;
    private final List<EditItem> train, heldOut;
    private final Map<String, Entry> entries = new HashMap<>();
    private final List<Skipped> skipped = new ArrayList<>();
    private final Map<Path, float[]> cache;
    private final Map<Path, String> digests = new HashMap<>();
    private long cachedFloats;
    private final long cacheLimitFloats;

    private FolderDataset(Path dir, int resolution, ImageLoader.Limits limits, long cacheBytes) {
        this.dir = dir;
        this.resolution = resolution;
        this.limits = limits;
        this.cacheLimitFloats = Math.max(0, cacheBytes / 4);
        this.cache = new LinkedHashMap<>(16, 0.75f, true);   // access order: least recently used first
        this.train = List.of();
        this.heldOut = List.of();
    }

    private FolderDataset(FolderDataset shell, List<EditItem> train, List<EditItem> heldOut) {
        this.dir = shell.dir;
        this.resolution = shell.resolution;
        this.limits = shell.limits;
        this.cacheLimitFloats = shell.cacheLimitFloats;
        this.cache = shell.cache;
        this.entries.putAll(shell.entries);
        this.skipped.addAll(shell.skipped);
        this.train = List.copyOf(train);
        this.heldOut = List.copyOf(heldOut);
    }

    /**
     * Opens a dataset folder.
     *
     * @param resolution  pixels per side of the images handed out (the model's resolution)
     * @param cacheBytes  decoded images kept in memory (least recently used ones are dropped)
     * @throws IOException for the fatal problems above, naming the file (and line)
     */
    public static FolderDataset open(Path dir, int resolution, ImageLoader.Limits limits, long cacheBytes) throws IOException {
        if (resolution < 1) throw new IllegalArgumentException("resolution must be >= 1");
        if (!Files.isDirectory(dir)) throw new IOException("dataset folder " + dir + " does not exist or is not a folder");
        Path real = dir.toRealPath();
        FolderDataset shell = new FolderDataset(real, resolution, limits, cacheBytes);
        List<EditItem> tr = shell.readSplit(TRAIN), te = shell.readSplit(TEST);
        return new FolderDataset(shell, tr, te);
    }

    public static FolderDataset open(Path dir, int resolution) throws IOException {
        return open(dir, resolution, ImageLoader.Limits.DEFAULT, 512L << 20);
    }

    private List<EditItem> readSplit(String name) throws IOException {
        Path file = dir.resolve(name);
        if (!Files.isRegularFile(file)) throw new IOException("dataset folder " + dir + " has no " + name);
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IOException(file + ": cannot be read as UTF-8 text (" + e.getMessage() + ")");
        }
        List<EditItem> items = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String text = lines.get(i).strip();
            if (text.isEmpty()) continue;
            int line = i + 1;
            try {
                items.add(item(name, line, text));
            } catch (BadLine e) {
                skipped.add(new Skipped(name, line, e.getMessage()));
            }
        }
        if (items.isEmpty())
            throw new IOException(file + ": no usable line" + (skipped.isEmpty() ? "" : " (" + skipped.size()
                    + " skipped, first: " + skipped.get(0) + ")"));
        return items;
    }

    /** A line's problem that skips the line. */
    private static final class BadLine extends Exception {
        BadLine(String why) {
            super(why);
        }
    }

    private EditItem item(String name, int line, String text) throws BadLine, IOException {
        JsonObject o;
        try {
            JsonElement e = JsonParser.parseString(text);
            if (!e.isJsonObject()) throw new BadLine("not a JSON object");
            o = e.getAsJsonObject();
        } catch (RuntimeException e) {
            throw new BadLine("malformed JSON (" + e.getMessage() + ")");
        }
        String prompt = string(o, "prompt");
        if (prompt == null || prompt.isBlank()) throw new BadLine("empty or missing prompt");
        String image = string(o, "image");
        if (image == null || image.isBlank()) throw new BadLine("missing image");
        String requirement = string(o, "requirement");
        Path src = inside(name, line, image);
        check(src, "image", image);
        String target = string(o, "target");
        Path tgt = null;
        if (target != null && !target.isBlank()) {
            tgt = inside(name, line, target);
            check(tgt, "target", target);
        }
        String id = name + ":" + line;
        entries.put(id, new Entry(src, tgt, id));
        return new EditItem(id, prompt.strip(), requirement == null ? "" : requirement.strip(), image, tgt != null);
    }

    private static String string(JsonObject o, String key) throws BadLine {
        JsonElement e = o.get(key);
        if (e == null || e.isJsonNull()) return null;
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) throw new BadLine("field '" + key + "' is not a string");
        return e.getAsString();
    }

    /** The path resolved inside the folder; leaving it is fatal. */
    private Path inside(String name, int line, String rel) throws IOException {
        Path p;
        try {
            p = dir.resolve(rel).normalize();
        } catch (RuntimeException e) {
            throw new IOException(name + ":" + line + ": image path '" + rel + "' is not a valid path");
        }
        boolean escapes = Path.of(rel).isAbsolute() || !p.startsWith(dir);
        if (!escapes && Files.exists(p)) escapes = !p.toRealPath().startsWith(dir);   // a link pointing outside
        if (escapes)
            throw new IOException(name + ":" + line + ": path '" + rel + "' leaves the dataset folder " + dir
                    + " (refusing the dataset)");
        return p;
    }

    private void check(Path p, String field, String rel) throws BadLine {
        try {
            ImageLoader.probe(p, limits);
        } catch (IOException e) {
            throw new BadLine(field + " '" + rel + "' " + e.getMessage());
        }
    }

    /** Lines skipped when the folder was opened (each {@code file:line: reason}). */
    public List<Skipped> skipped() {
        return Collections.unmodifiableList(skipped);
    }

    public Path folder() {
        return dir;
    }

    @Override
    public String describe() {
        return "folder " + dir + " (" + train.size() + " train, " + heldOut.size() + " held-out items"
                + (skipped.isEmpty() ? "" : ", " + skipped.size() + " lines skipped") + "; images at " + resolution + "²)";
    }

    @Override
    public List<EditItem> train() {
        return train;
    }

    @Override
    public List<EditItem> heldOut() {
        return heldOut;
    }

    @Override
    public int resolution() {
        return resolution;
    }

    @Override
    public float[] source(EditItem item) {
        Entry e = entry(item);
        return image(e.source(), e.where());
    }

    @Override
    public float[] target(EditItem item) {
        Entry e = entry(item);
        return e.target() == null ? null : image(e.target(), e.where());
    }

    /** SHA-256 of the source image file's bytes (computed once per item). */
    @Override
    public String sourceDigest(EditItem item) {
        Entry e = entry(item);
        synchronized (digests) {
            String d = digests.get(e.source());
            if (d != null) return d;
        }
        String d;
        try {
            d = Digests.sha256(e.source());
        } catch (IOException ex) {
            throw new UncheckedIOException(new IOException(e.where() + ": cannot read image '" + dir.relativize(e.source()) + "' ("
                    + ex.getMessage() + ")", ex));
        }
        synchronized (digests) {
            digests.put(e.source(), d);
        }
        return d;
    }

    private Entry entry(EditItem item) {
        Entry e = entries.get(item.id());
        if (e == null) throw new IllegalArgumentException("item " + item.id() + " is not from " + dir);
        return e;
    }

    private float[] image(Path p, String where) {
        synchronized (cache) {
            float[] f = cache.get(p);
            if (f != null) return f;
        }
        float[] f;
        try {
            f = ImageLoader.load(p, resolution, limits);
        } catch (IOException e) {
            throw new UncheckedIOException(new IOException(where + ": image '" + dir.relativize(p) + "' " + e.getMessage(), e));
        }
        synchronized (cache) {
            cache.put(p, f);
            cachedFloats += f.length;
            var it = cache.entrySet().iterator();
            while (cachedFloats > cacheLimitFloats && it.hasNext()) {
                var old = it.next();
                if (old.getValue() == f) break;
                cachedFloats -= old.getValue().length;
                it.remove();
            }
        }
        return f;
    }
}
