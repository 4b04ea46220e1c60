package dev.editr1.model.qwen;

import static dev.editr1.model.qwen.QwenGolden.close;
import static dev.editr1.model.qwen.QwenGolden.get;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import dev.editr1.kernels.Tensors;
import dev.editr1.model.LoraAdapter;
import dev.editr1.model.ParamStore;

/**
 * The transformer against diffusers' {@code QwenImageTransformer2DModel} on the three golden configs
 * (tiny_1: one reference; tiny_2: two odd-sized references; tiny_3: zero_cond_t). Tolerances from the
 * golden README: outputs and intermediates atol 1e-4, LoRA gradients 1e-4·max|grad|.
 */
class QwenImageTransformerGoldenTest {
    static final double ATOL = 1e-4;

    record Case(QwenImageConfig cfg, QwenImageTransformer model, Map<String, Tensor> io, List<ImageShape> shapes) {
        Tensor in(String k) {
            return get(io, "in/" + k);
        }

        long targetTokens() {
            return shapes.get(0).tokens();
        }
    }

    static Case load(String name) {
        QwenImageConfig cfg = QwenImageConfig.fromJson(QwenGolden.text(name + ".config.json"));
        QwenImageTransformer m = new QwenImageTransformer(cfg, QwenGolden.read(name + ".weights.safetensors"));
        Map<String, Tensor> io = QwenGolden.read(name + ".io.safetensors");
        return new Case(cfg, m, io, QwenGolden.imgShapes(io));
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen_tiny_1", "qwen_tiny_2", "qwen_tiny_3"})
    void forwardAndEveryIntermediateMatchDiffusers(String name) {
        Case c = load(name);
        assertEquals(name.equals("qwen_tiny_3"), c.cfg().zeroCondT(), "zero_cond_t from config.json");
        // the documented call: hidden_states = cat([x_t, ref], 1)
        close(name + " in/hidden_states = cat(x_t, ref)", c.in("hidden_states"),
                torch.cat(new TensorVector(c.in("x_t"), c.in("ref")), 1), 0);
        Map<String, Tensor> seen = new LinkedHashMap<>();
        Tensor out;
        try (NoGradGuard g = new NoGradGuard()) {
            out = c.model().forward(c.in("hidden_states"), c.in("encoder_hidden_states"), c.in("encoder_hidden_states_mask"),
                    c.in("timestep"), c.shapes(), null, seen::put);
        }
        int compared = 0;
        for (String k : new TreeSet<>(c.io().keySet())) {
            if (!k.startsWith("inter/") || k.startsWith("inter/rope")) continue;
            String n = k.substring("inter/".length());
            Tensor ours = seen.get(n);
            if (ours == null) fail(name + ": the forward did not produce intermediate " + n);
            close(name + " " + k, c.io().get(k), ours, ATOL);
            compared++;
        }
        assertEquals(6 + 6 * c.cfg().numLayers(), compared, "intermediates compared");
        close(name + " out/output", get(c.io(), "out/output"), out, ATOL);
        close(name + " out/output_target", get(c.io(), "out/output_target"), out.narrow(1, 0, c.targetTokens()), ATOL);
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen_tiny_1", "qwen_tiny_2", "qwen_tiny_3"})
    void ropePositionsAndTablesMatchDiffusers(String name) {
        Case c = load(name);
        long[][] img = QwenImageTransformer.imagePositions(c.shapes());
        float[] pos = new float[img.length * 3];
        for (int i = 0; i < img.length; i++)
            for (int a = 0; a < 3; a++) pos[3 * i + a] = img[i][a];
        close(name + " inter/rope_pos_img", get(c.io(), "inter/rope_pos_img"), Tensors.fromFloats(pos, img.length, 3), 0);
        long l = c.in("encoder_hidden_states").size(1);
        long off = QwenImageTransformer.textPositionOffset(c.shapes());
        float[] tp = new float[(int) l];
        for (int i = 0; i < l; i++) tp[i] = i + off;
        close(name + " inter/rope_pos_txt", get(c.io(), "inter/rope_pos_txt"), Tensors.fromFloats(tp, l), 0);

        QwenRope rope = new QwenRope(c.cfg().axesDimsRope());
        Tensor[] imgCs = QwenRope.cosSin(rope.angles(img));
        Tensor[] txtCs = QwenRope.cosSin(rope.angles(QwenRope.textPositions(c.shapes(), l)));
        close(name + " inter/rope.img.real", get(c.io(), "inter/rope.img.real"), imgCs[0], 1e-6);
        close(name + " inter/rope.img.imag", get(c.io(), "inter/rope.img.imag"), imgCs[1], 1e-6);
        close(name + " inter/rope.txt.real", get(c.io(), "inter/rope.txt.real"), txtCs[0], 1e-6);
        close(name + " inter/rope.txt.imag", get(c.io(), "inter/rope.txt.imag"), txtCs[1], 1e-6);
        // the joint table the forward uses is [text, image]
        Tensor[] joint = rope.jointTables(c.shapes(), l, Tensors.cpu());
        close(name + " joint cos = cat(txt, img)", torch.cat(new TensorVector(txtCs[0], imgCs[0]), 0), joint[0].squeeze(1), 0);
        close(name + " joint sin = cat(txt, img)", torch.cat(new TensorVector(txtCs[1], imgCs[1]), 0), joint[1].squeeze(1), 0);
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen_tiny_1", "qwen_tiny_2", "qwen_tiny_3"})
    void maskModesMatchDiffusersWithAndWithoutTheMask(String name) {
        Case c = load(name);
        Tensor mask = c.in("encoder_hidden_states_mask");
        try (NoGradGuard g = new NoGradGuard()) {
            Tensor noMask = c.model().forward(c.in("hidden_states"), c.in("encoder_hidden_states"), null,
                    c.in("timestep"), c.shapes(), null);
            close(name + " out/output_nomask (mask=null)", get(c.io(), "out/output_nomask"), noMask, ATOL);
            close(name + " out/output_nomask_target", get(c.io(), "out/output_nomask_target"),
                    noMask.narrow(1, 0, c.targetTokens()), ATOL);

            // diffusers <= 0.36.0 accepted the mask and ignored it
            Tensor ignored = c.model().withTextMask(QwenImageTransformer.TextMask.IGNORE).forward(c.in("hidden_states"),
                    c.in("encoder_hidden_states"), mask, c.in("timestep"), c.shapes(), null);
            close(name + " TextMask.IGNORE with mask = out/output_nomask", get(c.io(), "out/output_nomask"), ignored, ATOL);

            // an all-ones mask is no mask
            Tensor ones = c.model().forward(c.in("hidden_states"), c.in("encoder_hidden_states"), torch.ones_like(mask),
                    c.in("timestep"), c.shapes(), null);
            close(name + " all-ones mask = no mask", noMask, ones, 1e-6);

            // the mask matters only for sample 1 (sample 0's mask is all ones)
            Tensor masked = c.model().forward(c.in("hidden_states"), c.in("encoder_hidden_states"), mask,
                    c.in("timestep"), c.shapes(), null);
            close(name + " sample 0 masked = unmasked", noMask.narrow(0, 0, 1), masked.narrow(0, 0, 1), 1e-6);
            double diff = QwenGolden.maxAbs(masked.narrow(0, 1, 1).sub(noMask.narrow(0, 1, 1)));
            assertTrue(diff > 1e-2, name + ": masking padded text keys must change sample 1 (max diff " + diff + ")");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen_tiny_1", "qwen_tiny_2", "qwen_tiny_3"})
    void loraOutputsLossAndGradientsMatchDiffusers(String name) {
        Case c = load(name);
        ParamStore lp = new ParamStore();
        for (Map.Entry<String, Tensor> e : c.io().entrySet())
            if (e.getKey().startsWith("lora/") && e.getKey().endsWith(".weight"))
                lp.put(e.getKey().substring("lora/".length()), e.getValue().detach().clone());
        Map<String, long[]> targets = QwenImageTransformer.defaultLoraTargets(c.cfg());
        assertEquals(2 * targets.size(), lp.asMap().size(), "golden LoRA tensors = 2 per default target");
        for (Map.Entry<String, long[]> t : targets.entrySet()) {
            assertArrayEquals(new long[] {4, t.getValue()[1]}, Tensors.shape(lp.get(t.getKey() + ".lora_A.weight")), t.getKey());
            assertArrayEquals(new long[] {t.getValue()[0], 4}, Tensors.shape(lp.get(t.getKey() + ".lora_B.weight")), t.getKey());
        }
        lp.requireGrad(true);
        LoraAdapter lora = LoraAdapter.of(4, 8, lp);
        assertEquals(2.0, lora.scale());

        Tensor out = c.model().forward(c.in("hidden_states"), c.in("encoder_hidden_states"), c.in("encoder_hidden_states_mask"),
                c.in("timestep"), c.shapes(), lora);
        close(name + " out/lora_output", get(c.io(), "out/lora_output"), out, ATOL);
        Tensor target = out.narrow(1, 0, c.targetTokens());
        close(name + " out/lora_output_target", get(c.io(), "out/lora_output_target"), target, ATOL);
        Tensor loss = target.mul(get(c.io(), "lora/loss_weight")).sum();
        double golden = Tensors.toFloats(get(c.io(), "out/lora_loss"))[0];
        close(name + " out/lora_loss", get(c.io(), "out/lora_loss"), loss.reshape(1), ATOL * Math.max(1, Math.abs(golden)));
        loss.backward();

        double maxGrad = 0;
        for (String k : c.io().keySet()) if (k.startsWith("grad/")) maxGrad = Math.max(maxGrad, QwenGolden.maxAbs(c.io().get(k)));
        int n = 0;
        String lastToAddOut = "transformer_blocks." + (c.cfg().numLayers() - 1) + ".attn.to_add_out";
        for (String k : new TreeSet<>(c.io().keySet())) {
            if (!k.startsWith("grad/")) continue;
            String p = k.substring("grad/".length());
            Tensor gr = lp.get(p).grad();
            boolean undefined = gr == null || !gr.defined();
            if (undefined) {
                // no autograd path: only the last block's to_add_out may be in that state
                assertTrue(p.startsWith(lastToAddOut + "."), name + ": no gradient reached " + p);
                gr = torch.zeros_like(lp.get(p));
            }
            close(name + " " + k, c.io().get(k), gr, ATOL * maxGrad);
            n++;
        }
        assertEquals(2 * targets.size(), n, "gradients compared");
        for (String ab : new String[] {".lora_A.weight", ".lora_B.weight"})
            assertEquals(0.0, QwenGolden.maxAbs(get(c.io(), "grad/" + lastToAddOut + ab)), "golden: last to_add_out grad is 0");
        assertTrue(Tensors.item(loss) != 0 && Math.abs(Tensors.item(loss) - golden) < 1e-3 * Math.max(1, Math.abs(golden)));
    }
}
