package dev.editr1.train;

import java.util.List;

import org.bytedeco.pytorch.Tensor;

/**
 * What ranks share in a multi-process run: each rank samples its share of the groups, rewards are
 * gathered before advantages (so every rank computes the same epoch statistics), and gradients are
 * averaged before the optimizer step. {@link #single()} is the one-process case.
 */
public interface Collective {
    int rank();

    int worldSize();

    /** Every rank's rewards, concatenated in rank order. */
    double[] allGather(double[] local);

    /** Averages the gradients over the ranks, in place. */
    void allReduceMean(List<Tensor> grads);

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
            public double[] allGather(double[] local) {
                return local.clone();
            }

            @Override
            public void allReduceMean(List<Tensor> grads) {}
        };
    }
}
