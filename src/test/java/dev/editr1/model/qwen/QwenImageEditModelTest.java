package dev.editr1.model.qwen;

import static dev.editr1.model.qwen.QwenGolden.close;
import static dev.editr1.model.qwen.QwenGolden.get;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import dev.editr1.kernels.DType;
import dev.editr1.kernels.Tensors;
import dev.editr1.model.Adapter;
import dev.editr1.model.Conditioning;
import dev.editr1.model.EditingModel;
import dev.editr1.model.LoraAdapter;
import dev.editr1.model.ParamStore;
import dev.editr1.model.io.DiffusersFixture;

/**
 * Qwen-Image-Edit as an editing model: the checkpointed training forward against diffusers' LoRA
 * gradients, the last block's two text-side modules that cannot train (and are left out), and the
 * text cut to the batch's longest prompt.
 */
class QwenImageEditModelTest {

    @ParameterizedTest
    @ValueSource(strings = {"qwen_tiny_1", "qwen_tiny_2", "qwen_tiny_3"})
    void checkpointedForwardAndBackwardMatchDiffusersLoraGradients(String name) {
        QwenImageTransformerGoldenTest.Case c = QwenImageTransformerGoldenTest.load(name);
        ParamStore lp = new ParamStore();
        for (Map.Entry<String, Tensor> e : c.io().entrySet())
            if (e.getKey().startsWith("lora/") && e.getKey().endsWith(".weight"))
                lp.put(e.getKey().substring("lora/".length()), e.getValue().detach().clone());
        lp.requireGrad(true);
        LoraAdapter lora = LoraAdapter.of(4, 8, lp);

        EditingModel.TrainingForward f = c.model().forwardCheckpointed(c.in("hidden_states"), c.in("encoder_hidden_states"),
                c.in("encoder_hidden_states_mask"), c.in("timestep"), c.shapes(), lora);
        close(name + " checkpointed out/lora_output", get(c.io(), "out/lora_output"), f.velocity(), QwenImageTransformerGoldenTest.ATOL);
        // d loss / d output = loss_weight on the target tokens, 0 on the reference tokens
        Tensor g = torch.zeros_like(f.velocity());
        g.narrow(1, 0, c.targetTokens()).copy_(get(c.io(), "lora/loss_weight"));
        f.backward().accept(g);

        double maxGrad = 0;
        for (String k : c.io().keySet()) if (k.startsWith("grad/")) maxGrad = Math.max(maxGrad, QwenGolden.maxAbs(c.io().get(k)));
        int n = 0;
        for (String k : new TreeSet<>(c.io().keySet())) {
            if (!k.startsWith("grad/")) continue;
            Tensor gr = lp.get(k.substring("grad/".length())).grad();
            if (gr == null || !gr.defined()) gr = torch.zeros_like(lp.get(k.substring("grad/".length())));
            close(name + " checkpointed " + k, c.io().get(k), gr, QwenImageTransformerGoldenTest.ATOL * maxGrad);
            n++;
        }
        assertEquals(2 * QwenImageTransformer.defaultLoraTargets(c.cfg()).size(), n);
    }

    /**
     * Only the image stream leaves the last block: diffusers' own gradients of its to_add_out and
     * add_q_proj LoRA are exactly zero (every other module's are not), and editr1 leaves exactly those
     * two out of the adapter it trains.
     */
    @ParameterizedTest
    @ValueSource(strings = {"qwen_tiny_1", "qwen_tiny_2", "qwen_tiny_3"})
    void theLastBlocksTextOutputAndQueriesCannotTrainAndAreLeftOut(String name) {
        QwenImageTransformerGoldenTest.Case c = QwenImageTransformerGoldenTest.load(name);
        String last = "transformer_blocks." + (c.cfg().numLayers() - 1) + ".attn.";
        Set<String> zero = new TreeSet<>();
        for (String k : c.io().keySet())
            if (k.startsWith("grad/") && QwenGolden.maxAbs(c.io().get(k)) == 0)
                zero.add(k.substring("grad/".length(), k.length() - ".lora_A.weight".length()));
        assertEquals(new TreeSet<>(Set.of(last + "to_add_out", last + "add_q_proj")), zero, name + ": modules with zero gradients");

        Map<String, long[]> all = QwenImageTransformer.defaultLoraTargets(c.cfg()), trained = QwenImageEditModel.trainableLoraTargets(c.cfg());
        assertEquals(all.size() - 2, trained.size());
        Set<String> left = new TreeSet<>(all.keySet());
        left.removeAll(trained.keySet());
        assertEquals(zero, left);
    }

    /**
     * Prompts of 3 and 5 tokens padded to 8: the velocity equals the transformer's on the text cut to
     * the longest (5), and, with the mask applied, its output on the full padded text.
     */
    @Test
    void theTextIsCutToTheBatchsLongestPrompt(@TempDir Path tmp) throws Exception {
        Path dir = QwenEditFixture.model(tmp.resolve("m"), 3, false);
        QwenImageEditModel m = QwenImageEditModel.load(dir, QwenEditFixture.RESOLUTION, QwenEditFixture.TEXT_TOKENS,
                QwenImageTransformer.TextMask.MASK_KEYS, tmp.resolve("cache"), dev.editr1.kernels.Tensors.cpu(), DType.F32);
        SplittableRandom rng = new SplittableRandom(5);
        int l = QwenEditFixture.TEXT_TOKENS, w = QwenEditFixture.TEXT_WIDTH;
        Tensor embeds = DiffusersFixture.gaussian(rng, 2, l, w);
        float[] mask = new float[2 * l];
        for (int i = 0; i < 3; i++) mask[i] = 1;
        for (int i = 0; i < 5; i++) mask[l + i] = 1;
        Tensor maskT = Tensors.fromFloats(mask, 2, l);
        embeds = embeds.mul(maskT.unsqueeze(2));   // padded rows are zero, as condition() pads
        long n = m.imageTokens();
        Tensor source = DiffusersFixture.gaussian(rng, 2, n, 16), xt = DiffusersFixture.gaussian(rng, 2, 4, 8, 8);
        Tensor t = Tensors.fromFloats(new float[] {0.7f, 0.3f}, 2);
        Map<String, Tensor> cm = new LinkedHashMap<>();
        cm.put(QwenImageEditModel.PROMPT_EMBEDS, embeds);
        cm.put(QwenImageEditModel.PROMPT_MASK, maskT);
        cm.put(QwenImageEditModel.SOURCE, source);
        Conditioning c = new Conditioning(cm);
        assertEquals(5, QwenImageEditModel.validLength(maskT));
        try (NoGradGuard g = new NoGradGuard()) {
            Tensor v = m.velocity(xt, t, c, Adapter.OFF);
            assertEquals(4, v.dim());
            Tensor hidden = torch.cat(new TensorVector(QwenLatentPacking.pack(xt), source), 1);
            var shapes = java.util.List.of(ImageShape.of(4, 4), ImageShape.of(4, 4));
            Tensor cut = m.transformer().forward(hidden, embeds.narrow(1, 0, 5), maskT.narrow(1, 0, 5), t, shapes, null);
            Tensor full = m.transformer().forward(hidden, embeds, maskT, t, shapes, null);
            Tensor vCut = QwenLatentPacking.unpack(cut.narrow(1, 0, n), 8, 8).select(2, 0);
            close("velocity = forward on the cut text", vCut, v, 0);
            close("cut = full padded text with the mask", full.narrow(1, 0, n), cut.narrow(1, 0, n), 1e-5);
            // ignoring the mask, the padding counts: the cut is what a pipeline's batch of these two prompts would see
            Tensor ignoredFull = m.transformer().withTextMask(QwenImageTransformer.TextMask.IGNORE).forward(hidden, embeds, maskT, t, shapes, null);
            double d = QwenGolden.maxAbs(ignoredFull.narrow(1, 0, n).sub(cut.narrow(1, 0, n)));
            assertTrue(d > 1e-4, "padding changes the output when the mask is ignored (" + d + ")");
            // the unconditional branch zeroes the prompt
            Tensor u = m.velocity(xt, t, m.unconditional(c), Adapter.OFF);
            assertTrue(QwenGolden.maxAbs(u.sub(v)) > 1e-4);
        }
    }

    /** An Edit-R1 adapter in diffusers' form with all 8 modules of every block (the last block's two included) loads. */
    @Test
    void anAdapterOnAllEditR1ModulesLoads(@TempDir Path tmp) throws Exception {
        QwenImageEditModel m = QwenImageEditModel.load(QwenEditFixture.model(tmp.resolve("m"), 4, false), QwenEditFixture.RESOLUTION,
                QwenEditFixture.TEXT_TOKENS, QwenImageTransformer.TextMask.MASK_KEYS, tmp.resolve("cache"), Tensors.cpu(), DType.F32);
        LoraAdapter all = LoraAdapter.create(QwenImageTransformer.defaultLoraTargets(m.config()), 4, 8, LoraAdapter.Init.GAUSSIAN, 1);
        dev.editr1.model.Checkpoints.saveDiffusersAdapter(all, tmp.resolve("lora"), "transformer", "gaussian");
        LoraAdapter back = dev.editr1.model.Checkpoints.loadAdapter(m, tmp.resolve("lora/pytorch_lora_weights.safetensors"));
        assertEquals(all.params.asMap().keySet(), back.params.asMap().keySet());
        assertTrue(back.targets("transformer_blocks.1.attn.to_add_out"));
        assertEquals(2.0, back.scale());
    }
}
