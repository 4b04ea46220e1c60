package dev.editr1.train;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

import com.google.gson.JsonParser;

import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.editr1.kernels.NativeMemory;
import dev.editr1.kernels.NativeOps;

/**
 * Long runs do not leak: a full training run (epochs, checkpoints, metrics) of a small embedded
 * configuration while a sampler records the process's RSS, the C heap in use and JavaCPP's
 * physicalBytes/totalBytes against the epoch count. After a warm-up, a least-squares line through
 * the heap in use must be flat (slope bound below) and RSS may not climb past a fixed margin; the
 * time per epoch may not drift upward. 300 epochs in CI; {@code -Deditr1.campaign=long}: 2,000.
 */
class SoakTest {
    /**
     * Slope bound of the C heap in use after warm-up: 16 KB per epoch (4 MB over CI's 240 measured
     * epochs, 29 MB over the long mode's 1,600). The JVM's own malloc use (JIT arenas) moves it by a
     * few KB per epoch; a leaked batch of the soak's latents (8 × 3.9 KB) would exceed it.
     */
    static final double HEAP_SLOPE_BOUND = 16384;
    /** RSS may exceed its value at the end of warm-up by at most this (allocator fragmentation, JIT). */
    static final long RSS_MARGIN = 48L << 20;

    /** One reading: epochs finished, RSS (JavaCPP's physicalBytes), the C heap in use, JavaCPP's tracked bytes. */
    record Sample(int epochs, long rss, long heap, long total) {}

    @Test
    void memoryIsFlatAndEpochsDoNotSlowDown(@TempDir Path tmp) throws Exception {
        int epochs = "long".equals(System.getProperty("editr1.campaign")) ? 2000 : 300, warmup = epochs / 5;
        TrainConfig c = TrainerTest.small(epochs);
        c.groupSize = 2;
        c.rolloutBatch = 4;
        c.steps = 4;
        c.heldOutTasks = 2;
        // a checkpoint (and the trend plot with it) every 30 epochs: 10 in CI. Each plot leaves
        // ~150 KB of C heap behind that no GC returns (Java2D/ImageIO natives; measured: a plot every
        // 2 epochs gave +64..103 KB/epoch, none gave −67 KB/epoch), so the soak runs the writers at
        // a cadence like the default's (60) rather than hiding a per-epoch leak under theirs
        c.checkpointEvery = 30;
        Path dir = tmp.resolve("run"), metrics = dir.resolve("metrics.jsonl");
        List<Sample> samples = new ArrayList<>();
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
        Thread sampler;
        try (RunContext ctx = RunContext.open(c, quiet, new NativeOps(true), null)) {
            Trainer t = new Trainer(ctx, new RunFolder(dir), quiet);
            t.setUp(false);
            sampler = new Thread(() -> {
                while (!Thread.currentThread().isInterrupted()) {
                    try {
                        long n = 0;
                        if (Files.exists(metrics)) try (var lines = Files.lines(metrics)) {
                            n = lines.count();
                        }
                        synchronized (samples) {
                            samples.add(new Sample((int) n, Pointer.physicalBytes(), NativeMemory.inUse(), Pointer.totalBytes()));
                        }
                        // native memory owned by Java objects (Java2D's glyph caches for the plot, the
                        // PNG writer's zlib stream) is freed when they are collected: a collection now
                        // and then makes the heap reading what is leaked, not what awaits a GC
                        if (samples.size() % 20 == 0) System.gc();
                        Thread.sleep(100);
                    } catch (InterruptedException e) {
                        return;
                    } catch (Exception e) {
                        // a metrics line being written: sample again
                    }
                }
            }, "soak-sampler");
            sampler.setDaemon(true);
            sampler.start();
            t.run();
            sampler.interrupt();
            sampler.join();
        }
        List<Sample> after = samples.stream().filter(s -> s.epochs() >= warmup && s.epochs() < epochs).toList();
        assertTrue(after.size() > 20, "samples after warm-up: " + after.size());
        double[] x = after.stream().mapToDouble(Sample::epochs).toArray(), heap = after.stream().mapToDouble(Sample::heap).toArray();
        double slope = slope(x, heap);
        long rssAtWarmup = after.get(0).rss(), rssMax = after.stream().mapToLong(Sample::rss).max().orElseThrow();
        long totalMax = after.stream().mapToLong(Sample::total).max().orElseThrow(), totalAt = after.get(0).total();
        double[] sec = Files.readAllLines(dir.resolve("timings.jsonl")).stream()
                .mapToDouble(l -> JsonParser.parseString(l).getAsJsonObject().getAsJsonObject("seconds").get("total").getAsDouble()).toArray();
        double early = median(Arrays.copyOfRange(sec, warmup, warmup + epochs / 10)), late = median(Arrays.copyOfRange(sec,
                epochs - epochs / 10, epochs));
        System.out.printf(Locale.ROOT, "SoakTest: %d epochs, %d samples after warm-up (epoch %d): C heap slope %.0f B/epoch (bound %.0f), "
                        + "RSS %.1f MB at warm-up, max %.1f MB (margin %d MB); JavaCPP totalBytes %.1f → max %.1f MB; "
                        + "median epoch %.3f s early vs %.3f s late%n", epochs, after.size(), warmup, slope, HEAP_SLOPE_BOUND,
                rssAtWarmup / 1048576.0, rssMax / 1048576.0, RSS_MARGIN >> 20, totalAt / 1048576.0, totalMax / 1048576.0, early, late);
        assertTrue(slope <= HEAP_SLOPE_BOUND, "the C heap grows by " + slope + " bytes per epoch");   // shrinking is fine
        assertTrue(rssMax - rssAtWarmup <= RSS_MARGIN, "RSS grew by " + (rssMax - rssAtWarmup) / 1048576.0 + " MB after warm-up");
        assertTrue(late <= 1.5 * early + 0.01, "epochs slowed down from " + early + " s to " + late + " s");
    }

    static double slope(double[] x, double[] y) {
        double mx = Arrays.stream(x).average().orElse(0), my = Arrays.stream(y).average().orElse(0), sxy = 0, sxx = 0;
        for (int i = 0; i < x.length; i++) {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
        }
        return sxx == 0 ? 0 : sxy / sxx;
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length == 0 ? Double.NaN : s[s.length / 2];
    }
}
