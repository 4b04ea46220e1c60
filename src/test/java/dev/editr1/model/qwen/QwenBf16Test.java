package dev.editr1.model.qwen;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

import dev.editr1.kernels.Tensors;
import dev.editr1.model.LoraAdapter;
import dev.editr1.model.ParamStore;

/**
 * The same code with bf16 weights and activations, on the CPU: everything must stay in bf16 and
 * follow diffusers' bf16 semantics. No bf16 golden exists, so the checks are: the dtype of every
 * intermediate; the timestep sinusoid against diffusers' bf16 recipe recomputed here (the timestep
 * and the 128 frequencies are rounded to bf16 before the float32 product — in bf16 the phases move
 * by up to radians, by design, so the bf16 output is NOT close to the f32 golden); the timestep-free
 * stages against the f32 golden; RoPE against its f32 self; the VAE against an f32 run of the same
 * bf16-rounded weights; and a LoRA backward that yields finite bf16 gradients.
 */
class QwenBf16Test {
    static final double BF16_EPS = 0x1p-8;

    static Map<String, Tensor> bf16(Map<String, Tensor> m) {
        Map<String, Tensor> r = new LinkedHashMap<>();
        m.forEach((k, v) -> r.put(k, v.to(ScalarType.BFloat16)));
        return r;
    }

    static float bf16(float x) {
        return Tensors.toFloats(Tensors.fromFloats(new float[] {x}, 1).to(ScalarType.BFloat16))[0];
    }

    @Test
    void transformerStaysInBf16AndFollowsDiffusersBf16Timestep() {
        String name = "qwen_tiny_3";   // zero_cond_t: the 2B-row timestep path too
        QwenImageConfig cfg = QwenImageConfig.fromJson(QwenGolden.text(name + ".config.json"));
        QwenImageTransformer m = new QwenImageTransformer(cfg, bf16(QwenGolden.read(name + ".weights.safetensors")));
        Map<String, Tensor> io = QwenGolden.read(name + ".io.safetensors");
        List<ImageShape> shapes = QwenGolden.imgShapes(io);
        Map<String, Tensor> seen = new LinkedHashMap<>();
        Tensor hs = io.get("in/hidden_states").to(ScalarType.BFloat16), ehs = io.get("in/encoder_hidden_states").to(ScalarType.BFloat16);
        try (NoGradGuard g = new NoGradGuard()) {
            Tensor out = m.forward(hs, ehs, io.get("in/encoder_hidden_states_mask"), io.get("in/timestep"), shapes, null, seen::put);
            assertEquals(ScalarType.BFloat16, out.scalar_type().intern());
            assertTrue(Double.isFinite(QwenGolden.maxAbs(out)));
        }
        seen.forEach((k, v) -> assertEquals(ScalarType.BFloat16, v.scalar_type().intern(), k + " dtype"));

        // diffusers in bf16: t -> bf16; f_k = exp(-ln(1e4) k / 128) in f32 -> bf16; a = 1000 * (t * f) in f32; [cos, sin] -> bf16
        float[] t = Tensors.toFloats(io.get("in/timestep"));
        int b = t.length;
        float[] expect = new float[2 * b * 256];
        for (int r = 0; r < 2 * b; r++) {
            float tb = r < b ? bf16(t[r]) : 0f;                      // zero_cond_t: rows B..2B-1 at t = 0
            for (int k = 0; k < 128; k++) {
                float f = bf16((float) Math.exp((float) (-Math.log(10000.0) * k) / 128f));
                float a = (tb * f) * 1000f;
                expect[r * 256 + k] = bf16((float) Math.cos(a));
                expect[r * 256 + 128 + k] = bf16((float) Math.sin(a));
            }
        }
        QwenGolden.close(name + " bf16 time_proj = diffusers' bf16 sinusoid", Tensors.fromFloats(expect, 2 * b, 256),
                seen.get("time_proj").to(ScalarType.Float), BF16_EPS);
        for (String k : new String[] {"img_in", "txt_norm", "txt_in"}) {
            Tensor gold = io.get("inter/" + k);
            QwenGolden.close(name + " bf16 " + k + " vs f32 golden (bound 4 bf16 eps x max|golden|)", gold,
                    seen.get(k).to(ScalarType.Float), 4 * BF16_EPS * QwenGolden.maxAbs(gold));
        }

        // LoRA backward in bf16: finite bf16 gradients on every target that reaches the output
        ParamStore lp = new ParamStore();
        io.forEach((k, v) -> {
            if (k.startsWith("lora/") && k.endsWith(".weight")) lp.put(k.substring(5), v.to(ScalarType.BFloat16).detach().clone());
        });
        lp.requireGrad(true);
        Tensor loss = m.forward(hs, ehs, io.get("in/encoder_hidden_states_mask"), io.get("in/timestep"), shapes,
                LoraAdapter.of(4, 8, lp)).narrow(1, 0, shapes.get(0).tokens())
                .mul(io.get("lora/loss_weight").to(ScalarType.BFloat16)).sum();
        loss.backward();
        Tensor ga = lp.get("transformer_blocks.0.attn.to_q.lora_A.weight").grad();
        assertEquals(ScalarType.BFloat16, ga.scalar_type().intern());
        double gmax = QwenGolden.maxAbs(ga);
        assertTrue(Double.isFinite(gmax) && gmax > 0, "bf16 LoRA gradient " + gmax);
    }

    @Test
    void ropeInBf16IsTheF32RotationRounded() {
        QwenRope rope = new QwenRope(new int[] {8, 4, 4});
        List<ImageShape> shapes = List.of(ImageShape.of(4, 6), ImageShape.of(3, 5));
        Tensor[] cs = rope.jointTables(shapes, 7, Tensors.cpu());
        Tensor x = QwenLatentPackingTest.random(3, 2, 7 + 24 + 15, 3, 16).mul(new org.bytedeco.pytorch.Scalar(4.0)).to(ScalarType.BFloat16);
        Tensor ref = QwenRope.apply(x.to(ScalarType.Float), cs[0], cs[1]);
        Tensor got = QwenRope.apply(x, cs[0], cs[1]);
        assertEquals(ScalarType.BFloat16, got.scalar_type().intern());
        QwenGolden.close("bf16 RoPE = f32 rotation rounded to bf16 (half an ulp)", ref, got.to(ScalarType.Float),
                BF16_EPS * QwenGolden.maxAbs(ref));
    }

    @Test
    void vaeInBf16StaysNearTheF32RunOfTheSameWeights() {
        String name = "vae_tiny_2";
        QwenImageVaeConfig cfg = QwenImageVaeConfig.fromJson(QwenGolden.text(name + ".config.json"));
        Map<String, Tensor> wb = bf16(QwenGolden.read(name + ".weights.safetensors"));
        Map<String, Tensor> wr = new LinkedHashMap<>();
        wb.forEach((k, v) -> wr.put(k, v.to(ScalarType.Float)));
        AutoencoderKLQwenImage vb = new AutoencoderKLQwenImage(cfg, wb), vr = new AutoencoderKLQwenImage(cfg, wr);
        Map<String, Tensor> io = QwenGolden.read(name + ".io.safetensors");
        try (NoGradGuard g = new NoGradGuard()) {
            Tensor z = io.get("in/z").to(ScalarType.BFloat16), x = io.get("in/x").to(ScalarType.BFloat16);
            Map<String, Tensor> sb = new LinkedHashMap<>(), sr = new LinkedHashMap<>();
            Tensor db = vb.decode(z, sb::put), dr = vr.decode(z.to(ScalarType.Float), sr::put);
            Tensor mb = vb.encode(x).mean(), mr = vr.encode(x.to(ScalarType.Float)).mean();
            assertEquals(ScalarType.BFloat16, db.scalar_type().intern());
            assertEquals(ScalarType.BFloat16, mb.scalar_type().intern());
            // smoke bound: bf16 activations cost no more than 4x what storing the weights in bf16 costs
            double wd = QwenGolden.maxAbs(sr.get("decoder").sub(io.get("inter/dec/decoder")));
            QwenGolden.close(name + " bf16 decoder (pre-clamp) vs f32 run, bound 4 x bf16-weight effect " + String.format("%.3g", wd),
                    sr.get("decoder"), sb.get("decoder").to(ScalarType.Float), 4 * wd);
            double we = QwenGolden.maxAbs(mr.sub(io.get("out/encode_mean")));
            QwenGolden.close(name + " bf16 encode mean vs f32 run, bound 4 x bf16-weight effect " + String.format("%.3g", we),
                    mr, mb.to(ScalarType.Float), 4 * we);
        }
    }
}
