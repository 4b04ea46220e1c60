package dev.editr1.train;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;

import javax.management.JMException;
import javax.management.ObjectName;

import com.google.gson.JsonParser;

import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.editr1.kernels.NativeMemory;
import dev.editr1.kernels.NativeOps;

/**
 * Long runs do not leak: a full training run (epochs, checkpoints, metrics) of a small embedded
 * configuration while a sampler records the process's RSS, the C heap in use and held, the Java
 * heap and JavaCPP's totalBytes against the epoch count. After a warm-up, the C heap in use less
 * HotSpot's own, read at every 10th epoch's end, must be flat (a median slope, bound below), the
 * resident memory outside the two heaps may not climb past a fixed margin, and the CPU time per
 * epoch may not drift upward (nor the wall clock grossly). 300 epochs in CI;
 * {@code -Deditr1.campaign=long}: 2,000. Run it as {@code mvn -B -o surefire:test@soak-test}: that
 * execution sets the JVM up for the measurement.
 *
 * <p>Why not the whole RSS: two parts of it move by design. The C heap keeps up to 256 MB of freed
 * memory for reuse ({@link dev.editr1.kernels.HeapRetention}), in one arena per thread that
 * allocates, so its resident size follows the most each thread has had freed at once, not what is
 * in use; and the JVM grows its Java heap as it sees fit. Once the heap was kept, the whole RSS
 * rose 19–23 MB after warm-up on the 2-core VMs and 48.6 MB on one CI machine (margin 48), with the
 * C heap in use within its slope bound. So the C heap is bounded by its slope (what tensors hold),
 * the Java heap is fixed and touched up front by the pom's soak-test execution (Xms = Xmx,
 * AlwaysPreTouch), and the margin bounds the rest: the RSS less the bytes the C heap holds from
 * the kernel less the committed Java heap, where a leak of mmaps, thread stacks or JVM internals
 * would show. The RSS and both heaps are printed, so a failure says which part grew.
 */
class SoakTest {
    /**
     * Slope bound of the C heap in use less HotSpot's own after warm-up: 16 KB per epoch (4 MB over
     * CI's 240 measured epochs, 29 MB over the long mode's 1,600). Measured on a 2-core VM: +2.4 to
     * +2.8 KB/epoch in six runs (the plots' Java2D natives, ~80 KB a checkpoint); with 24 KB more
     * malloc'd and kept each epoch, +27.2 KB, a failure (read with HotSpot's arenas counted, as
     * before, the same leak read −36.9 KB/epoch and passed).
     */
    static final double HEAP_SLOPE_BOUND = 16384;
    /** Epochs between two readings of the heap in use for its slope (each costs two collections). */
    static final int READ_EVERY = 10;
    /**
     * The resident memory outside the two heaps may exceed its peak over the first fifth of the
     * measured epochs by at most this in the rest (JIT code, allocator bookkeeping).
     */
    static final long RSS_MARGIN = 48L << 20;

    /**
     * One reading: epochs finished, RSS (JavaCPP's physicalBytes), the C heap in use and held from
     * the kernel, the committed Java heap, JavaCPP's tracked bytes.
     */
    record Sample(int epochs, long rss, long heap, long held, long javaHeap, long total) {
        /** Resident bytes that neither heap accounts for. */
        long outside() {
            return rss - held - javaHeap;
        }
    }

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
        // the heap in use for the slope is read every 10th epoch on the trainer's thread as it logs
        // the epoch's line, after the epoch's tensors are freed and after two collections (the
        // native memory of Java objects, e.g. Java2D's for the plots, is freed by JavaCPP's and the
        // JDK's deallocator threads once they are collected), less what HotSpot itself has
        // malloc'd (NMT). The JIT's compiler arenas come and go by 10-20 MB at a time: with them
        // counted, and read at random points of the epoch as the sampler does, the slope ranged
        // from -66 to +18 KB/epoch over runs with no leak
        long[] heapAtEpochEnd = new long[epochs + 1], jvmAtEpochEnd = new long[epochs + 1];
        // and the process's CPU seconds from one epoch's line to the next (the collections above
        // left out): a slowdown of the code shows there too, while a busy machine, which stretches
        // the wall clock of a stretch of epochs, does not (once, here, the wall clock's median of
        // the last 30 epochs read 0.135 s against 0.074 s early, with nothing changed in between)
        double[] cpuSec = new double[epochs + 1];
        long[] lastCpu = {-1};
        PrintStream log = new PrintStream(OutputStream.nullOutputStream()) {
            @Override
            public PrintStream format(Locale l, String format, Object... args) {
                if (!(format.startsWith("epoch ") && args.length > 0 && args[0] instanceof Integer e && e <= epochs)) return this;
                long now = processCpuNanos();
                if (lastCpu[0] >= 0) cpuSec[e] = (now - lastCpu[0]) / 1e9;
                if (e % READ_EVERY == 0) {
                    try {
                        for (int gc = 0; gc < 2; gc++) {
                            System.gc();
                            Thread.sleep(50);
                        }
                        jvmAtEpochEnd[e] = jvmMallocBytes();
                        heapAtEpochEnd[e] = NativeMemory.inUse();
                    } catch (InterruptedException ie) {
                        Thread.currentThread().interrupt();
                    }
                }
                lastCpu[0] = processCpuNanos();
                return this;
            }
        };
        Thread sampler;
        try (RunContext ctx = RunContext.open(c, quiet, new NativeOps(true), null)) {
            Trainer t = new Trainer(ctx, new RunFolder(dir), log);
            t.setUp(false);
            sampler = new Thread(() -> {
                while (!Thread.currentThread().isInterrupted()) {
                    try {
                        long n = 0;
                        if (Files.exists(metrics)) try (var lines = Files.lines(metrics)) {
                            n = lines.count();
                        }
                        synchronized (samples) {
                            samples.add(new Sample((int) n, Pointer.physicalBytes(), NativeMemory.inUse(), NativeMemory.heldOnCpu(),
                                    Runtime.getRuntime().totalMemory(), Pointer.totalBytes()));
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
        double slopeAll = slope(x, heap);
        int[] read = IntStream.rangeClosed(warmup, epochs).filter(e -> e % READ_EVERY == 0).toArray();
        assertTrue(Arrays.stream(read).allMatch(e -> heapAtEpochEnd[e] > 0 && jvmAtEpochEnd[e] > 0), "an epoch's line was not logged");
        double[] readAt = Arrays.stream(read).asDoubleStream().toArray();
        double slope = medianSlope(readAt, Arrays.stream(read).mapToDouble(e -> heapAtEpochEnd[e] - jvmAtEpochEnd[e]).toArray()),
                slopeWithJvm = slope(readAt, Arrays.stream(read).mapToDouble(e -> heapAtEpochEnd[e]).toArray());
        // (two calls, so held may trail in use by what was freed between them: only known is checked)
        assertTrue(after.stream().allMatch(a -> a.heap() >= 0 && a.held() >= 0), "the C heap's counts are unknown here");
        // peaks, not single readings: each window holds at least one checkpoint (every 30 epochs)
        int firstFifth = Math.max(1, after.size() / 5);
        List<Sample> early = after.subList(0, firstFifth), rest = after.subList(firstFifth, after.size());
        long outsideEarly = max(early, Sample::outside), outsideLate = max(rest, Sample::outside);
        long rssEarly = max(early, Sample::rss), rssLate = max(rest, Sample::rss), heldEarly = max(early, Sample::held),
                heldLate = max(rest, Sample::held), javaEarly = max(early, Sample::javaHeap), javaLate = max(rest, Sample::javaHeap);
        long totalMax = max(after, Sample::total), totalAt = after.get(0).total();
        double[] sec = Files.readAllLines(dir.resolve("timings.jsonl")).stream()
                .mapToDouble(l -> JsonParser.parseString(l).getAsJsonObject().getAsJsonObject("seconds").get("total").getAsDouble()).toArray();
        double earlySec = median(Arrays.copyOfRange(sec, warmup, warmup + epochs / 10)), lateSec = median(Arrays.copyOfRange(sec,
                epochs - epochs / 10, epochs));
        // cpuSec[e] is epoch e's (1-based): the same windows as the wall clock's 0-based lines. Means, not
        // medians: the process's CPU clock ticks in 10 ms (a median of 0.08 s epochs read 0.08 or 0.10 s);
        // each window holds one checkpoint and no periodic evaluation, so the means compare like with like
        double earlyCpu = Arrays.stream(cpuSec, warmup + 1, warmup + 1 + epochs / 10).average().orElseThrow(),
                lateCpu = Arrays.stream(cpuSec, epochs - epochs / 10 + 1, epochs + 1).average().orElseThrow();
        System.out.printf(Locale.ROOT, "SoakTest: %d epochs, %d samples after warm-up (epoch %d): C heap in use less HotSpot's own, every "
                        + READ_EVERY + " epochs, collected: slope %.0f B/epoch (bound %.0f; with HotSpot's %.0f; of the sampler's "
                        + "readings %.0f); peak MB in the first fifth -> the rest: RSS %.1f -> %.1f, C heap held %.1f -> %.1f, "
                        + "Java heap committed %.1f -> %.1f, outside both %.1f -> %.1f (margin %d MB); JavaCPP totalBytes %.1f -> "
                        + "max %.1f MB; median epoch %.3f s early vs %.3f s late (mean CPU %.3f s vs %.3f s)%n", epochs, after.size(), warmup, slope, HEAP_SLOPE_BOUND, slopeWithJvm, slopeAll,
                mb(rssEarly), mb(rssLate), mb(heldEarly), mb(heldLate), mb(javaEarly), mb(javaLate), mb(outsideEarly),
                mb(outsideLate), RSS_MARGIN >> 20, mb(totalAt), mb(totalMax), earlySec, lateSec, earlyCpu, lateCpu);
        assertTrue(slope <= HEAP_SLOPE_BOUND, "the C heap grows by " + slope + " bytes per epoch");   // shrinking is fine
        assertTrue(outsideLate - outsideEarly <= RSS_MARGIN, "resident memory outside the C and Java heaps grew by "
                + mb(outsideLate - outsideEarly) + " MB after warm-up (RSS " + mb(rssLate - rssEarly) + " MB)");
        assertTrue(lateCpu <= 1.5 * earlyCpu + 0.01, "epochs' CPU time grew from " + earlyCpu + " s to " + lateCpu + " s");
        // the wall clock only for a gross slowdown that spends no CPU (waits that grow); a busy machine stretches it
        assertTrue(lateSec <= 3 * earlySec + 0.01, "epochs slowed down from " + earlySec + " s to " + lateSec + " s");
    }

    static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /**
     * Bytes HotSpot itself has malloc'd: the sum of every category's malloc in Native Memory
     * Tracking's summary (the JIT's arena chunks included), which the pom's soak-test execution
     * turns on.
     */
    static long jvmMallocBytes() {
        String summary;
        try {
            summary = (String) ManagementFactory.getPlatformMBeanServer().invoke(new ObjectName("com.sun.management:type=DiagnosticCommand"),
                    "vmNativeMemory", new Object[] {new String[] {"summary", "scale=KB"}}, new String[] {String[].class.getName()});
        } catch (JMException e) {
            throw new IllegalStateException("cannot read HotSpot's native memory summary", e);
        }
        Matcher m = Pattern.compile("\\(malloc=(\\d+)KB").matcher(summary);
        long kb = 0;
        boolean found = false;
        while (m.find()) {
            kb += Long.parseLong(m.group(1));
            found = true;
        }
        if (!found) throw new IllegalStateException("SoakTest needs -XX:NativeMemoryTracking=summary (run it as surefire:test@soak-test): "
                + summary.strip().lines().findFirst().orElse(""));
        return kb << 10;
    }

    static long max(List<Sample> s, java.util.function.ToLongFunction<Sample> f) {
        return s.stream().mapToLong(f).max().orElseThrow();
    }

    static double mb(long bytes) {
        return bytes / 1048576.0;
    }

    static double slope(double[] x, double[] y) {
        double mx = Arrays.stream(x).average().orElse(0), my = Arrays.stream(y).average().orElse(0), sxy = 0, sxx = 0;
        for (int i = 0; i < x.length; i++) {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
        }
        return sxx == 0 ? 0 : sxy / sxx;
    }

    /**
     * Theil–Sen: the median of the slopes between every two points. One reading caught with a
     * batch in flight (once +17 MB, at epoch 40) would move a least-squares line through 25
     * readings by up to 16 KB/epoch; the median ignores it.
     */
    static double medianSlope(double[] x, double[] y) {
        List<Double> slopes = new ArrayList<>();
        for (int i = 0; i < x.length; i++) for (int j = i + 1; j < x.length; j++) if (x[j] != x[i]) slopes.add((y[j] - y[i]) / (x[j] - x[i]));
        return median(slopes.stream().mapToDouble(Double::doubleValue).toArray());
    }

    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length == 0 ? Double.NaN : s[s.length / 2];
    }
}
