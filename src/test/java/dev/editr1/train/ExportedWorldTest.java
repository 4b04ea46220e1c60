package dev.editr1.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.editr1.data.EditItem;
import dev.editr1.data.FolderDataset;
import dev.editr1.world.EmbeddedDataset;
import dev.editr1.world.WorldExport;

/** The embedded world written in Edit-R1's layout reads back as the same floats and trains identically. */
class ExportedWorldTest {
    @Test
    void exportedWorldIsTheSameDataAndTheSameRun(@TempDir Path tmp) throws Exception {
        TrainConfig c = TrainerTest.small(3);
        EmbeddedDataset world = new EmbeddedDataset(c.worldSeed, c.trainTasks, c.heldOutTasks, c.imageSize);
        Path dir = tmp.resolve("world");
        WorldExport.export(world, dir);
        FolderDataset folder = FolderDataset.open(dir, c.imageSize);
        assertEquals(world.train().size(), folder.train().size());
        assertEquals(world.heldOut().size(), folder.heldOut().size());
        for (int i = 0; i < world.train().size(); i++) {
            EditItem a = world.train().get(i), b = folder.train().get(i);
            assertEquals(a.prompt(), b.prompt());
            assertEquals(a.requirement(), b.requirement());
            assertArrayEquals(world.source(a), folder.source(b), "source " + i);
            assertArrayEquals(world.target(a), folder.target(b), "target " + i);
        }
        TrainerTest.run(c, tmp.resolve("embedded"), false);
        TrainConfig f = TrainerTest.small(3);
        f.data = dir.toString();
        TrainerTest.run(f, tmp.resolve("folder"), false);
        assertEquals(Files.readString(tmp.resolve("embedded/metrics.jsonl")), Files.readString(tmp.resolve("folder/metrics.jsonl")),
                "same seed, same data: the same metrics");
        String sa = Files.readString(tmp.resolve("embedded/summary.json")), sb = Files.readString(tmp.resolve("folder/summary.json"));
        assertEquals(sa.substring(0, sa.indexOf("\"epochs\"")), sb.substring(0, sb.indexOf("\"epochs\"")),
                "same held-out numbers");
    }
}
