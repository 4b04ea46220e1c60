package dev.editr1.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.editr1.kernels.Backend;
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
import dev.editr1.kernels.Tensors;
import dev.editr1.model.LoraAdapter;

/**
 * Device honesty: every tensor of a run — base weights, adapters, optimizer state, batches, noise,
 * kernel inputs and outputs — is on the run's device. The kernels are watched by a wrapper around
 * the real ones that records the device of every tensor they take and return. On the CPU here; on
 * CUDA where a GPU and libtorch's CUDA natives exist.
 */
class PlacementTest {
    /** The real kernels, recording where each tensor argument and result lives. */
    static final class Watched implements KernelOps {
        final KernelOps inner;
        final List<String> seen = new ArrayList<>();

        Watched(KernelOps inner) {
            this.inner = inner;
        }

        private void see(String what, Tensor... ts) {
            for (Tensor t : ts) if (t != null) seen.add(what + "@" + Tensors.deviceName(t));
        }

        @Override
        public String name() {
            return inner.name();
        }

        @Override
        public FlowStepResult flowStep(FlowStepParams p, FlowStepInputs in, FlowStepOutputs out) {
            see("flowStep.in", in.x(), in.vCond(), in.vUncond(), in.x0Prev(), in.noise(), in.xGiven());
            FlowStepResult r = inner.flowStep(p, in, out);
            see("flowStep.out", r.x(), r.x0Hat(), r.logProb());
            return r;
        }

        @Override
        public Tensor noise(NoiseKey key, DType dtype, Device device, long... shape) {
            Tensor t = inner.noise(key, dtype, device, shape);
            see("noise", t);
            return t;
        }

        @Override
        public ForwardResult forwardProcess(NoiseKey key, Tensor rowIds, Tensor x0, Tensor t, boolean wantEps) {
            see("forward.in", rowIds, x0, t);
            ForwardResult r = inner.forwardProcess(key, rowIds, x0, t, wantEps);
            see("forward.out", r.xt(), r.eps());
            return r;
        }

        @Override
        public NftLossResult nftLoss(NftLossConfig config, NftLossInputs in, boolean wantGrad) {
            see("nft.in", in.x0(), in.target(), in.vTheta(), in.vOld(), in.vRef(), in.t(), in.r(), in.valid());
            NftLossResult r = inner.nftLoss(config, in, wantGrad);
            see("nft.out", r.loss(), r.ell(), r.kl(), r.grad());
            return r;
        }

        @Override
        public LogitScoreResult logitScore(Tensor logits, ScoreTokens tokens, ScoreMode mode) {
            return inner.logitScore(logits, tokens, mode);   // the judge scores host data (see RunContext)
        }

        @Override
        public GrpoLossResult grpoLoss(GrpoLossConfig config, GrpoLossInputs in, boolean wantGrad) {
            see("grpo.in", in.x(), in.xNext(), in.vTheta(), in.vRef(), in.advantage(), in.logProbOld(), in.valid());
            GrpoLossResult r = inner.grpoLoss(config, in, wantGrad);
            see("grpo.out", r.loss(), r.logProb(), r.ratio(), r.ell(), r.kl(), r.grad());
            return r;
        }
    }

    static void runOn(String device, Path dir) throws Exception {
        TrainConfig c = TrainerTest.small(2);
        c.device = device;
        PrintStream quiet = new PrintStream(new ByteArrayOutputStream());
        Backend b = Backend.resolve(device, c.impl, true);
        Watched ops = new Watched(b.ops());
        try (RunContext ctx = RunContext.open(c, quiet, ops, null)) {
            String want = b.deviceName();
            assertEquals(want, Tensors.name(ctx.device()));
            Trainer t = new Trainer(ctx, new RunFolder(dir), quiet);
            t.setUp(false);
            t.epoch(0);
            t.epoch(1);
            List<String> wrong = new ArrayList<>();
            for (Map.Entry<String, Tensor> e : ctx.model.base().asMap().entrySet())
                if (!Tensors.deviceName(e.getValue()).equals(want)) wrong.add("base " + e.getKey());
            for (LoraAdapter a : List.of(t.lora().theta, t.lora().old, t.lora().ema))
                for (Map.Entry<String, Tensor> e : a.params.asMap().entrySet())
                    if (!Tensors.deviceName(e.getValue()).equals(want)) wrong.add("adapter " + e.getKey());
            for (Map.Entry<String, Tensor> e : t.optimizer().state().entrySet())
                if (!Tensors.deviceName(e.getValue()).equals(want)) wrong.add("optimizer " + e.getKey());
            for (Tensor p : t.lora().theta.tensors())
                if (p.grad().defined() && !Tensors.deviceName(p.grad()).equals(want)) wrong.add("gradient");
            for (Tensor x : ctx.conditions(ctx.data.train().subList(0, 3)).tensors().values())
                if (!Tensors.deviceName(x).equals(want)) wrong.add("conditioning");
            for (String s : ops.seen) if (!s.endsWith("@" + want)) wrong.add(s);
            assertFalse(ops.seen.isEmpty(), "the kernels ran");
            assertTrue(ops.seen.stream().anyMatch(s -> s.startsWith("nft.in")), "the loss ran: " + ops.seen.size() + " tensors seen");
            assertTrue(wrong.isEmpty(), "not on " + want + ": " + wrong);
        }
    }

    @Test
    void everyTensorOfACpuRunIsOnTheCpu(@TempDir Path tmp) throws Exception {
        runOn("cpu", tmp.resolve("run"));
    }

    @Test
    void everyTensorOfACudaRunIsOnTheGpu(@TempDir Path tmp) throws Exception {
        Backend.Probe p = Backend.probe();
        Assumptions.assumeTrue(p.whyNotCuda(Backend.Impl.NATIVE, 0) == null, "needs CUDA: " + p.whyNot());
        runOn("cuda:0", tmp.resolve("run"));
    }
}
