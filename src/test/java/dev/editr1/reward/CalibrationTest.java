package dev.editr1.reward;

import dev.editr1.data.ImageCodec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.editr1.kernels.NativeOps;
import dev.editr1.world.Palette;
import dev.editr1.world.Renderer;
import dev.editr1.world.Scene;

class CalibrationTest {
    static Scene scene(String bg, String colour, int cell) {
        return new Scene(bg, List.of(new Scene.Shape(Palette.Kind.SQUARE, colour, cell)));
    }

    @Test
    void pairsFromAFileAreRankedByEveryMethod(@TempDir Path dir) throws IOException {
        Renderer r = new Renderer(18);
        StringBuilder jsonl = new StringBuilder();
        for (int i = 0; i < 6; i++) {
            Scene src = scene("black", "red", i), target = scene("black", "blue", i);
            Scene wrong = scene("white", "red", (i + 4) % 9);   // nothing right
            write(dir, "s" + i + ".png", r.render(src));
            write(dir, "t" + i + ".png", r.render(target));
            write(dir, "w" + i + ".png", r.render(wrong));
            boolean aGood = i % 2 == 0;
            jsonl.append(String.format("{\"source\":\"s%d.png\",\"instruction\":\"make the square blue\",\"edited_a\":\"%s\","
                    + "\"edited_b\":\"%s\",\"better\":\"%s\",\"target\":\"t%d.png\"}%n", i, aGood ? "t" + i + ".png" : "w" + i + ".png",
                    aGood ? "w" + i + ".png" : "t" + i + ".png", aGood ? "a" : "b", i));
        }
        Path f = dir.resolve("pairs.jsonl");
        Files.writeString(f, jsonl);
        List<Calibration.Pair> pairs = Calibration.read(f);
        assertEquals(6, pairs.size());
        try (SimulatedJudge j = new SimulatedJudge(new NativeOps(true), 3, 0.05)) {
            Map<Judge.Method, Calibration.Accuracy> acc = Calibration.run(j, pairs);
            for (Calibration.Accuracy a : acc.values()) {
                assertEquals(6, a.pairs());
                assertEquals(1.0, a.accuracy(), 1e-9, a.method() + " ranks a perfect edit above a wrong one");
            }
        }
    }

    @Test
    void badPairsFilesAreNamed(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("bad.jsonl");
        Files.writeString(f, "{\"source\":\"a.png\",\"instruction\":\"x\"}\n");
        IOException e = assertThrows(IOException.class, () -> Calibration.read(f));
        assertTrue(e.getMessage().contains("line 1") && e.getMessage().contains("edited_a"), e.getMessage());
        Files.writeString(f, "not json\n");
        e = assertThrows(IOException.class, () -> Calibration.read(f));
        assertTrue(e.getMessage().contains("line 1"), e.getMessage());
        assertThrows(IOException.class, () -> Calibration.read(dir.resolve("missing.jsonl")));
    }

    static void write(Path dir, String name, float[] img) throws IOException {
        Files.write(dir.resolve(name), ImageCodec.encode(img, 18, dev.editr1.data.ImageFormat.PNG));
    }
}
