package dev.editr1.world;

import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

import com.google.gson.Gson;
import com.google.gson.JsonObject;

import dev.editr1.data.EditItem;
import dev.editr1.data.FolderDataset;
import dev.editr1.data.ImageCodec;
import dev.editr1.data.ImageFormat;

/**
 * Writes the embedded world as a dataset folder in Edit-R1's layout: {@code train_metadata.jsonl}
 * and {@code test_metadata.jsonl} (prompt, image, requirement, target) with PNG sources and targets
 * under {@code images/}. Every colour of the world is an 8-bit level, so the folder reads back as the
 * same floats and trains exactly like the embedded world. The folder appears whole or not at all:
 * it is written beside its final name and renamed.
 */
public final class WorldExport {
    private WorldExport() {}

    /** @return items written (train, held-out) */
    public static int[] export(EmbeddedDataset world, Path dir) throws IOException {
        if (Files.exists(dir) && (!Files.isDirectory(dir) || Files.list(dir).findAny().isPresent()))
            throw new IOException(dir + " exists and is not an empty folder; choose another");
        Path abs = dir.toAbsolutePath().normalize();
        Path tmp = abs.resolveSibling(abs.getFileName() + ".tmp-export");
        deleteTree(tmp);
        Files.createDirectories(tmp.resolve("images/train"));
        Files.createDirectories(tmp.resolve("images/test"));
        try {
            write(world, world.train(), "train", tmp, FolderDataset.TRAIN);
            write(world, world.heldOut(), "test", tmp, FolderDataset.TEST);
            if (Files.exists(abs)) Files.delete(abs);   // the empty folder the user made
            Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            deleteTree(tmp);
            throw e;
        }
        return new int[] {world.train().size(), world.heldOut().size()};
    }

    private static void write(EmbeddedDataset world, List<EditItem> items, String split, Path root, String metadata)
            throws IOException {
        int s = world.resolution();
        Gson gson = new Gson();
        try (Writer w = Files.newBufferedWriter(root.resolve(metadata), StandardCharsets.UTF_8)) {
            for (int i = 0; i < items.size(); i++) {
                EditItem it = items.get(i);
                String src = String.format(Locale.ROOT, "images/%s/%06d_source.png", split, i);
                String tgt = String.format(Locale.ROOT, "images/%s/%06d_target.png", split, i);
                Files.write(root.resolve(src), ImageCodec.encode(world.source(it), s, ImageFormat.PNG));
                Files.write(root.resolve(tgt), ImageCodec.encode(world.target(it), s, ImageFormat.PNG));
                JsonObject o = new JsonObject();
                o.addProperty("prompt", it.prompt());
                o.addProperty("image", src);
                o.addProperty("requirement", it.requirement());
                o.addProperty("target", tgt);
                w.write(gson.toJson(o));
                w.write('\n');
            }
        }
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (var walk = Files.walk(p)) {
            for (Path q : walk.sorted(Comparator.reverseOrder()).toList()) Files.delete(q);
        }
    }
}
