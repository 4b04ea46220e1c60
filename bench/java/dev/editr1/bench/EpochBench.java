package dev.editr1.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.bytedeco.javacpp.PointerScope;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;


/**
 * One training epoch of the embedded default (8 × 8 rollouts, 6 DPM-Solver++(2M) steps, the NFT
 * update) with the fused kernels vs the composed libtorch ones. Each invocation is one epoch; the
 * per-phase seconds and the seconds spent inside the kernels' calls ({@link TimedOps}) go to
 * stderr as JSON lines (timings.jsonl's format) for the summary.
 *
 * <p>{@code -p load=busy} runs it beside a busy process, {@code -p threads=N -p kernelThreads=M}
 * with other thread settings (bench/RESULTS.md, "kernels under load": the default's choice).
 *
 * <p>Each trial starts a fresh trainer with the default seed, so iteration k of the native trial
 * and iteration k of the torch trial run the same epoch (the same prompts and noise): the summary
 * pairs them, since epochs differ in work (the filter keeps a varying number of groups) far more
 * than the two implementations do.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3)
@Measurement(iterations = 10)
@Fork(1)
public class EpochBench {
    @Param({"native", "torch"})
    public String impl;

    /** libtorch's intra-op threads (TrainConfig.threads); the kernels' come from {@link BenchSupport.Load#kernelThreads}. */
    @Param({"1"})
    public int threads;

    /** OpenBLAS's threads (TrainConfig.blasThreads, default 1; 0: the CPUs other processes leave free). */
    @Param({"1"})
    public int blasThreads;

    BenchSupport.EpochRun run;
    TimedOps ops;
    Path dir;
    int epoch;

    @Setup(Level.Trial)
    public void setUp(BenchSupport.Load load) throws Exception {
        dir = Files.createTempDirectory("editr1-epochbench");
        ops = new TimedOps(BenchSupport.ops(impl));
        run = BenchSupport.defaultTrainer(ops, dir, threads, load.kernelThreads, blasThreads);
    }

    @Benchmark
    public void epoch(BenchSupport.Load load, Blackhole bh) {
        try (PointerScope scope = new PointerScope()) {
            bh.consume(BenchSupport.timedEpoch(run.trainer(), ops, epoch++, impl, System.err));
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() throws Exception {
        run.close();
        BenchSupport.deleteTree(dir);
    }
}
