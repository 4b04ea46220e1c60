package dev.editr1.bench;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;

import dev.editr1.kernels.DType;
import dev.editr1.kernels.FlowStepInputs;
import dev.editr1.kernels.FlowStepOutputs;
import dev.editr1.kernels.FlowStepParams;
import dev.editr1.kernels.FlowStepResult;
import dev.editr1.kernels.ForwardResult;
import dev.editr1.kernels.GrpoLossConfig;
import dev.editr1.kernels.GrpoLossInputs;
import dev.editr1.kernels.GrpoLossResult;
import dev.editr1.kernels.KernelOps;
import dev.editr1.kernels.LogitScoreResult;
import dev.editr1.kernels.NftLossConfig;
import dev.editr1.kernels.NftLossInputs;
import dev.editr1.kernels.NftLossResult;
import dev.editr1.kernels.NoiseKey;
import dev.editr1.kernels.ScoreMode;
import dev.editr1.kernels.ScoreTokens;

/**
 * A {@link KernelOps} that forwards to another and adds up the wall time spent inside its calls
 * (CPU only: a CUDA launch returns before its work is done). EpochBench uses it to report how
 * much of an epoch the kernels take with each implementation. Calls from several threads
 * (the judge's logit score runs beside the rollout) add to one counter.
 */
final class TimedOps implements KernelOps {
    private final KernelOps inner;
    private final java.util.concurrent.atomic.AtomicLong nanos = new java.util.concurrent.atomic.AtomicLong();

    TimedOps(KernelOps inner) {
        this.inner = inner;
    }

    /** Seconds spent in kernel calls since the last call of this method. */
    double takeSeconds() {
        return nanos.getAndSet(0) * 1e-9;
    }

    private <R> R timed(java.util.function.Supplier<R> call) {
        long t0 = System.nanoTime();
        try {
            return call.get();
        } finally {
            nanos.addAndGet(System.nanoTime() - t0);
        }
    }

    @Override
    public String name() {
        return inner.name();
    }

    @Override
    public FlowStepResult flowStep(FlowStepParams params, FlowStepInputs in, FlowStepOutputs out) {
        return timed(() -> inner.flowStep(params, in, out));
    }

    @Override
    public Tensor noise(NoiseKey key, DType dtype, Device device, long... shape) {
        return timed(() -> inner.noise(key, dtype, device, shape));
    }

    @Override
    public ForwardResult forwardProcess(NoiseKey key, Tensor rowIds, Tensor x0, Tensor t, boolean wantEps) {
        return timed(() -> inner.forwardProcess(key, rowIds, x0, t, wantEps));
    }

    @Override
    public NftLossResult nftLoss(NftLossConfig config, NftLossInputs in, boolean wantGrad) {
        return timed(() -> inner.nftLoss(config, in, wantGrad));
    }

    @Override
    public LogitScoreResult logitScore(Tensor logits, ScoreTokens tokens, ScoreMode mode) {
        return timed(() -> inner.logitScore(logits, tokens, mode));
    }

    @Override
    public GrpoLossResult grpoLoss(GrpoLossConfig config, GrpoLossInputs in, boolean wantGrad) {
        return timed(() -> inner.grpoLoss(config, in, wantGrad));
    }
}
