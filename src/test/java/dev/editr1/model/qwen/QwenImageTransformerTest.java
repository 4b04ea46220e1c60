package dev.editr1.model.qwen;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.junit.jupiter.api.Test;

import dev.editr1.kernels.Tensors;
import dev.editr1.model.LoraAdapter;

/** Configuration parsing, weight-map validation, input checks and LoRA plumbing of the Qwen transformer and VAE. */
class QwenImageTransformerTest {

    @Test
    void configsParseFromDiffusersJson() {
        QwenImageConfig c1 = QwenImageConfig.fromJson(QwenGolden.text("qwen_tiny_1.config.json"));
        assertEquals(new QwenImageConfig(2, 16, 4, 2, 16, 4, 16, false, new int[] {8, 4, 4}, false, false, false), c1);
        assertEquals(64, c1.innerDim());
        assertEquals(16, c1.outTokenDim());
        QwenImageConfig c3 = QwenImageConfig.fromJson(QwenGolden.text("qwen_tiny_3.config.json"));
        assertTrue(c3.zeroCondT());
        // diffusers' defaults are the released model's
        QwenImageConfig d = QwenImageConfig.fromJson("{\"zero_cond_t\": true}");
        assertEquals(QwenImageConfig.qwenImageEdit(true), d);
        assertEquals(3072, d.innerDim());
        assertEquals(64, d.outTokenDim());
        assertEquals(64, QwenImageConfig.fromJson("{\"out_channels\": null}").outChannels());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> QwenImageConfig.fromJson("{\"attention_head_dim\": 16, \"axes_dims_rope\": [8, 4, 2]}"));
        assertTrue(e.getMessage().contains("axes_dims_rope"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> QwenImageConfig.fromJson("{\"use_layer3d_rope\": true}"));

        QwenImageVaeConfig v2 = QwenImageVaeConfig.fromJson(QwenGolden.text("vae_tiny_2.config.json"));
        assertEquals(8, v2.spatialScale());
        assertArrayEquals(QwenImageVaeConfig.DEFAULT_MEAN, v2.latentsMean());
        assertEquals(QwenImageVaeConfig.qwenImage(), QwenImageVaeConfig.fromJson("{}"));
    }

    @Test
    void theReleasedModelHasTheExpectedSizes() {
        long n = 0;
        for (long[] s : QwenImageTransformer.parameterShapes(QwenImageConfig.qwenImageEdit(false)).values()) {
            long p = 1;
            for (long x : s) p *= x;
            n += p;
        }
        assertEquals(20_430_401_088L, n, "Qwen-Image transformer parameter count (the released checkpoint's 40,860,802,176 bf16 bytes)");
        assertEquals(60 * 8, QwenImageTransformer.defaultLoraTargets(QwenImageConfig.qwenImageEdit(false)).size());
    }

    @Test
    void weightMapsAreCheckedKeyByKey() {
        QwenImageConfig cfg = QwenImageConfig.fromJson(QwenGolden.text("qwen_tiny_1.config.json"));
        Map<String, Tensor> w = QwenGolden.read("qwen_tiny_1.weights.safetensors");
        assertEquals(QwenImageTransformer.parameterShapes(cfg).keySet(), w.keySet());

        Map<String, Tensor> missing = new HashMap<>(w);
        missing.remove("transformer_blocks.1.attn.norm_added_k.weight");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new QwenImageTransformer(cfg, missing));
        assertTrue(e.getMessage().contains("missing") && e.getMessage().contains("transformer_blocks.1.attn.norm_added_k.weight"), e.getMessage());

        Map<String, Tensor> extra = new HashMap<>(w);
        extra.put("pos_embed.pos_freqs", torch.zeros(4));
        e = assertThrows(IllegalArgumentException.class, () -> new QwenImageTransformer(cfg, extra));
        assertTrue(e.getMessage().contains("unexpected") && e.getMessage().contains("pos_embed.pos_freqs"), e.getMessage());

        Map<String, Tensor> wrong = new HashMap<>(w);
        wrong.put("img_in.weight", torch.zeros(64, 17));
        e = assertThrows(IllegalArgumentException.class, () -> new QwenImageTransformer(cfg, wrong));
        assertTrue(e.getMessage().contains("img_in.weight") && e.getMessage().contains("[64, 17]"), e.getMessage());

        QwenImageVaeConfig vcfg = QwenImageVaeConfig.fromJson(QwenGolden.text("vae_tiny_1.config.json"));
        Map<String, Tensor> vw = new HashMap<>(QwenGolden.read("vae_tiny_1.weights.safetensors"));
        assertEquals(AutoencoderKLQwenImage.parameterShapes(vcfg).keySet(), vw.keySet());
        vw.remove("decoder.up_blocks.0.upsamplers.0.time_conv.bias");
        e = assertThrows(IllegalArgumentException.class, () -> new AutoencoderKLQwenImage(vcfg, vw));
        assertTrue(e.getMessage().contains("decoder.up_blocks.0.upsamplers.0.time_conv.bias"), e.getMessage());
    }

    @Test
    void inputsAreCheckedAndAFreshAdapterIsTheBaseModel() {
        QwenImageConfig cfg = QwenImageConfig.fromJson(QwenGolden.text("qwen_tiny_1.config.json"));
        QwenImageTransformer m = new QwenImageTransformer(cfg, QwenGolden.read("qwen_tiny_1.weights.safetensors"));
        Map<String, Tensor> io = QwenGolden.read("qwen_tiny_1.io.safetensors");
        Tensor hs = io.get("in/hidden_states"), ehs = io.get("in/encoder_hidden_states"),
                mask = io.get("in/encoder_hidden_states_mask"), t = io.get("in/timestep");
        List<ImageShape> shapes = QwenGolden.imgShapes(io);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> m.forward(hs, ehs, mask, t, List.of(ImageShape.of(4, 4)), null));
        assertTrue(e.getMessage().contains("16 tokens") && e.getMessage().contains("32"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> m.forward(hs, ehs, mask.narrow(1, 0, 7), t, shapes, null));
        assertThrows(IllegalArgumentException.class, () -> m.forward(hs.to(torch.ScalarType.Double), ehs, mask, t, shapes, null));

        LoraAdapter fresh = LoraAdapter.create(QwenImageTransformer.defaultLoraTargets(cfg), 4, 8,
                LoraAdapter.Init.KAIMING_UNIFORM, 5);
        try (NoGradGuard g = new NoGradGuard()) {
            float[] base = Tensors.toFloats(m.forward(hs, ehs, mask, t, shapes, null));
            assertArrayEquals(base, Tensors.toFloats(m.forward(hs, ehs, mask, t, shapes, fresh)));
        }
    }
}
