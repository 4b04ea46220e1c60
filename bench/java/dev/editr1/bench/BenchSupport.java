package dev.editr1.bench;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.SplittableRandom;

import org.bytedeco.pytorch.Tensor;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import dev.editr1.kernels.DType;
import dev.editr1.kernels.KernelOps;
import dev.editr1.kernels.NativeOps;
import dev.editr1.kernels.Tensors;
import dev.editr1.kernels.TorchOps;
import dev.editr1.train.RunContext;
import dev.editr1.train.RunFolder;
import dev.editr1.train.TrainConfig;
import dev.editr1.train.Trainer;

/** What the kernel benchmarks share: the implementation under test, inputs, and the byte counter. */
public final class BenchSupport {
    private BenchSupport() {}

    static {
        // as the CLI does: JavaCPP's per-allocation accounting off (it costs more than small ops)
        if (System.getProperty("org.bytedeco.javacpp.maxBytes") == null) System.setProperty("org.bytedeco.javacpp.maxBytes", "0");
        if (System.getProperty("org.bytedeco.javacpp.maxPhysicalBytes") == null)
            System.setProperty("org.bytedeco.javacpp.maxPhysicalBytes", "0");
    }

    /**
     * Bytes moved per operation, counted by JMH as a secondary "bytes" rate (bytes/s): the kernel's
     * minimum traffic (each input read once, each output written once), whatever the implementation.
     */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Traffic {
        public long bytes;

        @Setup(Level.Iteration)
        public void reset() {
            bytes = 0;
        }
    }

    /**
     * Competing load, started and stopped by the benchmark itself so anyone can reproduce a loaded
     * run: {@code -p load=none} (default), {@code busy} (one busy process, the condition of
     * bench/RESULTS.md's "kernels under load") or {@code busyN} (N of them). Each is a shell spinning
     * in user space for the whole trial (warm-up included); it checks every ~50 ms that the JMH
     * fork that started it is alive, so a killed fork leaves nothing behind.
     */
    @State(Scope.Benchmark)
    public static class Load {
        @Param({"none"})
        public String load;

        /** The CPU kernels' threads (editr1_set_cpu_threads; 0: the library's default). */
        @Param({"0"})
        public int kernelThreads;

        private final java.util.List<Process> procs = new java.util.ArrayList<>();
        private Thread hook;

        static int processes(String load) {
            if (load.equals("none")) return 0;
            if (load.equals("busy")) return 1;
            if (load.startsWith("busy")) return Integer.parseInt(load.substring(4));
            throw new IllegalArgumentException("load must be none, busy or busyN, got " + load);
        }

        @Setup(Level.Trial)
        public void start() throws IOException {
            dev.editr1.kernels.Editr1Native.editr1_set_cpu_threads(kernelThreads);   // (a trainer's RunContext sets it again)
            int n = processes(load);
            // setsid: its own session (and scheduler autogroup), like a job started from another terminal
            String spin = "p=" + ProcessHandle.current().pid() + "; while :; do i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; kill -0 $p 2>/dev/null || exit 0; done";
            for (int i = 0; i < n; i++)
                procs.add(new ProcessBuilder("setsid", "sh", "-c", spin).redirectErrorStream(true)
                        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start());
            if (n > 0) {
                hook = new Thread(this::stop);
                Runtime.getRuntime().addShutdownHook(hook);
            }
        }

        @TearDown(Level.Trial)
        public void stop() {
            if (Thread.currentThread() != hook)
                System.out.println("\nCPU pool: " + dev.editr1.kernels.Editr1Native.editr1_cpu_threads() + " threads, "
                        + dev.editr1.kernels.Editr1Native.editr1_cpu_pool_spare() + " CPUs spare at the last sample (load " + load + ")");
            for (Process p : procs) p.destroyForcibly();
            for (Process p : procs)
                try {
                    p.waitFor();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            procs.clear();
            if (hook != null && Thread.currentThread() != hook)
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException e) {
                    // shutting down already
                }
            hook = null;
        }
    }

    /**
     * native: the fused kernels through the Java façade (the CPU path validates finiteness for free);
     * torch: the same math composed from libtorch ops, without the façade's extra finiteness passes.
     */
    static KernelOps ops(String impl) {
        return switch (impl) {
            case "native" -> new NativeOps(false);
            case "torch" -> new TorchOps(false);
            default -> throw new IllegalArgumentException("impl must be native or torch, got " + impl);
        };
    }

    /** shape strings: "12x16x64x64" */
    static long[] shape(String s) {
        String[] p = s.split("x");
        long[] out = new long[p.length];
        for (int i = 0; i < p.length; i++) out[i] = Long.parseLong(p[i]);
        return out;
    }

    static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    static Tensor random(long seed, DType dt, long... shape) {
        int n = (int) numel(shape);
        SplittableRandom r = new SplittableRandom(seed);
        float[] f = new float[n];
        for (int i = 0; i < n; i++) f[i] = (float) (r.nextDouble() * 2 - 1);
        return Tensors.fromFloats(f, shape).to(dt.scalarType);
    }

    /** A trainer of the embedded default with its run context; closing it closes the context (the judge). */
    record EpochRun(RunContext ctx, Trainer trainer) implements AutoCloseable {
        @Override
        public void close() {
            ctx.close();
        }
    }

    /** A trainer of the embedded default (default config and seed, the shipped base, the CPU) on given kernels, in a folder. */
    static EpochRun defaultTrainer(KernelOps ops, Path dir) throws IOException {
        return defaultTrainer(ops, dir, java.util.List.of());
    }

    /** {@link #defaultTrainer(KernelOps, Path)} with libtorch's, the CPU kernels' and OpenBLAS's threads set. */
    static EpochRun defaultTrainer(KernelOps ops, Path dir, int threads, int kernelThreads, int blasThreads) throws IOException {
        return defaultTrainer(ops, dir, java.util.List.of("threads=" + threads, "kernelThreads=" + kernelThreads, "blasThreads=" + blasThreads));
    }

    /** The same with {@code key=value} settings (as {@code --set} takes them) on top of the default. */
    static EpochRun defaultTrainer(KernelOps ops, Path dir, java.util.List<String> sets) throws IOException {
        TrainConfig cfg = new TrainConfig();
        cfg.device = "cpu";
        cfg.setAll(sets);
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
        RunContext ctx = RunContext.open(cfg, quiet, ops, null);
        Trainer t = new Trainer(ctx, new RunFolder(dir), quiet);
        t.setUp(false);
        return new EpochRun(ctx, t);
    }

    /** Deletes a folder and everything in it (the epoch benchmarks' run folders). */
    static void deleteTree(Path dir) throws IOException {
        if (dir == null || !Files.exists(dir)) return;
        try (var w = Files.walk(dir)) {
            for (Path p : w.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }

    /**
     * Runs one epoch and prints {@code EPOCH_TIMINGS impl {json}} (timings.jsonl's record plus
     * {@code kernel_seconds}, the time inside the kernel calls, and {@code valid_samples}, the
     * samples the filter kept for the loss) to {@code out} for bench/summarize.py.
     */
    static Trainer.EpochMetrics timedEpoch(Trainer trainer, TimedOps ops, int epoch, String impl, PrintStream out) {
        ops.takeSeconds();
        Trainer.EpochMetrics m = trainer.epoch(epoch);
        java.util.Map<String, Object> t = m.timings();
        t.put("kernel_seconds", ops.takeSeconds());
        t.put("valid_samples", m.validSamples());  // the loss and backward phases scale with it
        out.println("EPOCH_TIMINGS " + impl + " " + new com.google.gson.Gson().toJson(t));
        return m;
    }
}
