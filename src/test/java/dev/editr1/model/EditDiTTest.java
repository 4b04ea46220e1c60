package dev.editr1.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

import dev.editr1.kernels.NativeOps;
import dev.editr1.kernels.NftLossConfig;
import dev.editr1.kernels.NftLossInputs;
import dev.editr1.kernels.NftLossResult;
import dev.editr1.kernels.Tensors;
import dev.editr1.kernels.TorchOps;

class EditDiTTest {
    static final DiTConfig CFG = new DiTConfig(16, 4, 32, 2, 4, 10, 40);

    static Tensor rnd(long seed, long... shape) {
        int n = 1;
        for (long s : shape) n *= (int) s;
        SplittableRandom r = new SplittableRandom(seed);
        float[] f = new float[n];
        for (int i = 0; i < n; i++) f[i] = (float) (r.nextDouble() * 2 - 1);
        return Tensors.fromFloats(f, shape);
    }

    /**
     * A fresh model's output layer and modulations are zero (its velocity is 0 whatever the input):
     * random ones, so comparisons and gradients mean something. Call under a NoGradGuard.
     */
    static void nonZeroOutputs(EditDiT m) {
        for (String k : new String[] {"final.linear.weight", "final.ada.weight", "blocks.0.ada.weight", "blocks.1.ada.weight"})
            m.base.get(k).copy_(rnd(k.hashCode(), Tensors.shape(m.base.get(k))).mul(new Scalar(0.1)));
    }

    static Tensor ids(int b) {
        float[] f = new float[b * 10];
        for (int i = 0; i < f.length; i++) f[i] = i % 37;
        return Tensors.fromFloats(f, b, 10).to(torch.ScalarType.Long);
    }

    @Test
    void patchifyRoundTripsAndShapesHold() {
        EditDiT m = new EditDiT(CFG, 1);
        Tensor x = rnd(1, 3, 3, 16, 16);
        assertArrayEquals(Tensors.toFloats(x), Tensors.toFloats(m.unpatchify(m.patchify(x))));
        try (NoGradGuard g = new NoGradGuard()) {
            Tensor v = m.velocity(x, rnd(2, 3, 3, 16, 16), ids(3), Tensors.fromFloats(new float[] {0.1f, 0.5f, 1f}, 3), null);
            assertArrayEquals(new long[] {3, 3, 16, 16}, Tensors.shape(v));
        }
    }

    @Test
    void aFreshAdapterIsTheBaseModel() {
        EditDiT m = new EditDiT(CFG, 1);
        try (NoGradGuard g = new NoGradGuard()) {
            nonZeroOutputs(m);
            LoraAdapter a = LoraAdapter.create(m.loraTargets(), 4, 8, LoraAdapter.Init.KAIMING_UNIFORM, 3);
            Tensor x = rnd(1, 2, 3, 16, 16), s = rnd(2, 2, 3, 16, 16), t = Tensors.fromFloats(new float[] {0.3f, 0.9f}, 2);
            float[] base = Tensors.toFloats(m.velocity(x, s, ids(2), t, null));
            assertArrayEquals(base, Tensors.toFloats(m.velocity(x, s, ids(2), t, a)));
            a.b("blocks.0.attn.qkv").copy_(rnd(5, Tensors.shape(a.b("blocks.0.attn.qkv"))));
            float[] changed = Tensors.toFloats(m.velocity(x, s, ids(2), t, a));
            boolean differs = false;
            for (int i = 0; i < base.length; i++) differs |= base[i] != changed[i];
            assertTrue(differs, "a non-zero B changes the output");
        }
    }

    /** loraMlp: an adapter on the MLPs as well is the base while fresh, and its MLP factors change the output and get gradients. */
    @Test
    void mlpTargetsAreAdaptedWhenTheAdapterHasThem() {
        EditDiT m = new EditDiT(CFG, 1);
        java.util.Map<String, long[]> targets = new java.util.LinkedHashMap<>(m.loraTargets());
        targets.putAll(m.mlpLoraTargets());
        assertArrayEquals(new long[] {4L * CFG.width(), CFG.width()}, m.mlpLoraTargets().get("blocks.1.mlp.fc1"));
        assertArrayEquals(new long[] {CFG.width(), 4L * CFG.width()}, m.mlpLoraTargets().get("blocks.1.mlp.fc2"));
        LoraAdapter a = LoraAdapter.create(targets, 4, 8, LoraAdapter.Init.KAIMING_UNIFORM, 3);
        Tensor x = rnd(1, 2, 3, 16, 16), s = rnd(2, 2, 3, 16, 16), t = Tensors.fromFloats(new float[] {0.3f, 0.9f}, 2);
        float[] base, changed;
        try (NoGradGuard g = new NoGradGuard()) {
            nonZeroOutputs(m);
            base = Tensors.toFloats(m.velocity(x, s, ids(2), t, null));
            assertArrayEquals(base, Tensors.toFloats(m.velocity(x, s, ids(2), t, a)));
            a.b("blocks.1.mlp.fc1").copy_(rnd(5, Tensors.shape(a.b("blocks.1.mlp.fc1"))).mul(new Scalar(0.1)));
            changed = Tensors.toFloats(m.velocity(x, s, ids(2), t, a));
        }
        boolean differs = false;
        for (int i = 0; i < base.length; i++) differs |= base[i] != changed[i];
        assertTrue(differs, "a non-zero B on an MLP layer changes the output");
        a.params.requireGrad(true);
        m.velocity(x, s, ids(2), t, a).sum().backward();
        for (String k : new String[] {"blocks.1.mlp.fc1.lora_A.weight", "blocks.1.mlp.fc2.lora_B.weight"}) {
            float[] gr = Tensors.toFloats(a.params.get(k).grad());
            double max = 0;
            for (float v : gr) max = Math.max(max, Math.abs(v));
            assertTrue(max > 0, k + " gets a gradient");
        }
    }

    /** The gradient that reaches the LoRA weights through v_θ.backward(kernel grad) is autograd of the composed loss. */
    @Test
    void loraGradientEqualsAutogradOfTheComposedLoss() {
        EditDiT m = new EditDiT(CFG, 4);
        LoraAdapter a = LoraAdapter.create(m.loraTargets(), 4, 8, LoraAdapter.Init.KAIMING_UNIFORM, 5), old = a.copy();
        try (NoGradGuard g = new NoGradGuard()) {
            nonZeroOutputs(m);
            for (String mod : m.loraTargets().keySet()) {
                a.b(mod).copy_(rnd(mod.hashCode(), Tensors.shape(a.b(mod))).mul(new Scalar(0.05)));
                old.b(mod).copy_(a.b(mod).mul(new Scalar(0.9)));
            }
        }
        a.params.requireGrad(true);
        int b = 4;
        Tensor x0 = rnd(11, b, 3, 16, 16), eps = rnd(12, b, 3, 16, 16), src = rnd(13, b, 3, 16, 16);
        Tensor t = Tensors.fromFloats(new float[] {0.02f, 0.5f, 1f, 0.7f}, b);
        Tensor xt = x0.mul(t.neg().add(new Scalar(1)).view(b, 1, 1, 1)).add(eps.mul(t.view(b, 1, 1, 1)));
        Tensor r = Tensors.fromFloats(new float[] {0f, 0.5f, 1f, 0.8f}, b), valid = Tensors.fromFloats(new float[] {1, 1, 0, 1}, b);
        Tensor vOld, vRef;
        try (NoGradGuard g = new NoGradGuard()) {
            vOld = m.velocity(xt, src, ids(b), t, old);
            vRef = m.velocity(xt, src, ids(b), t, null);
        }
        // fused: kernel gradient, then backward through the model
        Tensor vTheta = m.velocity(xt, src, ids(b), t, a);
        NftLossResult res = new NativeOps(true).nftLoss(NftLossConfig.DEFAULTS,
                new NftLossInputs(x0, eps, false, vTheta.detach(), vOld, vRef, t, r, valid), true);
        vTheta.backward(res.grad(), new org.bytedeco.pytorch.BoolOptional(), false, new org.bytedeco.pytorch.TensorArrayRefOptional());
        float[][] fused = grads(a);
        for (Tensor p : a.tensors()) p.grad().zero_();
        // composed: autograd all the way
        Tensor vTheta2 = m.velocity(xt, src, ids(b), t, a);
        new TorchOps(true).nftLossGraph(NftLossConfig.DEFAULTS,
                new NftLossInputs(x0, eps, false, vTheta2, vOld, vRef, t, r, valid)).loss().backward();
        float[][] auto = grads(a);
        for (int i = 0; i < fused.length; i++) {
            double max = 0;
            for (float v : auto[i]) max = Math.max(max, Math.abs(v));
            assertTrue(max > 0, "tensor " + i + " gets a gradient");
            for (int j = 0; j < fused[i].length; j++)
                assertTrue(Math.abs(fused[i][j] - auto[i][j]) <= 1e-4 * max + 1e-9,
                        "tensor " + i + " element " + j + ": fused " + fused[i][j] + " autograd " + auto[i][j]);
        }
    }

    static float[][] grads(LoraAdapter a) {
        return a.tensors().stream().map(p -> Tensors.toFloats(p.grad())).toArray(float[][]::new);
    }

    /** A model with non-zero output layers and LoRA B, so every gradient means something. */
    static EditDiT trained(long seed) {
        EditDiT m = new EditDiT(CFG, seed);
        m.attachLora(LoraSets.fresh(m.loraTargets(), 4, 8, LoraAdapter.Init.KAIMING_UNIFORM, seed + 1));
        try (NoGradGuard g = new NoGradGuard()) {
            nonZeroOutputs(m);
            for (String mod : m.loraTargets().keySet())
                m.lora().theta.b(mod).copy_(rnd(mod.hashCode(), Tensors.shape(m.lora().theta.b(mod))).mul(new Scalar(0.05)));
        }
        return m;
    }

    /** Recomputing each block in backward gives the gradients of the ordinary backward (to f32 rounding). */
    @Test
    void gradientCheckpointingGivesTheSameGradients() {
        EditDiT m = trained(9);
        int b = 3;
        Tensor x = rnd(21, b, 3, 16, 16), src = rnd(22, b, 3, 16, 16), gOut = rnd(23, b, 3, 16, 16);
        Tensor t = Tensors.fromFloats(new float[] {0.2f, 0.6f, 1f}, b);
        Conditioning c = new Conditioning(java.util.Map.of("source", src, "text_ids", ids(b)));
        float[][][] grads = new float[2][][];
        float[][] outs = new float[2][];
        for (int run = 0; run < 2; run++) {
            EditingModel.TrainingForward f = m.velocityForTraining(x, t, c, Adapter.POLICY, run == 1);
            outs[run] = Tensors.toFloats(f.velocity());
            f.backward().accept(gOut);
            grads[run] = m.lora().theta.tensors().stream().map(p -> Tensors.toFloats(p.grad())).toArray(float[][]::new);
            for (Tensor p : m.lora().theta.tensors()) p.grad().zero_();
        }
        assertArrayEquals(outs[0], outs[1], 1e-6f, "the same velocity");
        for (int i = 0; i < grads[0].length; i++) {
            double max = 0;
            for (float v : grads[0][i]) max = Math.max(max, Math.abs(v));
            assertTrue(max > 0, "tensor " + i + " has a gradient");
            for (int j = 0; j < grads[0][i].length; j++)
                assertTrue(Math.abs(grads[0][i][j] - grads[1][i][j]) <= 1e-5 * max,
                        "tensor " + i + " element " + j + ": " + grads[0][i][j] + " vs checkpointed " + grads[1][i][j]);
        }
    }
}
