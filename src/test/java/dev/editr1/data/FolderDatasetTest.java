package dev.editr1.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Edit-R1's dataset layout, and every kind of broken line named with its file and line. */
class FolderDatasetTest {
    static void lines(Path file, String... lines) throws IOException {
        Files.writeString(file, String.join("\n", lines) + "\n");
    }

    static Path folder(Path tmp) throws IOException {
        Path d = Files.createDirectories(tmp.resolve("ds"));
        Files.createDirectories(d.resolve("img"));
        ImageLoaderTest.png(d.resolve("img"), "a.png", ImageLoaderTest.image(24, 18, (x, y) -> 0x808080));
        ImageLoaderTest.png(d.resolve("img"), "b.png", ImageLoaderTest.image(18, 18, (x, y) -> 0xff0000));
        return d;
    }

    @Test
    void readsTheLayoutAndResizesToTheModelsResolution(@TempDir Path tmp) throws IOException {
        Path d = folder(tmp);
        lines(d.resolve("train_metadata.jsonl"),
                "{\"prompt\": \"make it red\", \"image\": \"img/a.png\", \"requirement\": \"the canvas is red\", \"target\": \"img/b.png\"}",
                "",
                "{\"prompt\": \"  keep it  \", \"image\": \"img/b.png\"}");
        lines(d.resolve("test_metadata.jsonl"), "{\"prompt\": \"p\", \"image\": \"img/a.png\", \"requirement\": \"r\"}");
        FolderDataset ds = FolderDataset.open(d, 9);
        assertEquals(2, ds.train().size());
        assertEquals(1, ds.heldOut().size());
        assertTrue(ds.skipped().isEmpty(), ds.skipped().toString());
        EditItem a = ds.train().get(0), b = ds.train().get(1);
        assertEquals("train_metadata.jsonl:1", a.id());
        assertEquals("train_metadata.jsonl:3", b.id(), "ids carry the line number");
        assertEquals("make it red", a.prompt());
        assertEquals("the canvas is red", a.requirement());
        assertEquals("keep it", b.prompt());
        assertEquals("", b.requirement(), "a missing requirement is empty");
        assertTrue(a.hasTarget() && !b.hasTarget());
        float[] src = ds.source(a), tgt = ds.target(a);
        assertEquals(3 * 81, src.length);
        assertEquals(ImageLoader.fromByte(128), src[40]);
        assertEquals(1f, tgt[40]);
        assertNull(ds.target(b));
        assertEquals("img/a.png#make it red", a.groupKey());
    }

    @Test
    void brokenLinesAreSkippedWithFileLineAndReason(@TempDir Path tmp) throws IOException {
        Path d = folder(tmp);
        Files.writeString(d.resolve("img/text.png"), "plain text");
        Files.write(d.resolve("img/bomb.png"), ImageLoaderTest.bomb());
        lines(d.resolve("train_metadata.jsonl"),
                "{\"prompt\": \"ok\", \"image\": \"img/a.png\"}",
                "{\"prompt\": \"unclosed\", \"image\": ",
                "{\"prompt\": \"\", \"image\": \"img/a.png\"}",
                "{\"image\": \"img/a.png\"}",
                "{\"prompt\": \"no image field\"}",
                "{\"prompt\": \"missing file\", \"image\": \"img/nope.png\"}",
                "{\"prompt\": \"not an image\", \"image\": \"img/text.png\"}",
                "{\"prompt\": \"bomb\", \"image\": \"img/bomb.png\"}",
                "{\"prompt\": \"bad target\", \"image\": \"img/a.png\", \"target\": \"img/nope.png\"}",
                "{\"prompt\": 7, \"image\": \"img/a.png\"}",
                "[1, 2, 3]");
        lines(d.resolve("test_metadata.jsonl"), "{\"prompt\": \"p\", \"image\": \"img/b.png\"}");
        FolderDataset ds = FolderDataset.open(d, 9);
        assertEquals(1, ds.train().size());
        List<String> got = ds.skipped().stream().map(Object::toString).collect(Collectors.toList());
        String[][] expect = {
                {"train_metadata.jsonl:2: ", "malformed JSON"},
                {"train_metadata.jsonl:3: ", "empty or missing prompt"},
                {"train_metadata.jsonl:4: ", "empty or missing prompt"},
                {"train_metadata.jsonl:5: ", "missing image"},
                {"train_metadata.jsonl:6: ", "image 'img/nope.png' does not exist"},
                {"train_metadata.jsonl:7: ", "image 'img/text.png' is not a PNG, JPEG"},
                {"train_metadata.jsonl:8: ", "image 'img/bomb.png' is 100000×100000 pixels, over the limit"},
                {"train_metadata.jsonl:9: ", "target 'img/nope.png' does not exist"},
                {"train_metadata.jsonl:10: ", "field 'prompt' is not a string"},
                {"train_metadata.jsonl:11: ", "not a JSON object"}};
        assertEquals(expect.length, got.size(), String.join("\n", got));
        for (int i = 0; i < expect.length; i++)
            assertTrue(got.get(i).startsWith(expect[i][0]) && got.get(i).contains(expect[i][1]), got.get(i) + " vs " + expect[i][1]);
    }

    @Test
    void pathsLeavingTheFolderRefuseTheDataset(@TempDir Path tmp) throws IOException {
        Path d = folder(tmp);
        ImageLoaderTest.png(tmp, "outside.png", ImageLoaderTest.image(9, 9, (x, y) -> 0));
        lines(d.resolve("test_metadata.jsonl"), "{\"prompt\": \"p\", \"image\": \"img/b.png\"}");
        for (String bad : new String[] {"../outside.png", "img/../../outside.png", tmp.resolve("outside.png").toString()}) {
            lines(d.resolve("train_metadata.jsonl"), "{\"prompt\": \"ok\", \"image\": \"img/a.png\"}",
                    "{\"prompt\": \"escape\", \"image\": \"" + bad + "\"}");
            IOException e = assertThrows(IOException.class, () -> FolderDataset.open(d, 9));
            assertTrue(e.getMessage().startsWith("train_metadata.jsonl:2: ") && e.getMessage().contains("leaves the dataset folder"),
                    e.getMessage());
        }
        // a link inside the folder that points outside it
        Files.createSymbolicLink(d.resolve("img/link.png"), tmp.resolve("outside.png"));
        lines(d.resolve("train_metadata.jsonl"), "{\"prompt\": \"via a link\", \"image\": \"img/link.png\"}");
        IOException e = assertThrows(IOException.class, () -> FolderDataset.open(d, 9));
        assertTrue(e.getMessage().contains("leaves the dataset folder"), e.getMessage());
    }

    @Test
    void missingFilesAndEmptySplitsAreFatal(@TempDir Path tmp) throws IOException {
        Path d = folder(tmp);
        IOException e = assertThrows(IOException.class, () -> FolderDataset.open(d, 9));
        assertTrue(e.getMessage().contains("has no train_metadata.jsonl"), e.getMessage());
        lines(d.resolve("train_metadata.jsonl"), "{\"prompt\": \"ok\", \"image\": \"img/a.png\"}");
        e = assertThrows(IOException.class, () -> FolderDataset.open(d, 9));
        assertTrue(e.getMessage().contains("has no test_metadata.jsonl"), e.getMessage());
        lines(d.resolve("test_metadata.jsonl"), "{\"prompt\": \"\", \"image\": \"img/a.png\"}", "not json");
        e = assertThrows(IOException.class, () -> FolderDataset.open(d, 9));
        assertTrue(e.getMessage().contains("test_metadata.jsonl: no usable line (2 skipped, first: test_metadata.jsonl:1: empty"),
                e.getMessage());
        e = assertThrows(IOException.class, () -> FolderDataset.open(tmp.resolve("nowhere"), 9));
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    }

    @Test
    void aBodyThatDoesNotDecodeFailsAtUseWithItsLine(@TempDir Path tmp) throws IOException {
        Path d = folder(tmp);
        // a valid header, then garbage: passes the header check, fails on decoding
        byte[] good = Files.readAllBytes(d.resolve("img/a.png"));
        byte[] broken = java.util.Arrays.copyOf(good, 40);
        Files.write(d.resolve("img/cut.png"), broken);
        lines(d.resolve("train_metadata.jsonl"), "{\"prompt\": \"cut\", \"image\": \"img/cut.png\"}");
        lines(d.resolve("test_metadata.jsonl"), "{\"prompt\": \"p\", \"image\": \"img/b.png\"}");
        FolderDataset ds = FolderDataset.open(d, 9);
        UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> ds.source(ds.train().get(0)));
        assertTrue(e.getCause().getMessage().startsWith("train_metadata.jsonl:1: image 'img/cut.png'"), e.getCause().getMessage());
    }
}
