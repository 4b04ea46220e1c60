package dev.editr1.kernels;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;

/**
 * editr1's hot operations at the Tensor level. Two implementations compute the same math:
 * {@link NativeOps} (the fused kernels of libeditr1) and {@link TorchOps} (composed from libtorch
 * ops, what a user would write without custom kernels). {@link Backend#ops()} returns the chosen
 * one.
 *
 * <p>Shapes: activations are batches [B, ...] of B rows (samples) of D = numel / B elements,
 * contiguous, in f32, bf16 or f16 (one dtype per call). Per-sample values are f32 [B]. All tensors
 * of a call live on one device; CUDA work is queued on libtorch's current stream of that device.
 *
 * <p>Errors: a wrong shape, dtype, device or layout is an {@link IllegalArgumentException} naming
 * the argument; NaN or ±Inf in an input is a {@link KernelException} naming the input (on CUDA,
 * read back after the launch unless finite checks are off, see {@link Backend}).
 */
public interface KernelOps {
    /** "native" or "torch". */
    String name();

    /** One fused sampler step (SPEC §3): guidance, x̂0, the update, optional noise and log-prob. */
    FlowStepResult flowStep(FlowStepParams params, FlowStepInputs in, FlowStepOutputs out);

    /** Standard normal noise [shape] from the counter-based generator (native: Philox, bit-identical
     *  on CPU and CUDA; torch: torch.randn seeded from the key, not the same numbers). */
    Tensor noise(NoiseKey key, DType dtype, Device device, long... shape);

    /** The forward process x_t = (1 − t_b)·x0 + t_b·ε with ε drawn from the key (and returned when asked). */
    default ForwardResult forwardProcess(NoiseKey key, Tensor x0, Tensor t, boolean wantEps) {
        return forwardProcess(key, null, x0, t, wantEps);
    }

    /**
     * The forward process with ε of row b drawn from Philox row {@code rowIds[b]} (int64 [B] on x0's
     * device) instead of {@code key.rowOffset() + b}: noise keyed by a sample's id, wherever the
     * sample sits in the batch. Null rowIds: consecutive rows from the key's offset.
     */
    ForwardResult forwardProcess(NoiseKey key, Tensor rowIds, Tensor x0, Tensor t, boolean wantEps);

    /** DiffusionNFT per-sample ℓ and kl, the batch loss, and ∂loss/∂v_θ when wantGrad (SPEC §6). */
    NftLossResult nftLoss(NftLossConfig config, NftLossInputs in, boolean wantGrad);

    /** Logits [B, V] (unit stride along V; rows may be strided) to scores (SPEC §4). */
    LogitScoreResult logitScore(Tensor logits, ScoreTokens tokens, ScoreMode mode);

    /**
     * Flow-GRPO's clipped-ratio loss at one stored SDE step (SPEC §3, §7 baseline): per-sample
     * log-probability of xNext under v_θ, ratio to the rollout's, clipped surrogate and KL to the
     * reference, the batch loss, and ∂loss/∂v_θ when wantGrad (the math: editr1.h, section 5).
     */
    GrpoLossResult grpoLoss(GrpoLossConfig config, GrpoLossInputs in, boolean wantGrad);
}
