package dev.editr1.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code wallSeconds}: a run stops after the epoch that brings its training time to the budget, and a resume keeps it spent. */
class WallClockBudgetTest {
    @Test
    void aRunStopsAtItsWallClockBudgetAndAResumeDoesNotExtendIt(@TempDir Path tmp) throws Exception {
        TrainConfig c = TrainerTest.small(50);
        c.steps = 3;
        c.heldOutTasks = 2;
        c.checkpointEvery = 10;
        c.wallSeconds = 1e-3;   // any epoch takes longer: the first one is the last
        Trainer.Summary s = TrainerTest.run(c, tmp.resolve("run"), false);
        assertEquals(1, s.epochs());
        assertEquals(1, Files.readAllLines(tmp.resolve("run/metrics.jsonl")).size());
        assertTrue(Files.isRegularFile(tmp.resolve("run/checkpoints/latest/state.json")), "the last epoch is checkpointed");
        assertTrue(s.wallSeconds() >= 1e-3);
        Trainer.Summary again = TrainerTest.run(c, tmp.resolve("run"), true);
        assertEquals(1, again.epochs(), "the budget was spent before the resume");
        assertEquals(1, Files.readAllLines(tmp.resolve("run/metrics.jsonl")).size());
    }
}
