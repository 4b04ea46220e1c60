package dev.editr1.kernels;

import static dev.editr1.kernels.TensorChecks.perSample;
import static dev.editr1.kernels.TensorChecks.rows;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Generator;
import org.bytedeco.pytorch.GeneratorOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * The operations composed from plain libtorch ops: what a user writes without custom
 * kernels. Same contract as {@link NativeOps} (the same argument checks; inputs checked for
 * NaN/Inf with extra reductions), computed in the inputs' dtype the way eager PyTorch would,
 * with autograd available: {@link #nftLossGraph} and {@link #grpoLossGraph} return the losses as
 * graphs whose gradients are the references for the fused kernels'.
 *
 * <p>Noise is torch.randn from a generator seeded by the key (CPU generator; the numbers are
 * not Philox's): the composed path a user would write, not a bit-compatible one.
 */
public final class TorchOps implements KernelOps {
    private final boolean checkFinite;

    public TorchOps(boolean checkFinite) {
        this.checkFinite = checkFinite;
    }

    @Override
    public String name() {
        return "torch";
    }

    private static Scalar s(double v) {
        return new Scalar(v);
    }

    private void finite(String k, String arg, Tensor t) {
        if (checkFinite && t != null && !torch.isfinite(t).all().item_bool())
            throw new KernelException(Editr1Native.EDITR1_ERR_NONFINITE, k + " (NONFINITE): non-finite values in " + arg);
    }

    /** [B, ...] → [B, 1, ..., 1] for broadcasting a per-row vector. */
    private static Tensor perRow(Tensor v, Tensor like) {
        long[] shape = new long[(int) like.dim()];
        java.util.Arrays.fill(shape, 1);
        shape[0] = like.size(0);
        return v.view(shape);
    }

    /** mean over all but the batch dimension, in f32: [B]. */
    private static Tensor rowMean(Tensor t) {
        return t.reshape(t.size(0), -1).mean(new long[] {1}, false, new ScalarTypeOptional(ScalarType.Float));
    }

    // ---------------------------------------------------------------------------------------
    @Override
    public FlowStepResult flowStep(FlowStepParams p, FlowStepInputs in, FlowStepOutputs out) {
        final String k = "flowStep";
        in.check(p, out);
        Tensor x = in.x();
        finite(k, "x", x);
        finite(k, "vCond", in.vCond());
        finite(k, "vUncond", in.vUncond());
        finite(k, "x0Prev", in.x0Prev());
        finite(k, "noise", in.noise());
        finite(k, "xGiven", in.xGiven());

        Tensor v = in.vCond();
        if (in.vUncond() != null) {
            Tensor vu = in.vUncond();
            v = vu.add(in.vCond().sub(vu).mul(s(p.guidance())));
            if (p.rescaleChannels() > 0) {
                long c = p.rescaleChannels();
                Tensor vc3 = in.vCond().reshape(x.size(0), -1, c);
                Tensor v3 = v.reshape(x.size(0), -1, c);
                Tensor nc = vc3.square().sum(new long[] {2}, true, new ScalarTypeOptional()).sqrt();
                Tensor nv = v3.square().sum(new long[] {2}, true, new ScalarTypeOptional()).sqrt();
                Tensor scale = nc.div(nv).masked_fill(nv.eq(s(0)), s(1)); // a zero vector keeps its (zero) value
                v = v3.mul(scale).reshape(Tensors.shape(x));
            }
        }
        Tensor x0hat = x.sub(v.mul(s(p.sigma())));
        Tensor mean = x.mul(s(p.cX())).add(v.mul(s(p.cV()))).add(x0hat.mul(s(p.cX0())));
        if (in.x0Prev() != null && p.cPrevX0() != 0) mean = mean.add(in.x0Prev().mul(s(p.cPrevX0())));
        Tensor next = mean;
        if (in.xGiven() != null) {
            next = in.xGiven();
        } else if (p.cNoise() != 0) {
            Tensor xi = in.noise() != null ? in.noise()
                    : noise(p.noiseKey(), DType.of(x), x.device(), Tensors.shape(x));
            next = mean.add(xi.mul(s(p.cNoise())));
        }
        Tensor logProb = null;
        if (out.wantLogProb()) {
            double cn = p.cNoise();
            logProb = rowMean(next.sub(mean).square()).mul(s(-1.0 / (2 * cn * cn)))
                    .sub(s(Math.log(cn) + 0.5 * Math.log(2 * Math.PI)));
        }
        Tensor xOut = null;
        if (in.xGiven() == null || out.xOut() != null) {
            xOut = out.xOut() != null ? out.xOut().copy_(next) : next.contiguous();
        }
        Tensor x0Out = null;
        if (out.wantX0()) x0Out = out.x0Out() != null ? out.x0Out().copy_(x0hat) : x0hat.contiguous();
        return new FlowStepResult(xOut, x0Out, logProb);
    }

    // ---------------------------------------------------------------------------------------
    @Override
    public Tensor noise(NoiseKey key, DType dtype, Device device, long... shape) {
        // torch.randn on the CPU generator, then moved: a user's seeded composed path
        Generator g = torch.make_generator_cpu(key.seed() ^ (key.rowOffset() * 0x9E3779B97F4A7C15L) ^ key.stream());
        Tensor z = torch.randn(shape, new GeneratorOptional(g), Tensors.options(ScalarType.Float, Tensors.cpu()));
        Tensor out = z.to(device, dtype.scalarType);
        rows("noise", "shape", out);
        return out;
    }

    @Override
    public ForwardResult forwardProcess(NoiseKey key, Tensor rowIds, Tensor x0, Tensor t, boolean wantEps) {
        final String k = "forwardProcess";
        rows(k, "x0", x0);
        perSample(k, "t", t, x0.size(0), x0, "x0");
        if (rowIds != null) TensorChecks.rowIds(k, rowIds, x0.size(0), x0);
        finite(k, "x0", x0);
        if (!t.ge(s(0)).logical_and(t.le(s(1))).all().item_bool())
            throw new KernelException(Editr1Native.EDITR1_ERR_NONFINITE, k + " (NONFINITE): non-finite values in t (non-finite or outside [0, 1])");
        Tensor eps;
        if (rowIds == null) eps = noise(key, DType.of(x0), x0.device(), Tensors.shape(x0));
        else {   // a generator per row, seeded by its id: noise keyed by sample as the native path keys it
            long[] ids = Tensors.toLongs(rowIds);
            long[] rowShape = Tensors.shape(x0);
            rowShape[0] = 1;
            Tensor[] rowsOut = new Tensor[ids.length];
            for (int i = 0; i < ids.length; i++) rowsOut[i] = noise(key.withRowOffset(ids[i]), DType.of(x0), x0.device(), rowShape);
            eps = torch.cat(new org.bytedeco.pytorch.TensorVector(rowsOut), 0);
        }
        Tensor tr = perRow(t, x0);
        Tensor xt = x0.mul(tr.neg().add(s(1))).add(eps.mul(tr)).to(x0.scalar_type().intern());
        return new ForwardResult(xt, wantEps ? eps : null);
    }

    // ---------------------------------------------------------------------------------------
    @Override
    public NftLossResult nftLoss(NftLossConfig c, NftLossInputs in, boolean wantGrad) {
        // a fresh leaf for v_θ: autograd of the composed loss gives the reference gradient
        Tensor leaf = in.vTheta().detach().clone().set_requires_grad(wantGrad);
        NftLossInputs li = new NftLossInputs(in.x0(), in.target(), in.targetIsXt(), leaf, in.vOld(), in.vRef(), in.t(),
                in.r(), in.valid());
        Graph g = nftLossGraph(c, li);
        Tensor grad = null;
        if (wantGrad) {
            g.loss.backward();
            grad = leaf.grad().detach();
        }
        return new NftLossResult(g.loss.detach().reshape(1), g.ell.detach(), g.kl.detach(), grad);
    }

    /** The composed loss with its autograd graph (loss [], ℓ [B], kl [B], all f32). */
    public record Graph(Tensor loss, Tensor ell, Tensor kl) {}

    /**
     * DiffusionNFT (SPEC §6) composed from libtorch ops, differentiable in {@code in.vTheta()}:
     * the adaptive weights are detached (stop-gradient), as the SPEC says.
     */
    public Graph nftLossGraph(NftLossConfig c, NftLossInputs in) {
        final String k = "nftLoss";
        in.check();
        Tensor x0 = in.x0();
        long b = x0.size(0);
        finite(k, "x0", x0);
        finite(k, "target", in.target());
        finite(k, "vTheta", in.vTheta());
        finite(k, "vOld", in.vOld());
        finite(k, "vRef", in.vRef());
        Tensor t = in.t(), r = in.r(), valid = in.valid();
        if (!t.ge(s(0)).logical_and(t.le(s(1))).all().item_bool())
            throw new KernelException(Editr1Native.EDITR1_ERR_NONFINITE, k + " (NONFINITE): non-finite values in t (non-finite or outside [0, 1])");
        if (!r.ge(s(0)).logical_and(r.le(s(1))).all().item_bool())
            throw new KernelException(Editr1Native.EDITR1_ERR_NONFINITE, k + " (NONFINITE): non-finite values in r (non-finite or outside [0, 1])");
        if (!valid.eq(s(0)).logical_or(valid.eq(s(1))).all().item_bool())
            throw new KernelException(Editr1Native.EDITR1_ERR_NONFINITE, k + " (NONFINITE): non-finite values in valid (not 0 or 1)");

        double beta = c.beta();
        Tensor vth = in.vTheta(), vold = in.vOld();
        Tensor vpos = vth.mul(s(beta)).add(vold.mul(s(1 - beta)));
        Tensor vneg = vold.mul(s(1 + beta)).sub(vth.mul(s(beta)));
        Tensor tr = perRow(t, x0);
        Tensor xt, vstar;
        if (in.targetIsXt()) {
            xt = in.target();
            vstar = xt.sub(x0).div(tr);
        } else {
            xt = x0.mul(tr.neg().add(s(1))).add(in.target().mul(tr));
            vstar = in.target().sub(x0);
        }
        Tensor lpos, lneg;
        if (c.form() == NftForm.X0) {
            Tensor epos = xt.sub(vpos.mul(tr)).sub(x0);
            Tensor eneg = xt.sub(vneg.mul(tr)).sub(x0);
            Tensor wpos = rowMean(epos.abs()).detach().clamp_min(s(c.floor()));
            Tensor wneg = rowMean(eneg.abs()).detach().clamp_min(s(c.floor()));
            lpos = rowMean(epos.square()).div(wpos);
            lneg = rowMean(eneg.square()).div(wneg);
        } else {
            lpos = rowMean(vpos.sub(vstar).square());
            lneg = rowMean(vneg.sub(vstar).square());
        }
        Tensor ell = lpos.mul(r).add(lneg.mul(r.neg().add(s(1)))).mul(s(c.c() / beta));
        Tensor kl = in.vRef() != null ? rowMean(vth.sub(in.vRef()).square())
                : Tensors.zeros(ScalarType.Float, x0.device(), b);
        double sumValid = Tensors.item(valid.sum());
        Tensor loss = sumValid > 0
                ? ell.mul(valid).sum().add(kl.mul(valid).sum().mul(s(c.lambda()))).div(s(sumValid))
                : ell.mul(s(0)).sum(); // 0, still connected to the graph
        return new Graph(loss, ell, kl);
    }

    // ---------------------------------------------------------------------------------------
    @Override
    public LogitScoreResult logitScore(Tensor logits, ScoreTokens tokens, ScoreMode mode) {
        final String k = "logitScore";
        NativeOps.checkLogits(k, logits, tokens);
        if (checkFinite && logits.isnan().logical_or(logits.eq(s(Double.POSITIVE_INFINITY))).any().item_bool())
            throw new KernelException(Editr1Native.EDITR1_ERR_NONFINITE, k + " (NONFINITE): non-finite values in logits (NaN or +Inf)");
        Device dev = logits.device();
        int kk = tokens.size();
        long[] idsL = new long[kk];
        for (int i = 0; i < kk; i++) idsL[i] = tokens.ids()[i];
        Tensor ids = Tensors.fromFloats(toFloats(idsL), kk).to(dev, ScalarType.Long);
        Tensor values = Tensors.fromFloats(tokens.values().clone(), kk).to(dev, ScalarType.Float);
        Tensor lf = logits.to(ScalarType.Float);
        Tensor kl = torch.index_select(lf, 1, ids);                       // [B, K]
        Tensor probs = kl.softmax(1).nan_to_num(new org.bytedeco.pytorch.DoubleOptional(0.0), new org.bytedeco.pytorch.DoubleOptional(0.0), new org.bytedeco.pytorch.DoubleOptional(0.0));           // all −∞ → NaN → 0
        Tensor lse = lf.logsumexp(new long[] {1}, true);                  // [B, 1]
        Tensor mass = kl.sub(lse).exp().sum(new long[] {1}, false, new ScalarTypeOptional());
        Tensor unscorable = kl.amax(new long[] {1}, false).eq(s(Double.NEGATIVE_INFINITY));
        Tensor score;
        if (mode == ScoreMode.EXPECTED) {
            score = probs.mul(values).sum(new long[] {1}, false, new ScalarTypeOptional()).div(s(tokens.maxValue()));
        } else {
            Tensor arg = kl.argmax(new org.bytedeco.pytorch.LongOptional(1), false);
            score = torch.index_select(values, 0, arg).div(s(tokens.maxValue()));
        }
        score = score.masked_fill(unscorable, s(Double.NaN));
        return new LogitScoreResult(score.contiguous(), probs.contiguous(), mass.contiguous());
    }

    // ---------------------------------------------------------------------------------------
    @Override
    public GrpoLossResult grpoLoss(GrpoLossConfig c, GrpoLossInputs in, boolean wantGrad) {
        // a fresh leaf for v_θ: autograd of the composed loss gives the reference gradient
        Tensor leaf = in.vTheta().detach().clone().set_requires_grad(wantGrad);
        GrpoLossInputs li = new GrpoLossInputs(in.x(), in.xNext(), leaf, in.vRef(), in.advantage(), in.logProbOld(),
                in.valid());
        GrpoGraph g = grpoLossGraph(c, li);
        Tensor grad = null;
        if (wantGrad) {
            g.loss.backward();
            grad = leaf.grad().detach();
        }
        return new GrpoLossResult(g.loss.detach().reshape(1), g.logProb.detach(), g.ratio.detach(), g.ell.detach(),
                g.kl.detach(), grad);
    }

    /** The composed Flow-GRPO loss with its autograd graph (loss [], the per-sample values [B], all f32). */
    public record GrpoGraph(Tensor loss, Tensor logProb, Tensor ratio, Tensor ell, Tensor kl) {}

    /**
     * Flow-GRPO's loss composed from libtorch ops, differentiable in {@code in.vTheta()}, the way its
     * reference code writes it: the SDE math upcast to f32 whatever the activations' dtype (Flow-GRPO
     * does so because bf16 overflows in μ), the ratio clipped with clamp and the two surrogates
     * combined with torch.maximum (whose autograd splits the gradient evenly at a tie). Two
     * rewritings that are the same math and keep digits: x' − μ_θ is formed as
     * (x' − x) − ((c_x − 1)·x + c_v·v) (near σ = 0 the residual is ~1e-3 of |x|), and
     * μ_θ − μ_ref as c_v·(v_θ − v_ref).
     */
    public GrpoGraph grpoLossGraph(GrpoLossConfig c, GrpoLossInputs in) {
        final String k = "grpoLoss";
        in.check();
        Tensor x0 = in.x();
        long b = x0.size(0);
        finite(k, "x", x0);
        finite(k, "xNext", in.xNext());
        finite(k, "vTheta", in.vTheta());
        finite(k, "vRef", in.vRef());
        finite(k, "advantage", in.advantage());
        finite(k, "logProbOld", in.logProbOld());
        Tensor valid = in.valid();
        if (!valid.eq(s(0)).logical_or(valid.eq(s(1))).all().item_bool())
            throw new KernelException(Editr1Native.EDITR1_ERR_NONFINITE, k + " (NONFINITE): non-finite values in valid (not 0 or 1)");

        SdeStep st = c.step();
        Tensor x = in.x().to(ScalarType.Float), xn = in.xNext().to(ScalarType.Float), v = in.vTheta().to(ScalarType.Float);
        Tensor resid = xn.sub(x).sub(x.mul(s(st.cX() - 1.0)).add(v.mul(s(st.cV()))));
        double sd = st.stdLogProb();
        Tensor logProb = rowMean(resid.square()).mul(s(-1.0 / (2 * sd * sd)))
                .sub(s(Math.log(sd) + 0.5 * Math.log(2 * Math.PI)));
        Tensor ratio = logProb.sub(in.logProbOld()).exp();
        Tensor negAdv = in.advantage().neg();
        Tensor unclipped = negAdv.mul(ratio);
        Tensor clipped = negAdv.mul(ratio.clamp(new org.bytedeco.pytorch.ScalarOptional(s(1 - c.clipRange())),
                new org.bytedeco.pytorch.ScalarOptional(s(1 + c.clipRange()))));
        Tensor ell = torch.maximum(unclipped, clipped);
        Tensor kl = in.vRef() != null
                ? rowMean(v.sub(in.vRef().to(ScalarType.Float)).mul(s(st.cV())).square())
                        .div(s(2 * st.stdDev() * st.stdDev()))
                : Tensors.zeros(ScalarType.Float, x0.device(), b);
        double sumValid = Tensors.item(valid.sum());
        Tensor loss = sumValid > 0
                ? ell.add(kl.mul(s(c.klWeight()))).mul(valid).sum().div(s(sumValid))
                : ell.mul(s(0)).sum(); // 0, still connected to the graph
        return new GrpoGraph(loss, logProb, ratio, ell, kl);
    }

    private static float[] toFloats(long[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) f[i] = v[i];
        return f;
    }

}
