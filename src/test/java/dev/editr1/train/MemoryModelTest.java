package dev.editr1.train;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.editr1.kernels.NativeOps;

/** The memory model's prediction against the measured peak of an epoch on the embedded default. */
class MemoryModelTest {
    /** The measured peak above the epoch's start (MB, median of epochs 1..) and the predicted transient (MB). */
    static double[] measure(Path dir, String... sets) throws Exception {
        TrainConfig c = TrainerTest.small(4);
        c.prompts = 8;
        c.groupSize = 8;
        c.filterStd = 0;      // every sample trains: the loss phase sees all of them
        c.filterMean = 2;
        c.heldOutTasks = 4;
        c.setAll(Arrays.asList(sets));
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
        double[] peaks = new double[c.epochs];
        double predicted;
        try (RunContext ctx = RunContext.open(c, quiet, new NativeOps(true), null)) {
            predicted = MemoryModel.estimate(ctx.model.memoryProfile(), c).transientBytes() / 1048576.0;
            Trainer t = new Trainer(ctx, new RunFolder(dir), quiet);
            t.setUp(false);
            for (int e = 0; e < c.epochs; e++)
                try (org.bytedeco.javacpp.PointerScope s = new org.bytedeco.javacpp.PointerScope()) {
                    Trainer.EpochMetrics m = t.epoch(e);
                    peaks[e] = (m.peakTensorBytes() - m.startTensorBytes()) / 1048576.0;
                }
        }
        return new double[] {MemoryTest.typical(peaks), predicted};
    }

    @Test
    void predictionsMatchMeasuredPeaks(@TempDir Path tmp) throws Exception {
        String[][] configs = {
                {"rolloutBatch=16"},
                {"rolloutBatch=16", "microBatch=16"},
                {"rolloutBatch=16", "gradientCheckpointing=true"},
                {"rolloutBatch=64", "microBatch=2"}};
        StringBuilder report = new StringBuilder();
        double[][] r = new double[configs.length][];
        for (int i = 0; i < configs.length; i++) {
            r[i] = measure(tmp.resolve("r" + i), configs[i]);
            report.append(String.format(Locale.ROOT, "%n  %-45s measured %6.1f MB, predicted %6.1f MB", String.join(" ", configs[i]),
                    r[i][0], r[i][1]));
        }
        System.out.println("MemoryModelTest: peak above the epoch's start" + report);
        for (double[] x : r) assertTrue(Math.abs(x[0] - x[1]) <= 0.35 * x[0] + 2, "the memory model is off:" + report);
    }
}
