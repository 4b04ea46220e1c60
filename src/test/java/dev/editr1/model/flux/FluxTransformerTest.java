package dev.editr1.model.flux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import dev.editr1.kernels.Tensors;
import dev.editr1.model.LoraAdapter;
import dev.editr1.model.ParamStore;

/** FluxTransformer against diffusers' FluxTransformer2DModel (golden files from shared/golden/flux). */
class FluxTransformerTest {
    /** README: Flux outputs atol 1e-4; LoRA gradients rel 3e-4. */
    static final double ATOL = 1e-4, GRAD_REL = 3e-4;
    static final int RANK = 4;
    static final double ALPHA = 8;

    record Case(FluxConfig cfg, FluxTransformer model, Map<String, Tensor> io) {
        Tensor in(String k) {
            Tensor t = io.get("in/" + k);
            if (t == null) throw new IllegalStateException("golden has no in/" + k);
            return t;
        }

        Tensor forward(LoraAdapter lora, Map<String, Tensor> trace) {
            return model.forward(in("hidden_states"), in("encoder_hidden_states"), in("pooled_projections"),
                    in("timestep"), in("img_ids"), in("txt_ids"), in("guidance"), lora, trace);
        }

        long targetTokens() {
            return in("x_t").size(1);
        }

        dev.editr1.model.EditingModel.TrainingForward checkpointed(LoraAdapter lora) {
            return model.forwardCheckpointed(in("hidden_states"), in("encoder_hidden_states"), in("pooled_projections"),
                    in("timestep"), in("img_ids"), in("txt_ids"), in("guidance"), lora);
        }
    }

    static Case load(String name) {
        FluxConfig cfg = FluxConfig.fromJson(FluxGolden.text(name + ".config.json"));
        FluxTransformer m = new FluxTransformer(cfg, FluxGolden.read(name + ".weights.safetensors").tensors());
        return new Case(cfg, m, FluxGolden.read(name + ".io.safetensors").tensors());
    }

    @Test
    void configParsesLikeDiffusers() {
        FluxConfig c = FluxConfig.fromJson(FluxGolden.text("flux_tiny_2.config.json"));
        assertEquals(new FluxConfig(1, 4, 4, 2, 2, 16, 2, 32, 32, true, List.of(4, 4, 8)), c); // out_channels null → in
        assertEquals(32, c.innerDim());
        FluxConfig dflt = FluxConfig.fromJson("{}");     // diffusers' defaults: FLUX.1-dev sizes, no guidance
        assertEquals(3072, dflt.innerDim());
        assertEquals(64, dflt.outTokenDim());
        assertFalse(dflt.guidanceEmbeds());
        assertThrows(IllegalArgumentException.class, () -> FluxConfig.fromJson(
                "{\"attention_head_dim\": 16, \"axes_dims_rope\": [4, 4, 4]}"));
    }

    /** The base model: every intermediate diffusers recorded, then the output. */
    @ParameterizedTest
    @ValueSource(strings = {"flux_tiny_1", "flux_tiny_2"})
    void forwardMatchesDiffusersIntermediatesAndOutput(String name) {
        Case c = load(name);
        try (NoGradGuard g = new NoGradGuard()) {
            Map<String, Tensor> trace = new LinkedHashMap<>();
            Tensor out = c.forward(null, trace);
            TreeSet<String> golden = new TreeSet<>();
            for (String k : c.io().keySet()) if (k.startsWith("inter/")) golden.add(k.substring(6));
            assertEquals(golden, new TreeSet<>(trace.keySet()), "every golden intermediate is traced, and only those");
            assertTrue(golden.contains("transformer_blocks." + (c.cfg().numLayers() - 1) + ".1"));
            for (String k : trace.keySet()) // in computation order: the first failure is where the math diverges
                FluxGolden.assertClose(name + " inter/" + k, trace.get(k), c.io().get("inter/" + k), ATOL, 0);
            FluxGolden.assertClose(name + " out/output", out, c.io().get("out/output"), ATOL, 0);
            FluxGolden.assertClose(name + " out/output_img", out.narrow(1, 0, c.targetTokens()),
                    c.io().get("out/output_img"), ATOL, 0);
        }
    }

    /** LoRA on every default target: output, loss, and d loss / d (A, B) of every adapter tensor. */
    @ParameterizedTest
    @ValueSource(strings = {"flux_tiny_1", "flux_tiny_2"})
    void loraOutputAndGradientsMatchDiffusers(String name) {
        Case c = load(name);
        ParamStore ps = new ParamStore();
        for (Map.Entry<String, Tensor> e : c.io().entrySet())
            if (e.getKey().startsWith("lora/") && e.getKey().endsWith(".weight"))
                ps.put(e.getKey().substring(5), e.getValue().clone());
        LoraAdapter lora = LoraAdapter.of(RANK, ALPHA, ps);
        assertEquals(2.0, lora.scale());
        // the golden adapter covers exactly Edit-R1's default targets, with their shapes
        Map<String, long[]> targets = c.model().defaultLoraTargets();
        assertEquals(2 * targets.size(), ps.asMap().size());
        for (Map.Entry<String, long[]> t : targets.entrySet()) {
            assertArrayEquals(new long[] {RANK, t.getValue()[1]}, Tensors.shape(lora.a(t.getKey())), t.getKey());
            assertArrayEquals(new long[] {t.getValue()[0], RANK}, Tensors.shape(lora.b(t.getKey())), t.getKey());
        }
        ps.requireGrad(true);

        Tensor out = c.forward(lora, null);
        FluxGolden.assertClose(name + " out/lora_output", out, c.io().get("out/lora_output"), ATOL, 0);
        Tensor img = out.narrow(1, 0, c.targetTokens());
        FluxGolden.assertClose(name + " out/lora_output_img", img, c.io().get("out/lora_output_img"), ATOL, 0);
        Tensor loss = img.mul(c.io().get("lora/loss_weight")).sum();
        FluxGolden.assertClose(name + " out/lora_loss", loss.reshape(1), c.io().get("out/lora_loss"), ATOL, 1e-5);
        loss.backward();
        int checked = 0;
        for (Map.Entry<String, Tensor> e : ps.asMap().entrySet()) {
            Tensor ref = c.io().get("grad/" + e.getKey());
            assertTrue(ref != null, "golden has no grad/" + e.getKey());
            assertTrue(e.getValue().grad().defined(), e.getKey() + " received no gradient");
            FluxGolden.assertRelToMax(name + " grad/" + e.getKey(), e.getValue().grad(), ref, GRAD_REL);
            checked++;
        }
        assertEquals(c.io().keySet().stream().filter(k -> k.startsWith("grad/")).count(), checked);
        // LoRA must change the output, or the gradient checks above would prove little about the forward
        float[] base, withLora = Tensors.toFloats(out);
        try (NoGradGuard g = new NoGradGuard()) {
            base = Tensors.toFloats(c.forward(null, null));
        }
        double diff = 0;
        for (int i = 0; i < base.length; i++) diff = Math.max(diff, Math.abs(base[i] - withLora[i]));
        assertTrue(diff > 100 * ATOL, "LoRA changes the output (max change " + diff + ")");
    }

    /** Per-block gradient checkpointing gives diffusers' LoRA gradients too (recompute in backward). */
    @ParameterizedTest
    @ValueSource(strings = {"flux_tiny_1", "flux_tiny_2"})
    void checkpointedGradientsMatchDiffusers(String name) {
        Case c = load(name);
        ParamStore ps = new ParamStore();
        for (Map.Entry<String, Tensor> e : c.io().entrySet())
            if (e.getKey().startsWith("lora/") && e.getKey().endsWith(".weight"))
                ps.put(e.getKey().substring(5), e.getValue().clone());
        LoraAdapter lora = LoraAdapter.of(RANK, ALPHA, ps);
        ps.requireGrad(true);
        dev.editr1.model.EditingModel.TrainingForward f = c.checkpointed(lora);
        FluxGolden.assertClose(name + " checkpointed out/lora_output", f.velocity(), c.io().get("out/lora_output"), ATOL, 0);
        // d loss / d out for loss = sum(out[:, :target] * loss_weight): the weight on the target tokens, 0 elsewhere
        Tensor grad = torch.zeros_like(f.velocity());
        grad.narrow(1, 0, c.targetTokens()).copy_(c.io().get("lora/loss_weight"));
        f.backward().accept(grad);
        for (Map.Entry<String, Tensor> e : ps.asMap().entrySet())
            FluxGolden.assertRelToMax(name + " checkpointed grad/" + e.getKey(), e.getValue().grad(), c.io().get("grad/" + e.getKey()),
                    GRAD_REL);
    }

    @Test
    void weightsAreCheckedByName() {
        FluxConfig cfg = FluxConfig.fromJson(FluxGolden.text("flux_tiny_1.config.json"));
        Map<String, Tensor> w = new LinkedHashMap<>(FluxGolden.read("flux_tiny_1.weights.safetensors").tensors());
        assertEquals(FluxTransformer.expectedShapes(cfg).keySet(), w.keySet());

        Map<String, Tensor> missing = new LinkedHashMap<>(w);
        missing.remove("transformer_blocks.0.attn.norm_added_k.weight");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new FluxTransformer(cfg, missing));
        assertTrue(e.getMessage().contains("missing tensor 'transformer_blocks.0.attn.norm_added_k.weight'"), e.getMessage());

        Map<String, Tensor> extra = new LinkedHashMap<>(w);
        extra.put("transformer_blocks.1.attn.to_q.weight", w.get("transformer_blocks.0.attn.to_q.weight"));
        e = assertThrows(IllegalArgumentException.class, () -> new FluxTransformer(cfg, extra));
        assertTrue(e.getMessage().contains("unexpected tensor 'transformer_blocks.1.attn.to_q.weight'"), e.getMessage());

        Map<String, Tensor> misshapen = new LinkedHashMap<>(w);
        misshapen.put("single_transformer_blocks.0.proj_out.weight", w.get("transformer_blocks.0.ff.net.2.weight"));
        e = assertThrows(IllegalArgumentException.class, () -> new FluxTransformer(cfg, misshapen));
        assertTrue(e.getMessage().contains("'single_transformer_blocks.0.proj_out.weight' has shape [32, 128], expected [32, 160]"),
                e.getMessage());
    }

    @Test
    void guidanceMustMatchTheConfig() {
        Case c = load("flux_tiny_1");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> c.model().forward(
                c.in("hidden_states"), c.in("encoder_hidden_states"), c.in("pooled_projections"),
                c.in("timestep"), c.in("img_ids"), c.in("txt_ids"), null, null));
        assertTrue(e.getMessage().contains("guidance"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> c.model().forward(
                c.in("hidden_states"), c.in("encoder_hidden_states"), c.in("pooled_projections"),
                c.in("timestep"), c.in("txt_ids"), c.in("txt_ids"), c.in("guidance"), null));
        assertTrue(e.getMessage().contains("imgIds"), e.getMessage());
    }

    /**
     * The same model in bf16: runs without a dtype mismatch anywhere, returns bf16, and stays within
     * bf16 rounding of the f32 model on the same (bf16-representable) weights and inputs.
     *
     * <p>Like diffusers, the model casts timestep and guidance to the hidden dtype before the ×1000,
     * so in bf16 the golden guidance 2.5 becomes 2496, not 2500, and the 256-channel sinusoid (up to
     * 2500 rad) changes completely: a bf16 run cannot be compared with the f32 golden at those
     * values. Here t·1000 and g·1000 (500, 250, 2000) are exact in bf16.
     */
    @Test
    void bf16ForwardRunsAndStaysClose() {
        Case c = load("flux_tiny_2");
        Map<String, Tensor> w16 = new LinkedHashMap<>(), w32 = new LinkedHashMap<>();
        c.model().base.asMap().forEach((k, v) -> {
            w16.put(k, bf(v));
            w32.put(k, bf(v).to(ScalarType.Float));
        });
        FluxTransformer m16 = new FluxTransformer(c.cfg(), w16), m32 = new FluxTransformer(c.cfg(), w32);
        Tensor t = Tensors.fromFloats(new float[] {0.5f, 0.25f}, 2), gd = Tensors.fromFloats(new float[] {2f, 2f}, 2);
        String[] names = {"hidden_states", "encoder_hidden_states", "pooled_projections", "img_ids", "txt_ids"};
        Map<String, Tensor> in16 = new LinkedHashMap<>(), in32 = new LinkedHashMap<>();
        for (String n : names) {
            in16.put(n, bf(c.in(n)));
            in32.put(n, bf(c.in(n)).to(ScalarType.Float));
        }
        try (NoGradGuard g = new NoGradGuard()) {
            Tensor out16 = m16.forward(in16.get("hidden_states"), in16.get("encoder_hidden_states"),
                    in16.get("pooled_projections"), bf(t), in16.get("img_ids"), in16.get("txt_ids"), bf(gd), null);
            Tensor out32 = m32.forward(in32.get("hidden_states"), in32.get("encoder_hidden_states"),
                    in32.get("pooled_projections"), t, in32.get("img_ids"), in32.get("txt_ids"), gd, null);
            assertEquals(ScalarType.BFloat16, Tensors.scalarType(out16));
            // bf16 keeps 8 significant bits (relative step 2^-8 ≈ 0.4%); through 4 blocks and outputs
            // of ~1.6 the accumulated error stays a few 1e-2
            FluxGolden.assertClose("flux_tiny_2 bf16 vs f32 (same rounded weights/inputs)", out16, out32, 0.05, 0.02);
        }
    }

    private static Tensor bf(Tensor t) {
        return t.to(ScalarType.BFloat16);
    }

    /** The sinusoid is [cos, sin] with freq_k = exp(−ln(10⁴)·k/128) (flip_sin_to_cos=True, shift 0). */
    @Test
    void timestepSinusoidLayout() {
        try (NoGradGuard g = new NoGradGuard()) {
            Tensor e = FluxTransformer.timestepSinusoid(Tensors.fromFloats(new float[] {0f, 700f}, 2), 256);
            assertArrayEquals(new long[] {2, 256}, Tensors.shape(e));
            float[] f = Tensors.toFloats(e);
            for (int k = 0; k < 128; k++) {
                assertEquals(1.0, f[k], 0, "cos(0)");
                assertEquals(0.0, f[128 + k], 0, "sin(0)");
                double freq = Math.exp(-Math.log(10000.0) * k / 128);
                assertEquals(Math.cos(700 * freq), f[256 + k], 2e-4, "cos k=" + k);
                assertEquals(Math.sin(700 * freq), f[256 + 128 + k], 2e-4, "sin k=" + k);
            }
        }
    }
}
