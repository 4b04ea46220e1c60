package dev.editr1.train;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Arrays;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.editr1.kernels.NativeOps;

/**
 * Tensors die when they are dead: an epoch's peak tensor memory (C heap in use, sampled where each
 * phase is at its highest, see NativeMemory) above what the epoch started with does not grow with
 * the number of sampling steps, of trained timesteps per sample, or of epochs. Under one scope per
 * epoch (the design before) each extra sampling step of this batch kept ~18 MB of activations alive.
 */
class MemoryTest {
    /** Per-epoch peak above the epoch's start, in MB. */
    static double[] peaks(Path dir, int epochs, String... sets) throws Exception {
        TrainConfig c = TrainerTest.small(epochs);
        c.prompts = 4;
        c.groupSize = 8;
        c.rolloutBatch = 32;
        c.filterStd = 0;      // keep every group: the loss phase always runs on all 32 samples
        c.filterMean = 2;
        c.heldOutTasks = 4;
        c.setAll(Arrays.asList(sets));
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
        double[] out = new double[epochs];
        try (RunContext ctx = RunContext.open(c, quiet, new NativeOps(true), null)) {
            Trainer t = new Trainer(ctx, new RunFolder(dir), quiet);
            t.setUp(false);
            for (int e = 0; e < epochs; e++) {
                Trainer.EpochMetrics m;
                try (org.bytedeco.javacpp.PointerScope s = new org.bytedeco.javacpp.PointerScope()) {
                    m = t.epoch(e);
                }
                out[e] = (m.peakTensorBytes() - m.startTensorBytes()) / 1048576.0;
            }
        }
        return out;
    }

    /** The median of epochs 1.. (epoch 0 also pays for first-use allocations: JIT, caches). */
    static double typical(double[] p) {
        double[] x = Arrays.copyOfRange(p, 1, p.length);
        Arrays.sort(x);
        return x[x.length / 2];
    }

    static void assertFlat(double a, double b, String what) {
        assertTrue(Math.abs(a - b) <= Math.max(8, 0.15 * Math.max(a, b)), what + ": " + a + " MB vs " + b + " MB");
    }

    @Test
    void peakDoesNotGrowWithSamplingStepsTrainedTimestepsOrEpochs(@TempDir Path tmp) throws Exception {
        double steps3 = typical(peaks(tmp.resolve("a"), 4, "steps=3", "timestepFraction=0.34"));
        double steps12 = typical(peaks(tmp.resolve("b"), 4, "steps=12", "timestepFraction=0.09"));
        assertFlat(steps3, steps12, "3 vs 12 sampling steps (one trained timestep each)");
        double slots1 = typical(peaks(tmp.resolve("c"), 4, "steps=6", "timestepFraction=0.17"));
        double slots6 = typical(peaks(tmp.resolve("d"), 4, "steps=6", "timestepFraction=1"));
        assertFlat(slots1, slots6, "1 vs 6 trained timesteps per sample");
        double[] long_ = peaks(tmp.resolve("e"), 10, "steps=6");
        assertFlat(typical(Arrays.copyOfRange(long_, 0, 4)), typical(Arrays.copyOfRange(long_, 6, 10)), "epochs 1-3 vs 7-9");
        System.out.printf("MemoryTest: peak above start, MB: steps 3 %.1f, 12 %.1f; slots 1 %.1f, 6 %.1f; epochs %s%n", steps3,
                steps12, slots1, slots6, Arrays.toString(long_));
    }
}
