package dev.editr1.kernels;

import static dev.editr1.kernels.TensorChecks.bad;
import static dev.editr1.kernels.TensorChecks.perSample;
import static dev.editr1.kernels.TensorChecks.rowLen;
import static dev.editr1.kernels.TensorChecks.rows;

import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.bytedeco.pytorch.global.torch_cuda;

import dev.editr1.kernels.Editr1Native.FlowStepStruct;
import dev.editr1.kernels.Editr1Native.GrpoLossStruct;
import dev.editr1.kernels.Editr1Native.LogitScoreStruct;
import dev.editr1.kernels.Editr1Native.NftLossStruct;
import dev.editr1.kernels.Editr1Native.NoiseStruct;

/**
 * The fused kernels of libeditr1 behind the {@link KernelOps} contract: validates the tensors,
 * fills the kernel's params struct, launches on the CPU path or on the tensors' CUDA device
 * (libtorch's current stream), and turns every non-OK status into an exception.
 *
 * <p>CUDA scratch (the kernels' workspace and the non-finite flag word) comes from libtorch's
 * caching allocator and is released right after the launch: the allocator orders reuse on the
 * stream, so no synchronization is needed — except the flag's read-back when finite checks are
 * on.
 */
public final class NativeOps implements KernelOps {
    private static final String[] FLOW_NF = {"x", "vCond", "vUncond", "x0Prev", "noise", "xGiven",
            "output (x' or x̂0 overflowed the dtype)"};
    private static final String[] NOISE_NF = {"x0", "t (non-finite or outside [0, 1])"};
    private static final String[] NFT_NF = {"x0", "target", "vTheta", "vOld", "vRef",
            "t (non-finite, outside [0, 1], or 0 with an x_t target in velocity form)",
            "r (non-finite or outside [0, 1])", "valid (not 0 or 1)"};
    private static final String[] SCORE_NF = {"logits (NaN or +Inf)"};
    private static final String[] GRPO_NF = {"x", "xNext", "vTheta", "vRef", "advantage", "logProbOld",
            "valid (not 0 or 1)", "output (log-prob, ratio, loss or gradient overflowed)"};

    private final boolean checkFinite;

    public NativeOps(boolean checkFinite) {
        Editr1Native.load();
        this.checkFinite = checkFinite;
    }

    @Override
    public String name() {
        return "native";
    }

    // ---------------------------------------------------------------------------------------
    @Override
    public FlowStepResult flowStep(FlowStepParams p, FlowStepInputs in, FlowStepOutputs out) {
        final String k = "flowStep";
        DType dt = in.check(p, out);
        Tensor x = in.x();
        long b = x.size(0), d = rowLen(x);
        Tensor xOut = out.xOut();
        if (xOut == null && in.xGiven() == null) xOut = torch.empty_like(x);
        Tensor x0Out = out.wantX0() ? (out.x0Out() != null ? out.x0Out() : torch.empty_like(x)) : null;
        Tensor logProb = out.wantLogProb() ? Tensors.empty(ScalarType.Float, x.device(), b) : null;
        Scratch s = Scratch.of(x);
        try (FlowStepStruct st = new FlowStepStruct()) {
            st.rows(b).row_len(d).dtype(dt.code)
                    .x(ptr(x)).v_cond(ptr(in.vCond())).v_uncond(ptr(in.vUncond()))
                    .guidance((float) p.guidance()).rescale_channels(p.rescaleChannels())
                    .sigma((float) p.sigma()).c_x((float) p.cX()).c_v((float) p.cV()).c_x0((float) p.cX0())
                    .c_prev_x0(in.x0Prev() != null ? (float) p.cPrevX0() : 0f).c_noise((float) p.cNoise())
                    .x0_prev(ptr(in.x0Prev())).noise(ptr(in.noise()))
                    .noise_seed(p.noiseKey().seed()).noise_row_offset(p.noiseKey().rowOffset())
                    .noise_stream(p.noiseKey().stream())
                    .x_given(ptr(in.xGiven())).x_out(ptr(xOut)).x0_out(ptr(x0Out)).log_prob(ptr(logProb));
            st.nonfinite(s.flag(checkFinite));
            int status;
            try (Nvtx.Range r = Nvtx.range("editr1.flowStep")) {
                if (s.cuda) {
                    st.workspace(s.workspace(Editr1Native.editr1_flow_step_workspace_bytes(st))).workspace_bytes(s.workspaceBytes);
                    status = Editr1Native.editr1_flow_step_cuda(st, s.stream);
                } else {
                    status = Editr1Native.editr1_flow_step_cpu(st);
                }
            }
            s.finish(k, status, FLOW_NF);
        }
        return new FlowStepResult(xOut, x0Out, logProb);
    }

    // ---------------------------------------------------------------------------------------
    @Override
    public Tensor noise(NoiseKey key, DType dtype, Device device, long... shape) {
        Tensor out = Tensors.empty(dtype.scalarType, device, shape);
        rows("noise", "shape", out);
        Scratch s = Scratch.of(out);
        try (NoiseStruct st = new NoiseStruct()) {
            st.rows(out.size(0)).row_len(rowLen(out)).dtype(dtype.code)
                    .seed(key.seed()).row_offset(key.rowOffset()).stream(key.stream()).out(ptr(out));
            int status;
            try (Nvtx.Range r = Nvtx.range("editr1.noise")) {
                status = s.cuda ? Editr1Native.editr1_noise_cuda(st, s.stream) : Editr1Native.editr1_noise_cpu(st);
            }
            s.finish("noise", status, NOISE_NF);
        }
        return out;
    }

    @Override
    public ForwardResult forwardProcess(NoiseKey key, Tensor rowIds, Tensor x0, Tensor t, boolean wantEps) {
        final String k = "forwardProcess";
        DType dt = rows(k, "x0", x0);
        perSample(k, "t", t, x0.size(0), x0, "x0");
        if (rowIds != null) TensorChecks.rowIds(k, rowIds, x0.size(0), x0);
        Tensor xt = torch.empty_like(x0);
        Tensor eps = wantEps ? torch.empty_like(x0) : null;
        Scratch s = Scratch.of(x0);
        try (NoiseStruct st = new NoiseStruct()) {
            st.rows(x0.size(0)).row_len(rowLen(x0)).dtype(dt.code)
                    .seed(key.seed()).row_offset(key.rowOffset()).stream(key.stream())
                    .x0(ptr(x0)).t(ptr(t)).out(ptr(xt)).eps_out(ptr(eps)).row_ids(ptr(rowIds));
            st.nonfinite(s.flag(checkFinite));
            int status;
            try (Nvtx.Range r = Nvtx.range("editr1.forwardProcess")) {
                status = s.cuda ? Editr1Native.editr1_noise_cuda(st, s.stream) : Editr1Native.editr1_noise_cpu(st);
            }
            s.finish(k, status, NOISE_NF);
        }
        return new ForwardResult(xt, eps);
    }

    // ---------------------------------------------------------------------------------------
    @Override
    public NftLossResult nftLoss(NftLossConfig c, NftLossInputs in, boolean wantGrad) {
        final String k = "nftLoss";
        DType dt = in.check();
        Tensor x0 = in.x0();
        long b = x0.size(0);
        Device dev = x0.device();
        Tensor loss = Tensors.empty(ScalarType.Float, dev, 1);
        Tensor ell = Tensors.empty(ScalarType.Float, dev, b);
        Tensor kl = Tensors.empty(ScalarType.Float, dev, b);
        // the gradient of a tensor that requires grad must not carry a graph: plain storage
        Tensor grad = wantGrad ? torch.empty_like(in.vTheta().detach()) : null;
        Scratch s = Scratch.of(x0);
        try (NftLossStruct st = new NftLossStruct()) {
            st.rows(b).row_len(rowLen(x0)).dtype(dt.code).form(c.form().code).target_is_xt(in.targetIsXt() ? 1 : 0)
                    .x0(ptr(x0)).target(ptr(in.target())).v_theta(ptr(in.vTheta())).v_old(ptr(in.vOld()))
                    .v_ref(ptr(in.vRef())).t(ptr(in.t())).r(ptr(in.r())).valid(ptr(in.valid()))
                    .beta(c.beta()).c(c.c()).lambda(c.lambda()).floor(c.floor())
                    .ell(ptr(ell)).kl(ptr(kl)).loss(ptr(loss)).grad(ptr(grad));
            st.nonfinite(s.flag(checkFinite));
            int status;
            try (Nvtx.Range r = Nvtx.range("editr1.nftLoss")) {
                if (s.cuda) {
                    st.workspace(s.workspace(Editr1Native.editr1_nft_loss_workspace_bytes(st))).workspace_bytes(s.workspaceBytes);
                    status = Editr1Native.editr1_nft_loss_cuda(st, s.stream);
                } else {
                    status = Editr1Native.editr1_nft_loss_cpu(st);
                }
            }
            s.finish(k, status, NFT_NF);
        }
        return new NftLossResult(loss, ell, kl, grad);
    }

    // ---------------------------------------------------------------------------------------
    @Override
    public LogitScoreResult logitScore(Tensor logits, ScoreTokens tokens, ScoreMode mode) {
        final String k = "logitScore";
        DType dt = checkLogits(k, logits, tokens);
        long b = logits.size(0);
        int kk = tokens.size();
        Device dev = logits.device();
        Tensor score = Tensors.empty(ScalarType.Float, dev, b);
        Tensor probs = Tensors.empty(ScalarType.Float, dev, b, kk);
        Tensor mass = Tensors.empty(ScalarType.Float, dev, b);
        Scratch s = Scratch.of(logits);
        try (LogitScoreStruct st = new LogitScoreStruct()) {
            st.rows(b).vocab(logits.size(1)).row_stride(logits.stride(0)).dtype(dt.code).logits(ptr(logits))
                    .num_tokens(kk).mode(mode.code).score(ptr(score)).probs(ptr(probs)).mass(ptr(mass));
            for (int i = 0; i < kk; i++) st.token_ids(i, tokens.ids()[i]).values(i, tokens.values()[i]);
            st.nonfinite(s.flag(checkFinite));
            int status;
            try (Nvtx.Range r = Nvtx.range("editr1.logitScore")) {
                if (s.cuda) {
                    st.workspace(s.workspace(Editr1Native.editr1_logit_score_workspace_bytes(st))).workspace_bytes(s.workspaceBytes);
                    status = Editr1Native.editr1_logit_score_cuda(st, s.stream);
                } else {
                    status = Editr1Native.editr1_logit_score_cpu(st);
                }
            }
            s.finish(k, status, SCORE_NF);
        }
        return new LogitScoreResult(score, probs, mass);
    }

    /** [B, V] logits with unit stride along V (rows may be strided: the last position of [B, L, V]). */
    static DType checkLogits(String k, Tensor logits, ScoreTokens tokens) {
        if (logits == null) throw bad(k, "logits", "is null");
        if (logits.dim() != 2)
            throw bad(k, "logits", "must be [B, V], got " + logits.dim() + "-d " + java.util.Arrays.toString(Tensors.shape(logits)));
        if (logits.size(0) < 1 || logits.size(1) < 1) throw bad(k, "logits", "is empty");
        DType d = DType.of(logits);
        if (d == null) throw bad(k, "logits", "has dtype " + Tensors.scalarType(logits) + "; expected f32, bf16 or f16");
        if (logits.stride(1) != 1 || logits.stride(0) < logits.size(1))
            throw bad(k, "logits", "must have unit stride along the vocabulary and non-overlapping rows (strides "
                    + java.util.Arrays.toString(TensorChecks.strides(logits)) + "); call .contiguous() first");
        long v = logits.size(1);
        for (int i = 0; i < tokens.size(); i++) {
            int id = tokens.ids()[i];
            if (id < 0 || id >= v) throw bad(k, "tokens", "id " + id + " is outside the vocabulary [0, " + v + ")");
            for (int j = 0; j < i; j++)
                if (tokens.ids()[j] == id) throw bad(k, "tokens", "id " + id + " is listed twice");
            if (!Float.isFinite(tokens.values()[i])) throw bad(k, "tokens", "value " + i + " is not finite");
        }
        if (!(tokens.maxValue() > 0)) throw bad(k, "tokens", "the largest value must be > 0, got " + tokens.maxValue());
        return d;
    }

    // ---------------------------------------------------------------------------------------
    @Override
    public GrpoLossResult grpoLoss(GrpoLossConfig c, GrpoLossInputs in, boolean wantGrad) {
        final String k = "grpoLoss";
        DType dt = in.check();
        Tensor x = in.x();
        long b = x.size(0);
        Device dev = x.device();
        Tensor loss = Tensors.empty(ScalarType.Float, dev, 1);
        Tensor logProb = Tensors.empty(ScalarType.Float, dev, b);
        Tensor ratio = Tensors.empty(ScalarType.Float, dev, b);
        Tensor ell = Tensors.empty(ScalarType.Float, dev, b);
        Tensor kl = Tensors.empty(ScalarType.Float, dev, b);
        // the gradient of a tensor that requires grad must not carry a graph: plain storage
        Tensor grad = wantGrad ? torch.empty_like(in.vTheta().detach()) : null;
        SdeStep st = c.step();
        Scratch s = Scratch.of(x);
        try (GrpoLossStruct p = new GrpoLossStruct()) {
            p.rows(b).row_len(rowLen(x)).dtype(dt.code)
                    .x(ptr(x)).x_next(ptr(in.xNext())).v_theta(ptr(in.vTheta())).v_ref(ptr(in.vRef()))
                    .advantage(ptr(in.advantage())).log_prob_old(ptr(in.logProbOld())).valid(ptr(in.valid()))
                    .c_x(st.cX()).c_v(st.cV()).std_log_prob(st.stdLogProb()).std_kl(st.stdDev())
                    .clip_range(c.clipRange()).kl_weight(c.klWeight())
                    .log_prob(ptr(logProb)).ratio(ptr(ratio)).ell(ptr(ell)).kl(ptr(kl)).loss(ptr(loss)).grad(ptr(grad));
            p.nonfinite(s.flag(checkFinite));
            int status;
            try (Nvtx.Range r = Nvtx.range("editr1.grpoLoss")) {
                if (s.cuda) {
                    p.workspace(s.workspace(Editr1Native.editr1_grpo_loss_workspace_bytes(p))).workspace_bytes(s.workspaceBytes);
                    status = Editr1Native.editr1_grpo_loss_cuda(p, s.stream);
                } else {
                    status = Editr1Native.editr1_grpo_loss_cpu(p);
                }
            }
            s.finish(k, status, GRPO_NF);
        }
        return new GrpoLossResult(loss, logProb, ratio, ell, kl, grad);
    }

    // ---------------------------------------------------------------------------------------

    static Pointer ptr(Tensor t) {
        return t == null ? null : t.data_ptr();
    }

    /**
     * Per-launch device context: the stream, the workspace and the non-finite flag (CUDA only),
     * and the status check.
     */
    private static final class Scratch {
        final boolean cuda;
        final Pointer stream;
        final Device device;
        Tensor flag;
        Tensor workspace;
        long workspaceBytes;

        private Scratch(boolean cuda, Pointer stream, Device device) {
            this.cuda = cuda;
            this.stream = stream;
            this.device = device;
        }

        static Scratch of(Tensor ref) {
            if (!ref.is_cuda()) return new Scratch(false, null, ref.device());
            byte idx = ref.device().index();
            return new Scratch(true, torch_cuda.getCurrentCUDAStream(idx).stream(), ref.device());
        }

        /** The non-finite flag word: always on the CPU (free), on CUDA only when checks are on (a sync). */
        Pointer flag(boolean wanted) {
            if (cuda && !wanted) return null;
            flag = Tensors.zeros(ScalarType.Int, device, 1);
            return flag.data_ptr();
        }

        Pointer workspace(long bytes) {
            workspaceBytes = bytes;
            if (bytes == 0) return null;
            workspace = Tensors.empty(ScalarType.Byte, device, bytes);
            return workspace.data_ptr();
        }

        void finish(String kernel, int status, String[] names) {
            try {
                // a non-finite status is reported below from the flag word, with the Java argument names
                if (status != Editr1Native.EDITR1_OK && !(status == Editr1Native.EDITR1_ERR_NONFINITE && flag != null))
                    throw new KernelException(status, kernel + " (" + KernelException.statusName(status) + "): "
                            + Editr1Native.editr1_last_error());
                if (flag != null) {
                    int bits = flag.item_int(); // on CUDA this waits for the stream: the price of checking
                    if (bits != 0)
                        throw new KernelException(Editr1Native.EDITR1_ERR_NONFINITE,
                                kernel + " (NONFINITE): non-finite values in " + describe(bits, names));
                }
            } finally {
                if (workspace != null) workspace.close();
                if (flag != null) flag.close();
            }
        }
    }

    /**
     * The argument names of a flag word's set bits. The last name of a kernel's list is an output
     * check where it starts with "output": non-finite outputs from non-finite inputs are no news,
     * so it is named only when no input is.
     */
    static String describe(int bits, String[] names) {
        int outputBit = 1 << (names.length - 1);
        if (names[names.length - 1].startsWith("output") && (bits & ~outputBit) != 0) bits &= ~outputBit;
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < names.length; i++) {
            if ((bits & (1 << i)) != 0) {
                if (sb.length() > 0) sb.append(", ");
                sb.append(names[i]);
            }
        }
        return sb.toString();
    }
}
