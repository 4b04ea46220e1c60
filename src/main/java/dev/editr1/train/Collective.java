package dev.editr1.train;

import java.util.List;

import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;

/**
 * What ranks share in a multi-process run: each rank samples its share of the groups, rewards are
 * gathered before advantages (so every rank computes the same epoch statistics), and gradients are
 * summed with per-rank weights before the optimizer step. {@link #single()} is the one-process
 * case; {@code dev.editr1.dist.C10dCollective} is PyTorch's c10d (Gloo on the CPU, NCCL on CUDA).
 *
 * <p>Every method is collective: all ranks call it, in the same order, or the run stops (see
 * {@code C10dCollective} for how a rank that never arrives is named).
 */
public interface Collective extends AutoCloseable {
    int rank();

    int worldSize();

    /**
     * Every rank's array, one per rank in rank order; the lengths may differ between ranks.
     * Bit-exact (a gather, not a sum), NaN included.
     */
    double[][] gather(double[] local);

    /** {@link #gather} concatenated in rank order. */
    default double[] allGather(double[] local) {
        double[][] parts = gather(local);
        int n = 0;
        for (double[] p : parts) n += p.length;
        double[] out = new double[n];
        int k = 0;
        for (double[] p : parts) {
            System.arraycopy(p, 0, out, k, p.length);
            k += p.length;
        }
        return out;
    }

    /**
     * Replaces the tensors, in place on every rank, by Σ_r weight_r · tensors_r (rank r's weight
     * and tensors), reduced in buckets of the run's bucket size. The tensors must have the same
     * shapes, dtype and order on every rank.
     *
     * @return the bytes and seconds it took (for timings.jsonl)
     */
    ReduceStats allReduceSum(List<Tensor> tensors, double weight);

    /** Copies rank 0's tensors into every rank's, in place (same shapes, dtype and order everywhere). */
    void broadcast(List<Tensor> tensors);

    /** Rank 0's text, on every rank. */
    String broadcast(String text);

    /**
     * Checks that every rank holds the same values (bit for bit); otherwise throws, on every rank,
     * an {@link IllegalStateException} that names the ranks that differ from rank 0 and what.
     */
    void verifySame(String what, double[] values);

    /** Says what this rank is doing now (named in the messages of other ranks if this one stops answering). */
    default void phase(String name, int epoch) {}

    /** Ends the run's collective life cleanly (every rank calls it last). */
    @Override
    default void close() {}

    /**
     * What an all-reduce moved: bytes per rank (the payload, not the wire traffic), buckets, the
     * seconds of the reduction itself (packing, the collectives, unpacking), and the seconds spent
     * before it waiting for the slowest rank to arrive.
     */
    record ReduceStats(long bytes, int buckets, double seconds, double waitSeconds) {
        public static final ReduceStats NONE = new ReduceStats(0, 0, 0, 0);
    }

    static Collective single() {
        return new Collective() {
            @Override
            public int rank() {
                return 0;
            }

            @Override
            public int worldSize() {
                return 1;
            }

            @Override
            public double[][] gather(double[] local) {
                return new double[][] {local.clone()};
            }

            @Override
            public ReduceStats allReduceSum(List<Tensor> tensors, double weight) {
                if (weight != 1.0) for (Tensor t : tensors) t.mul_(new Scalar(weight));
                return ReduceStats.NONE;
            }

            @Override
            public void broadcast(List<Tensor> tensors) {}

            @Override
            public String broadcast(String text) {
                return text;
            }

            @Override
            public void verifySame(String what, double[] values) {}
        };
    }
}
