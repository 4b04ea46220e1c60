package dev.editr1.bench;

import java.nio.file.Files;
import java.nio.file.Path;

import org.bytedeco.javacpp.PointerScope;


/**
 * The fused vs composed epoch, interleaved in one JVM: two trainers of the embedded default with
 * the same seed (one on {@code NativeOps}, one on {@code TorchOps}) run epoch k one after the
 * other, the order alternating with k. Both see the same prompts and noise, the same JIT state and
 * the same machine moment, so the per-epoch difference isolates the implementations; JMH's
 * EpochBench runs each in its own fork, where drift between forks is as large as the effect.
 *
 * <p>With settings ({@code EpochPairs 40 gradientCheckpointing=true}) the pair is instead the default
 * ({@code plain}) against the default with those settings ({@code variant}), both on the fused
 * kernels: what a setting costs per phase and in peak tensor memory (bench/RESULTS.md, gradient
 * checkpointing).
 *
 * <p>Prints one {@code EPOCH_TIMINGS impl {json}} line per trainer and epoch (timings.jsonl's
 * format plus {@code kernel_seconds}, the time inside the four kernel calls); bench/summarize.py
 * pairs them. Usage: {@code EpochPairs [epochs (default 40)] [key=value ...]}; the first 3 epochs
 * are warm-up.
 */
public final class EpochPairs {
    private EpochPairs() {}

    public static void main(String[] args) throws Exception {
        int epochs = args.length > 0 ? Integer.parseInt(args[0]) : 40;
        int warmup = 3;
        java.util.List<String> sets = java.util.Arrays.asList(args).subList(Math.min(1, args.length), args.length);
        boolean variant = !sets.isEmpty();
        String[] impls = variant ? new String[] {"plain", "variant"} : new String[] {"native", "torch"};
        BenchSupport.EpochRun[] trainers = new BenchSupport.EpochRun[2];
        TimedOps[] ops = new TimedOps[2];
        Path[] dirs = new Path[2];
        try {
            for (int i = 0; i < 2; i++) {
                dirs[i] = Files.createTempDirectory("editr1-epochpairs-" + impls[i]);
                ops[i] = new TimedOps(BenchSupport.ops(variant ? "native" : impls[i]));
                trainers[i] = BenchSupport.defaultTrainer(ops[i], dirs[i], variant && i == 1 ? sets : java.util.List.of());
            }
            for (int e = 0; e < warmup + epochs; e++) {
                for (int j = 0; j < 2; j++) {
                    int i = (e + j) % 2;  // native first on even epochs, torch first on odd ones
                    try (PointerScope scope = new PointerScope()) {
                        BenchSupport.timedEpoch(trainers[i].trainer(), ops[i], e, impls[i], System.out);
                    }
                }
            }
        } finally {
            for (int i = 0; i < 2; i++) {
                if (trainers[i] != null) trainers[i].close();
                BenchSupport.deleteTree(dirs[i]);
            }
        }
    }
}
