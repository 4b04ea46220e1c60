package dev.editr1.bench;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import dev.editr1.dist.C10dCollective;
import dev.editr1.kernels.Backend;
import dev.editr1.dist.DistEnv;
import dev.editr1.dist.Launcher;
import dev.editr1.kernels.Tensors;
import dev.editr1.train.Collective;

/**
 * The bucketed gradient all-reduce of {@link C10dCollective} (Gloo over loopback on the CPU) against
 * the ceiling of the same bytes copied locally ({@code dst.copy_(src)} of one buffer of the payload,
 * same process, same run).
 *
 * <pre>
 *   java -cp … dev.editr1.bench.AllReduceBench [--ranks 2] [--mb 0.29,4,16,64,209.2] [--bucket-mb 25] [--reps 10]
 *                                                [--threads 1] [--json FILE]
 * </pre>
 * Without RANK in its environment it starts {@code --ranks} copies of itself as ranks (the
 * {@code train --nproc} launcher) and rank 0 prints a markdown table. Payload shapes: LoRA tensor
 * pairs as FLUX.1-Kontext's rank-32 adapter has them (A [32, 3072] and B [3072, 32], 384 KiB each),
 * as many as the size needs (209.2 MB = all 532 of them); 0.29 MB is the built-in model's θ.
 * Columns: the median seconds of {@code allReduceSum} after the ranks met (pack into buckets, scale,
 * one Gloo SUM all-reduce per bucket, unpack: what timings.jsonl calls {@code allreduce}); algbw = payload / time; busbw = algbw · 2(W−1)/W (the bytes each
 * rank sends and receives in a ring, the NCCL-tests convention); copy = payload / (median time of a
 * local copy of the payload); the last column is the all-reduce's algbw as a fraction of that copy.
 */
public final class AllReduceBench {
    private AllReduceBench() {}

    public static void main(String[] args) throws Exception {
        int ranks = 2, reps = 10, threads = 1;
        double bucketMb = 25;
        double[] mbs = {0.29, 4, 16, 64, 209.2};
        String json = null;
        for (int i = 0; i < args.length; i++)
            switch (args[i]) {
                case "--ranks" -> ranks = Integer.parseInt(args[++i]);
                case "--reps" -> reps = Integer.parseInt(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--bucket-mb" -> bucketMb = Double.parseDouble(args[++i]);
                case "--mb" -> mbs = Arrays.stream(args[++i].split(",")).mapToDouble(Double::parseDouble).toArray();
                case "--json" -> json = args[++i];
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        DistEnv env = DistEnv.fromEnvironment();
        if (!env.distributed()) {
            System.exit(Launcher.run(ranks, AllReduceBench.class.getName(), List.of(args), 15, System.out, System.err));
            return;
        }
        Backend.setCpuThreads(threads, threads);   // as a training rank runs (one libtorch thread by default)
        C10dCollective c = C10dCollective.open(env, new C10dCollective.Settings(120, 60, 10, (long) (bucketMb * (1 << 20))),
                Tensors.cpu(), new PrintStream(new ByteArrayOutputStream()), System.err);
        int w = env.worldSize();
        StringBuilder table = new StringBuilder();
        table.append(String.format(Locale.ROOT, "%d ranks (Gloo, loopback, one machine), buckets of %.0f MiB, %d libtorch thread(s) per "
                + "rank, median of %d%n%n", w, bucketMb, threads, reps));
        table.append("| payload MB | tensors | buckets | all-reduce ms | algbw GB/s | busbw GB/s | copy GB/s | algbw / copy |\n");
        table.append("|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        List<String> rows = new ArrayList<>();
        for (double mb : mbs) {
            List<Tensor> ts = payload(mb);
            long bytes = 0;
            for (Tensor t : ts) bytes += t.numel() * 4;
            double[] ar = new double[reps];
            Collective.ReduceStats st = null;
            for (int i = -2; i < reps; i++) {   // two warm-ups
                st = c.allReduceSum(ts, 1.0 / w);   // meets the other ranks first; st.seconds() is the reduction alone
                if (i >= 0) ar[i] = st.seconds();
            }
            Tensor src = Tensors.empty(ScalarType.Float, Tensors.cpu(), bytes / 4), dst = Tensors.empty(ScalarType.Float, Tensors.cpu(), bytes / 4);
            src.fill_(new org.bytedeco.pytorch.Scalar(1.0));
            double[] cp = new double[reps];
            for (int i = -2; i < reps; i++) {
                long t0 = System.nanoTime();
                dst.copy_(src);
                if (i >= 0) cp[i] = (System.nanoTime() - t0) / 1e9;
            }
            double a = median(ar), k = median(cp), alg = bytes / a / 1e9, copy = bytes / k / 1e9;
            table.append(String.format(Locale.ROOT, "| %.2f | %d | %d | %.2f | %.2f | %.2f | %.2f | %.1f%% |%n", bytes / 1e6, ts.size(),
                    st.buckets(), a * 1e3, alg, alg * 2 * (w - 1) / w, copy, 100 * alg / copy));
            rows.add(String.format(Locale.ROOT, "{\"bytes\":%d,\"tensors\":%d,\"buckets\":%d,\"allreduce_s\":%.6e,\"copy_s\":%.6e}", bytes,
                    ts.size(), st.buckets(), a, k));
        }
        if (env.rank() == 0) {
            System.out.print(table);
            if (json != null)
                Files.writeString(Path.of(json), "{\"ranks\":" + w + ",\"bucket_mb\":" + bucketMb + ",\"rows\":[" + String.join(",", rows) + "]}\n",
                        StandardCharsets.UTF_8);
        }
        c.close();
        System.exit(0);
    }

    /** LoRA tensor pairs shaped like FLUX.1-Kontext's rank-32 adapter (A [32, 3072], B [3072, 32]); the built-in θ below 1 MB. */
    static List<Tensor> payload(double mb) {
        List<Tensor> out = new ArrayList<>();
        long floats = (long) (mb * 1e6 / 4);
        long per = 32L * 3072;
        if (floats < per) {   // the built-in model's scale: one flat tensor
            out.add(Tensors.zeros(ScalarType.Float, Tensors.cpu(), floats).add_(new org.bytedeco.pytorch.Scalar(0.5)));
            return out;
        }
        for (long k = 0; k < Math.max(1, floats / per); k++)
            out.add(Tensors.zeros(ScalarType.Float, Tensors.cpu(), k % 2 == 0 ? new long[] {32, 3072} : new long[] {3072, 32})
                    .add_(new org.bytedeco.pytorch.Scalar(0.5)));
        return out;
    }

    static double median(double[] x) {
        double[] s = x.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
